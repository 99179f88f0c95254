package agent_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// A small context window forces compaction: the model is asked for a
// summary, later calls carry the summary instead of the old turns, and the
// transcript keeps everything.
func TestCompactionBeforeTheWindowOverflows(t *testing.T) {
	m := fakeModel(t)
	m.SetReply(func(last string) string {
		if strings.Contains(last, "Summarise the conversation") {
			return "SUMMARY: the user counted to ten."
		}
		return "ok " + strings.Repeat("x", 200)
	})
	cfg := strings.Replace(m.Config(), "contextWindow: 128000", "contextWindow: 600", 1)
	g := daemontest.Start(t, daemon.Options{}, cfg)
	c := g.Dial(t, protocol.ScopeWrite, protocol.ScopeRead)
	for i := 1; i <= 10; i++ {
		if _, err := callFinal(c, "agent", map[string]any{"message": fmt.Sprintf("number %d %s", i, strings.Repeat("y", 200)),
			"idempotencyKey": fmt.Sprintf("n%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := m.Requests()
	summarised := false
	for _, r := range reqs {
		if strings.Contains(mustJSON(r["messages"]), "Summarise the conversation") {
			summarised = true
		}
	}
	if !summarised {
		t.Fatal("no compaction call was made")
	}
	last := mustJSON(reqs[len(reqs)-1]["messages"])
	if !strings.Contains(last, "SUMMARY: the user counted to ten.") || strings.Contains(last, "number 1 ") {
		t.Fatalf("the last call did not use the summary: %s", last)
	}
	var hist struct{ TotalMessages int }
	daemontest.Call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:main", "limit": 1000}, &hist)
	if hist.TotalMessages < 20 {
		t.Fatalf("transcript lost turns: %d messages", hist.TotalMessages)
	}
}
