package agent_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// The primary model refuses (HTTP 400): the run fails over to the fallback.
func TestFailoverToTheFallbackModel(t *testing.T) {
	bad, good := fakeModel(t), fakeModel(t)
	bad.SetStatus(400)
	cfg := fmt.Sprintf(`{models: {providers: {
  bad: {baseUrl: %q, apiKey: "k", api: "openai-completions", models: [{id: "m1"}]},
  good: {baseUrl: %q, apiKey: "k", api: "openai-completions", models: [{id: "m2"}]}}},
  agents: {defaults: {model: {primary: "bad/m1", fallbacks: ["good/m2"]}}}}`, bad.URL, good.URL)
	g := daemontest.Start(t, daemon.Options{}, cfg)
	c := g.Dial(t, protocol.ScopeWrite)
	raw, err := callFinal(c, "agent", map[string]any{"message": "hello", "idempotencyKey": "fo-1"})
	if err != nil {
		t.Fatal(err)
	}
	if bad.Calls() != 1 || good.Calls() != 1 || !strings.Contains(string(raw), `"provider":"good"`) {
		t.Fatalf("calls bad=%d good=%d, final %s", bad.Calls(), good.Calls(), raw)
	}
}
