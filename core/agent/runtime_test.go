package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

func fakeModel(t *testing.T) *agenttest.Model {
	t.Helper()
	m, err := agenttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// recorder keeps the agent/chat events one connection receives.
type recorder struct {
	mu     sync.Mutex
	events []protocol.EventFrame
	ch     chan struct{}
}

func (r *recorder) on(ev protocol.EventFrame) {
	if ev.Event != "agent" && ev.Event != "chat" && ev.Event != "sessions.changed" {
		return
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// waitFor waits for an event matching f.
func (r *recorder) waitFor(t *testing.T, what string, f func(event string, p map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		r.mu.Lock()
		for _, ev := range r.events {
			var p map[string]any
			_ = json.Unmarshal(ev.Payload, &p)
			if f(ev.Event, p) {
				r.mu.Unlock()
				return p
			}
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("no %s event", what)
		}
	}
}

func (r *recorder) runEvents(runID string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, ev := range r.events {
		var p map[string]any
		_ = json.Unmarshal(ev.Payload, &p)
		if p["runId"] == runID {
			p["_event"] = ev.Event
			out = append(out, p)
		}
	}
	return out
}

func dialRec(t *testing.T, g *daemontest.Gateway, scopes ...string) (*client.Client, *recorder) {
	rec := &recorder{ch: make(chan struct{}, 256)}
	opt := g.Options(scopes...)
	opt.OnEvent = rec.on
	return g.DialWith(t, opt), rec
}

func callFinal(c *client.Client, method string, params any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.CallRaw(ctx, method, params, client.CallOptions{ExpectFinal: true})
}

func TestAgentRunOverTheWire(t *testing.T) {
	m := fakeModel(t)
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	c, rec := dialRec(t, g, protocol.ScopeWrite)

	// agents.list first, like the official CLI.
	var agents map[string]any
	daemontest.Call(t, c, "agents.list", map[string]any{}, &agents)
	if agents["defaultId"] != "main" || len(agents["agents"].([]any)) != 1 {
		t.Fatalf("agents.list = %v", agents)
	}

	raw, err := callFinal(c, "agent", map[string]any{"message": "hi there", "agentId": "main", "deliver": false, "timeout": 600, "idempotencyKey": "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	var final struct {
		RunID, Status, Summary string
		Result                 struct {
			Payloads []struct{ Text string }
			Meta     struct {
				AgentMeta struct {
					Provider, Model string
					Usage           map[string]any
				}
			}
		}
	}
	_ = json.Unmarshal(raw, &final)
	if final.RunID != "run-1" || final.Status != "ok" || len(final.Result.Payloads) != 1 ||
		final.Result.Payloads[0].Text != "Hello from fake model. Echo: hi there" || final.Result.Meta.AgentMeta.Provider != "fake" {
		t.Fatalf("final = %s", raw)
	}
	// The event stream of the run.
	rec.waitFor(t, "chat final", func(ev string, p map[string]any) bool {
		return ev == "chat" && p["state"] == "final" && p["runId"] == "run-1"
	})
	evs := rec.runEvents("run-1")
	var lastSeq float64
	var sawStart, sawDelta, sawEnd, sawAssistant bool
	for _, p := range evs {
		seq, _ := p["seq"].(float64)
		if seq <= lastSeq {
			t.Fatalf("run seq not increasing: %v", evs)
		}
		lastSeq = seq
		data, _ := p["data"].(map[string]any)
		switch {
		case p["_event"] == "agent" && p["stream"] == "lifecycle" && data["phase"] == "start":
			sawStart = true
		case p["_event"] == "agent" && p["stream"] == "lifecycle" && data["phase"] == "end":
			sawEnd = true
		case p["_event"] == "agent" && p["stream"] == "assistant":
			sawAssistant = true
		case p["_event"] == "chat" && p["state"] == "delta":
			if p["deltaText"] == "" {
				t.Fatalf("chat delta without deltaText: %v", p)
			}
			sawDelta = true
		}
	}
	if !sawStart || !sawDelta || !sawEnd || !sawAssistant {
		t.Fatalf("events: start=%v delta=%v assistant=%v end=%v\n%v", sawStart, sawDelta, sawAssistant, sawEnd, evs)
	}

	// A repeated key replays the final without a new model call.
	calls := m.Calls()
	raw2, err := callFinal(c, "agent", map[string]any{"message": "hi there", "idempotencyKey": "run-1"})
	if err != nil || string(raw2) != string(raw) || m.Calls() != calls {
		t.Fatalf("replay: %s (%v), calls %d → %d", raw2, err, calls, m.Calls())
	}

	// agent.wait on a finished run.
	var wait map[string]any
	daemontest.Call(t, c, "agent.wait", map[string]any{"runId": "run-1", "timeoutMs": 1000}, &wait)
	if wait["status"] != "ok" {
		t.Fatalf("agent.wait = %v", wait)
	}
	var unknown map[string]any
	daemontest.Call(t, c, "agent.wait", map[string]any{"runId": "nope", "timeoutMs": 10}, &unknown)
	if unknown["status"] != "timeout" {
		t.Fatalf("agent.wait unknown = %v", unknown)
	}

	// chat.send answers at once and streams.
	var started map[string]any
	daemontest.Call(t, c, "chat.send", map[string]any{"sessionKey": "agent:main:main", "message": "second message", "idempotencyKey": "chat-1"}, &started)
	if started["runId"] != "chat-1" || started["status"] != "started" {
		t.Fatalf("chat.send = %v", started)
	}
	fin := rec.waitFor(t, "chat final", func(ev string, p map[string]any) bool {
		return ev == "chat" && p["state"] == "final" && p["runId"] == "chat-1"
	})
	if !strings.Contains(mustJSON(fin["message"]), "Echo: second message") {
		t.Fatalf("chat final = %v", fin)
	}

	// History shows the four turns in the display shape.
	var hist struct {
		SessionKey    string
		SessionID     string
		Messages      []map[string]any
		TotalMessages int
		HasMore       bool
	}
	daemontest.Call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:main"}, &hist)
	if hist.SessionKey != "agent:main:main" || hist.TotalMessages != 4 || len(hist.Messages) != 4 || hist.SessionID == "" {
		t.Fatalf("history = %+v", hist)
	}
	if hist.Messages[0]["role"] != "user" || hist.Messages[0]["content"] != "hi there" || hist.Messages[0]["idempotencyKey"] != "run-1:user" {
		t.Fatalf("user turn = %v", hist.Messages[0])
	}
	if hist.Messages[1]["role"] != "assistant" || hist.Messages[1]["provider"] != "fake" || hist.Messages[1]["model"] != "fake-1" {
		t.Fatalf("assistant turn = %v", hist.Messages[1])
	}
	// The model saw the whole conversation on the second call.
	reqs := m.Requests()
	last := reqs[len(reqs)-1]
	if n := len(last["messages"].([]any)); n < 3 {
		t.Fatalf("second call sent %d messages", n)
	}
	var page struct {
		Messages []map[string]any
		HasMore  bool
		Cursor   string
	}
	daemontest.Call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:main", "limit": 2}, &page)
	if len(page.Messages) != 2 || !page.HasMore || page.Cursor == "" {
		t.Fatalf("page 1 = %+v", page)
	}
	daemontest.Call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:main", "limit": 2, "cursor": page.Cursor}, &page)
	if len(page.Messages) != 2 || page.HasMore || page.Messages[0]["content"] != "hi there" {
		t.Fatalf("page 2 = %+v", page)
	}
}

func TestRunWithoutModelFailsClearly(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, `{}`)
	t.Setenv("OLLAMA_HOST", "127.0.0.1:1")
	c := g.Dial(t, protocol.ScopeWrite)
	raw, err := callFinal(c, "agent", map[string]any{"message": "hi", "idempotencyKey": "nomodel"})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnavailable || !strings.Contains(pe.Message, "agents.defaults.model.primary") {
		t.Fatalf("no model: %v", err)
	}
	var p map[string]any
	_ = json.Unmarshal(raw, &p)
	if p["status"] != "error" || p["runId"] != "nomodel" {
		t.Fatalf("payload with the error = %s", raw)
	}
}

func TestAbortAndSessions(t *testing.T) {
	m := fakeModel(t)
	m.SetChunkDelay(200 * time.Millisecond)
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	admin, rec := dialRec(t, g, protocol.CLIDefaultScopes...)
	daemontest.Call(t, admin, "sessions.subscribe", map[string]any{}, nil)
	var started map[string]any
	daemontest.Call(t, admin, "chat.send", map[string]any{"sessionKey": "work", "message": "a long answer please", "idempotencyKey": "slow-1"}, &started)
	rec.waitFor(t, "first delta", func(ev string, p map[string]any) bool {
		return ev == "chat" && p["state"] == "delta" && p["runId"] == "slow-1"
	})
	var ab map[string]any
	daemontest.Call(t, admin, "chat.abort", map[string]any{"sessionKey": "work"}, &ab)
	if ab["aborted"] != true || len(ab["runIds"].([]any)) != 1 {
		t.Fatalf("chat.abort = %v", ab)
	}
	rec.waitFor(t, "chat aborted", func(ev string, p map[string]any) bool {
		return ev == "chat" && p["state"] == "aborted" && p["runId"] == "slow-1"
	})
	rec.waitFor(t, "sessions.changed", func(ev string, p map[string]any) bool {
		return ev == "sessions.changed" && p["sessionKey"] == "agent:main:work"
	})
	var list struct {
		Sessions []map[string]any
		Count    int
	}
	daemontest.Call(t, admin, "sessions.list", map[string]any{}, &list)
	if list.Count != 1 || list.Sessions[0]["key"] != "agent:main:work" {
		t.Fatalf("sessions.list = %+v", list)
	}
	var reset map[string]any
	daemontest.Call(t, admin, "sessions.reset", map[string]any{"key": "agent:main:work"}, &reset)
	var hist struct{ Messages []any }
	daemontest.Call(t, admin, "chat.history", map[string]any{"sessionKey": "agent:main:work"}, &hist)
	if len(hist.Messages) != 0 {
		t.Fatalf("history after reset = %v", hist.Messages)
	}
	var x any
	if err := admin.Call(context.Background(), "sessions.delete", map[string]any{"key": "agent:main:main"}, &x); err == nil ||
		!strings.Contains(err.Error(), "Cannot delete the main session") {
		t.Fatalf("deleting main: %v", err)
	}
	var del map[string]any
	daemontest.Call(t, admin, "sessions.delete", map[string]any{"key": "agent:main:work"}, &del)
	if del["deleted"] != true {
		t.Fatalf("sessions.delete = %v", del)
	}
	var inj map[string]any
	daemontest.Call(t, admin, "chat.inject", map[string]any{"sessionKey": "agent:main:main", "message": "a note", "label": "ops"}, &inj)
	daemontest.Call(t, admin, "chat.history", map[string]any{"sessionKey": "agent:main:main"}, &hist)
	if len(hist.Messages) != 1 {
		t.Fatalf("history after inject = %v", hist.Messages)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHeartbeatWakesTheMainAgent(t *testing.T) {
	m := fakeModel(t)
	reply := "HEARTBEAT_OK"
	var mu sync.Mutex
	m.SetReply(func(string) string { mu.Lock(); defer mu.Unlock(); return reply })
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	beat := func() map[string]any {
		t.Helper()
		var before map[string]any
		daemontest.Call(t, admin, "last-heartbeat", nil, &before)
		daemontest.Call(t, admin, "wake", map[string]any{"mode": "now", "text": "disk almost full"}, nil)
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var last map[string]any
			daemontest.Call(t, admin, "last-heartbeat", nil, &last)
			if last != nil && mustJSON(last) != mustJSON(before) && last["status"] != nil {
				return last
			}
		}
		t.Fatal("no heartbeat recorded")
		return nil
	}
	if hb := beat(); hb["status"] != "ok-token" {
		t.Fatalf("acknowledged heartbeat = %v", hb)
	}
	// The prompt carried the queued system event; the transcript stays clean.
	reqs := m.Requests()
	lastReq := reqs[len(reqs)-1]
	if !strings.Contains(mustJSON(lastReq["messages"]), "disk almost full") {
		t.Fatalf("heartbeat prompt lacks the system event: %v", lastReq["messages"])
	}
	var hist struct{ Messages []any }
	daemontest.Call(t, admin, "chat.history", map[string]any{"sessionKey": "agent:main:main"}, &hist)
	if len(hist.Messages) != 0 {
		t.Fatalf("suppressed heartbeat left %d messages", len(hist.Messages))
	}
	mu.Lock()
	reply = "Your disk is almost full: clean up ~/Downloads."
	mu.Unlock()
	if hb := beat(); hb["status"] != "sent" || !strings.Contains(hb["preview"].(string), "disk is almost full") {
		t.Fatalf("alert heartbeat = %v", hb)
	}
	daemontest.Call(t, admin, "chat.history", map[string]any{"sessionKey": "agent:main:main"}, &hist)
	if len(hist.Messages) != 1 {
		t.Fatalf("alert not in the transcript: %v", hist.Messages)
	}
}

func fakeModelB(b *testing.B) *agenttest.Model {
	b.Helper()
	m, err := agenttest.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

type clientT struct{ c *client.Client }
