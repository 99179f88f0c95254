package agent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

func finalOf(t *testing.T, rec *recorder, runID string) map[string]any {
	t.Helper()
	return rec.waitFor(t, "end of "+runID, func(ev string, p map[string]any) bool {
		return ev == "chat" && p["runId"] == runID && (p["state"] == "final" || p["state"] == "aborted" || p["state"] == "error")
	})
}

func TestQueueModes(t *testing.T) {
	m := fakeModel(t)
	m.SetChunkDelay(40 * time.Millisecond)
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	c, rec := dialRec(t, g, protocol.CLIDefaultScopes...)
	send := func(key, msg, id, mode string) {
		t.Helper()
		p := map[string]any{"sessionKey": key, "message": msg, "idempotencyKey": id}
		if mode != "" {
			p["queueMode"] = mode
		}
		daemontest.Call(t, c, "chat.send", p, nil)
	}
	waitDelta := func(id string) {
		rec.waitFor(t, "delta of "+id, func(ev string, p map[string]any) bool {
			return ev == "chat" && p["state"] == "delta" && p["runId"] == id
		})
	}

	t.Run("followup runs after the active run", func(t *testing.T) {
		send("q1", "first", "f1", "")
		waitDelta("f1")
		send("q1", "second", "f2", "followup")
		a, b := finalOf(t, rec, "f1"), finalOf(t, rec, "f2")
		if a["state"] != "final" || b["state"] != "final" || !strings.Contains(mustJSON(b["message"]), "Echo: second") {
			t.Fatalf("followup: %v / %v", a, b)
		}
		if as, bs := eventIndex(rec, "f1", "final"), eventIndex(rec, "f2", "final"); as > bs {
			t.Fatal("the follow-up finished before the run it followed")
		}
	})
	t.Run("interrupt aborts the active run", func(t *testing.T) {
		send("q2", "long one", "i1", "")
		waitDelta("i1")
		send("q2", "urgent", "i2", "interrupt")
		if p := finalOf(t, rec, "i1"); p["state"] != "aborted" {
			t.Fatalf("interrupted run = %v", p)
		}
		if p := finalOf(t, rec, "i2"); p["state"] != "final" {
			t.Fatalf("interrupting run = %v", p)
		}
	})
	t.Run("steer folds the message into the active run", func(t *testing.T) {
		send("q3", "start", "s1", "")
		waitDelta("s1")
		send("q3", "also this", "s2", "steer")
		p1, p2 := finalOf(t, rec, "s1"), finalOf(t, rec, "s2")
		if p1["state"] != "final" || !strings.Contains(mustJSON(p1["message"]), "Echo: also this") {
			t.Fatalf("steered run = %v", p1)
		}
		_ = p2
	})
	t.Run("collect merges queued messages", func(t *testing.T) {
		m.ResetRequests()
		send("q4", "begin", "c1", "")
		waitDelta("c1")
		send("q4", "one", "c2", "collect")
		send("q4", "two", "c3", "collect")
		finalOf(t, rec, "c1")
		finalOf(t, rec, "c2")
		finalOf(t, rec, "c3")
		// c2 and c3 ran as one run: one more model call after c1's,
		// which saw both messages.
		var hist struct{ Messages []map[string]any }
		daemontest.Call(t, c, "chat.history", map[string]any{"sessionKey": "q4"}, &hist)
		users := 0
		for _, msg := range hist.Messages {
			if msg["role"] == "user" {
				users++
			}
		}
		if users != 3 {
			t.Fatalf("%d user turns: %v", users, hist.Messages)
		}
		reqs := m.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d model calls, want 2 (c1, then c2+c3 together)", len(reqs))
		}
		if last := mustJSON(reqs[1]["messages"]); !strings.Contains(last, "one") || !strings.Contains(last, "two") {
			t.Fatalf("the collected call lacks a message: %s", last)
		}
	})
}

// eventIndex is the position of a run's chat event in state.
func eventIndex(rec *recorder, runID, state string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, ev := range rec.events {
		if strings.Contains(string(ev.Payload), `"runId":"`+runID+`"`) && strings.Contains(string(ev.Payload), `"state":"`+state+`"`) {
			return i
		}
	}
	return -1
}

func TestRunTimeout(t *testing.T) {
	m := fakeModel(t)
	m.SetChunkDelay(300 * time.Millisecond)
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	c, rec := dialRec(t, g, protocol.ScopeWrite, protocol.ScopeRead)
	daemontest.Call(t, c, "chat.send", map[string]any{"sessionKey": "slow", "message": "take your time", "idempotencyKey": "t1", "timeoutMs": 500}, nil)
	p := finalOf(t, rec, "t1")
	if p["state"] != "error" || p["errorKind"] != "timeout" {
		t.Fatalf("timed-out run = %v", p)
	}
	var w map[string]any
	daemontest.Call(t, c, "agent.wait", map[string]any{"runId": "t1", "timeoutMs": 1000}, &w)
	if w["status"] != "timeout" {
		t.Fatalf("agent.wait = %v", w)
	}
}
