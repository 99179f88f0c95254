package agent_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// A graceful stop interrupts a streaming run and records it (as a crash
// would be recorded after the restart) before the gateway returns, so
// nothing writes to the state database after it closes.
func TestGracefulStopRecordsInterruptedRun(t *testing.T) {
	m := fakeModel(t)
	m.SetChunkDelay(300 * time.Millisecond)
	state := t.TempDir()
	g := daemontest.StartIn(t, state, daemon.Options{}, m.Config())
	c := g.Dial(t, protocol.ScopeWrite, protocol.ScopeRead)
	var started map[string]any
	daemontest.Call(t, c, "chat.send", map[string]any{"sessionKey": "agent:main:main", "message": "tell me a long story",
		"idempotencyKey": "stop-1"}, &started)
	for deadline := time.Now().Add(10 * time.Second); m.Calls() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	begin := time.Now()
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 8*time.Second {
		t.Fatalf("stopping took %v", d)
	}
	m.SetChunkDelay(0)
	g2 := daemontest.StartIn(t, state, daemon.Options{}, m.Config())
	c2 := g2.Dial(t, protocol.ScopeWrite, protocol.ScopeRead)
	var res map[string]any
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c2.Call(ctx, "agent.wait", map[string]any{"runId": "stop-1", "timeoutMs": 1000}, &res); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(res); res["status"] != "error" {
		t.Fatalf("run after a graceful stop = %s", b)
	}
	var hist map[string]any
	daemontest.Call(t, c2, "chat.history", map[string]any{"sessionKey": "agent:main:main"}, &hist)
	if b, _ := json.Marshal(hist["messages"]); strings.Count(string(b), "tell me a long story") != 1 {
		t.Fatalf("transcript = %s", b)
	}
}
