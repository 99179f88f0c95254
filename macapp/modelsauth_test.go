package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// A key stored with `pincer models auth` reaches the provider.
func TestModelsAuthKeyReachesTheProvider(t *testing.T) {
	m, err := agenttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := strings.Replace(m.Config(), `apiKey: "test", `, "", 1)
	g := daemontest.Start(t, daemon.Options{}, cfg)
	t.Setenv("FAKE_API_KEY", "")
	r := runCLIWithStdin(t, "sk-stored-key\n", "models", "auth", "fake", "--stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "Stored FAKE_API_KEY") {
		t.Fatalf("models auth = %+v", r)
	}
	c := g.Dial(t, protocol.ScopeWrite)
	var res any
	daemontest.Call(t, c, "chat.send", map[string]any{"sessionKey": "main", "message": "hi", "idempotencyKey": "auth-1"}, &res)
	if !waitFor(func() bool { return len(m.Requests()) > 0 }) {
		t.Fatal("the model was not called")
	}
	if got := m.Authorization(); got != "Bearer sk-stored-key" {
		t.Fatalf("Authorization = %q", got)
	}
	if r := runCLI(t, "models", "auth", "fake", "--remove"); r.code != 0 {
		t.Fatalf("remove = %+v", r)
	}
	if r := runCLIWithStdin(t, "\n", "models", "auth", "fake", "--stdin"); r.code != exitUsage {
		t.Fatalf("empty key = %+v", r)
	}
}

func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
