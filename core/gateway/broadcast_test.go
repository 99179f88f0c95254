package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pincerhq/pincer/core/protocol"
)

func TestSeqPerSocketAndGuards(t *testing.T) {
	h := newHarness(t, nil, func(s *Server) {
		s.RegisterEvent("approval.thing", EventGuard{AnyOf: []string{protocol.ScopeApprovals}})
		s.RegisterEvent("read.thing", EventGuard{AnyOf: []string{protocol.ScopeRead}})
	})
	reader, _ := h.cli(protocol.ScopeRead)
	approver, _ := h.cli(protocol.ScopeApprovals)
	ui, helloUI := h.connect(connectParams("openclaw-macos", "ui", testToken), nil) // device-less: no scopes
	if len(helloUI.Auth.Scopes) != 0 {
		t.Fatal("ui kept scopes")
	}
	// The macOS app's presence broadcast reached read-scoped sockets only.
	pres := reader.until(func(f *frame) bool { return f.Event == "presence" })
	if pres.StateVersion == nil || pres.Seq == nil || *pres.Seq != 1 {
		t.Fatalf("presence frame: %s", pres.raw)
	}
	if !strings.Contains(string(pres.Payload), `"openclaw-macos"`) {
		t.Fatalf("presence lacks the app: %s", pres.Payload)
	}
	if n := h.srv.Broadcast("unknown.event", map[string]any{}, BroadcastOptions{}); n != 0 {
		t.Fatalf("undeclared event delivered to %d", n)
	}
	h.srv.Broadcast("approval.thing", map[string]any{"n": 1}, BroadcastOptions{})
	h.srv.Broadcast("read.thing", map[string]any{"n": 2}, BroadcastOptions{})
	h.srv.Broadcast(protocol.EventTick, protocol.TickEvent{Ts: 1}, BroadcastOptions{})

	// reader: presence(1), read.thing(2), tick(3)
	expectEvents(t, reader, []string{"read.thing", "tick"}, 2)
	// approver: no presence (approvals does not imply read), approval.thing(1), tick(2)
	expectEvents(t, approver, []string{"approval.thing", "tick"}, 1)
	// scopeless ui: tick only, seq 1
	expectEvents(t, ui, []string{"tick"}, 1)

	// A targeted event carries no seq and does not consume one.
	for _, c := range h.srv.Conns() {
		if c.HasScope(protocol.ScopeRead) && c.Params().Client.ID == "cli" {
			c.SendEvent("read.thing", map[string]any{"targeted": true})
		}
	}
	f := reader.next()
	if f.Seq != nil {
		t.Fatalf("targeted event has seq: %s", f.raw)
	}
	reader.send(req("r", "status", nil))
	if r := reader.res("r"); strings.Contains(string(r.raw), `"seq"`) {
		t.Fatalf("res carries seq: %s", r.raw)
	}
	h.srv.Broadcast(protocol.EventTick, protocol.TickEvent{Ts: 2}, BroadcastOptions{})
	if f := reader.next(); f.Seq == nil || *f.Seq != 4 {
		t.Fatalf("seq after targeted/res: %s", f.raw)
	}
}

// expectEvents reads the named events and checks seq runs +1 from first.
func expectEvents(t *testing.T, w *wsc, names []string, firstSeq int64) {
	t.Helper()
	for i, n := range names {
		f := w.next()
		if f.Type != "event" || f.Event != n || f.Seq == nil || *f.Seq != firstSeq+int64(i) {
			t.Fatalf("want %s seq %d, got %s", n, firstSeq+int64(i), f.raw)
		}
	}
}

func TestTickAndHealthBroadcast(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.TickInterval = 100 * time.Millisecond }, nil)
	h.srv.SetHealthSource(func(ctx context.Context, probe bool) (any, error) {
		return map[string]any{"ok": true, "ts": time.Now().UnixMilli(), "probe": probe}, nil
	})
	w, hello := h.cli(protocol.ScopeRead)
	tick := w.until(func(f *frame) bool { return f.Event == "tick" })
	var te protocol.TickEvent
	if json.Unmarshal(tick.Payload, &te) != nil || te.Ts == 0 || tick.Seq == nil {
		t.Fatalf("tick %s", tick.raw)
	}
	if _, err := h.srv.RefreshHealth(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	hf := w.until(func(f *frame) bool { return f.Event == "health" })
	if hf.StateVersion == nil || hf.StateVersion.Health <= hello.Snapshot.StateVersion.Health {
		t.Fatalf("health stateVersion did not advance: %s", hf.raw)
	}
}

func TestPresenceLifecycle(t *testing.T) {
	h := newHarness(t, nil, nil)
	w, hello := h.cli(protocol.ScopeRead)
	v0 := hello.Snapshot.StateVersion.Presence
	// CLI, backend and probe connections are ephemeral: no presence.
	h.cli(protocol.ScopeRead)
	h.connect(connectParams("gateway-client", "backend", testToken, "operator.read"), nil)
	app, _ := h.connect(connectParams("openclaw-macos", "ui", testToken), nil)
	f := w.until(func(f *frame) bool { return f.Event == "presence" })
	if f.StateVersion.Presence != v0+1 {
		t.Fatalf("presence version %d, want %d (ephemeral clients must not bump it)", f.StateVersion.Presence, v0+1)
	}
	var pe protocol.PresenceEvent
	_ = json.Unmarshal(f.Payload, &pe)
	if len(pe.Presence) != 2 || pe.Presence[0].Reason != "self" || pe.Presence[1].Reason != "connect" || pe.Presence[1].ClientID != "openclaw-macos" {
		t.Fatalf("presence %s", f.Payload)
	}
	_ = app.c.Close(websocket.StatusNormalClosure, "")
	f = w.until(func(f *frame) bool { return f.Event == "presence" })
	_ = json.Unmarshal(f.Payload, &pe)
	if pe.Presence[1].Reason != "disconnect" {
		t.Fatalf("after disconnect: %s", f.Payload)
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxBufferedBytes = 256 << 10 }, func(s *Server) {
		s.RegisterEvent("big", EventGuard{AnyOf: []string{protocol.ScopeRead}})
	})
	slow, _ := h.cli(protocol.ScopeRead) // does not read until the gateway gives up on it
	payload := map[string]string{"blob": strings.Repeat("x", 64<<10)}
	closing := func() bool {
		for _, c := range h.srv.snapshotConns() {
			c.mu.Lock()
			cl := c.closing
			c.mu.Unlock()
			if cl {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for !closing() && time.Now().Before(deadline) {
		for i := 0; i < 50; i++ {
			h.srv.Broadcast("big", payload, BroadcastOptions{})
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Draining the socket lets the blocked write finish and the close
	// frame through.
	slow.expectClose(websocket.StatusPolicyViolation, "slow consumer")
}

func TestDropIfSlowKeepsConnectionAndLeavesGap(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxBufferedBytes = 256 << 10 }, func(s *Server) {
		s.RegisterEvent("big", EventGuard{AnyOf: []string{protocol.ScopeRead}})
	})
	slow, _ := h.cli(protocol.ScopeRead)
	payload := map[string]string{"blob": strings.Repeat("x", 64<<10)}
	for i := 0; i < 600; i++ {
		h.srv.Broadcast("big", payload, BroadcastOptions{DropIfSlow: true})
	}
	h.srv.Broadcast(protocol.EventTick, protocol.TickEvent{Ts: 1}, BroadcastOptions{})
	var last int64
	gap := false
	for {
		f, err := slow.read(10 * time.Second)
		if err != nil {
			t.Fatalf("connection closed: %v", err)
		}
		if f.Seq == nil {
			continue
		}
		if *f.Seq > last+1 {
			gap = true
		}
		if *f.Seq <= last {
			t.Fatalf("seq went backwards: %d after %d", *f.Seq, last)
		}
		last = *f.Seq
		if f.Event == "tick" {
			break
		}
	}
	if !gap || last != 601 {
		t.Fatalf("gap=%v last=%d: dropped events must still consume seq", gap, last)
	}
}

func TestPingKeepalive(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.PingInterval = 250 * time.Millisecond }, nil)
	// A reading client answers pings and stays.
	w, _ := h.cli(protocol.ScopeRead)
	go func() {
		for {
			if _, err := w.read(2 * time.Second); err != nil {
				return
			}
		}
	}()
	// A client that never reads cannot pong and is dropped.
	h.cli(protocol.ScopeRead)
	deadline := time.Now().Add(5 * time.Second)
	for h.srv.ConnCount() != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if h.srv.ConnCount() != 1 {
		t.Fatalf("connections = %d, want only the ponging one", h.srv.ConnCount())
	}
}

func TestGracefulShutdown(t *testing.T) {
	h := newHarness(t, nil, func(s *Server) {
		s.Register(Method{Name: "slow", Scope: protocol.ScopeRead, Handler: func(ctx context.Context, c *Call) (any, error) {
			time.Sleep(300 * time.Millisecond)
			return "done", nil
		}})
	})
	w, _ := h.cli(protocol.ScopeRead)
	w.send(req("s", "slow", nil))
	time.Sleep(50 * time.Millisecond)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx, "", 0)
	}()
	sd := w.until(func(f *frame) bool { return f.Event == "shutdown" })
	mustContain(t, string(sd.Payload), `"reason":"gateway stopping"`)
	// New requests are refused while draining; the in-flight one finishes.
	w.send(req("late", "status", nil))
	for seen := map[string]bool{}; len(seen) < 2; {
		f := w.until(func(f *frame) bool { return f.Type == "res" })
		seen[f.ID] = true
		switch {
		case f.ID == "late" && (f.Error == nil || f.Error.Code != "UNAVAILABLE"):
			t.Fatalf("request during shutdown: %s", f.raw)
		case f.ID == "s" && !f.OK:
			t.Fatalf("in-flight request not answered: %s", f.raw)
		}
	}
	w.expectClose(websocket.StatusServiceRestart, "service restart")
}

// The gateway frames data itself (RFC 6455 5.2): frames in each of the
// three length encodings reach a standard client intact, and a burst of
// broadcasts from concurrent shards arrives in seq order on every socket.
func TestFrameLengthsAndOrder(t *testing.T) {
	h := newHarness(t, nil, func(s *Server) {
		s.RegisterEvent("read.thing", EventGuard{AnyOf: []string{protocol.ScopeRead}})
		s.Register(Method{Name: "pad", Scope: protocol.ScopeRead, Handler: func(ctx context.Context, c *Call) (any, error) {
			var p struct{ N int }
			if err := json.Unmarshal(c.Params, &p); err != nil {
				return nil, err
			}
			return json.RawMessage(`"` + strings.Repeat("x", p.N) + `"`), nil
		}})
	})
	w, _ := h.cli(protocol.ScopeRead)
	for i, total := range []int{100, 125, 126, 127, 65535, 65536, 65537, 300000} {
		id := fmt.Sprint("p", i)
		empty := len(resFrame(id, true, json.RawMessage(`""`), nil))
		n := total - empty
		w.send(req(id, "pad", map[string]int{"n": n}))
		f := w.res(id)
		want := string(resFrame(id, true, json.RawMessage(`"`+strings.Repeat("x", n)+`"`), nil))
		if len(f.raw) != total || string(f.raw) != want {
			t.Fatalf("frame of %d bytes arrived as %d bytes", total, len(f.raw))
		}
	}

	others := make([]*wsc, 2*minShard) // enough sockets for several shards
	for i := range others {
		others[i], _ = h.cli(protocol.ScopeRead)
	}
	const burst = 50
	for i := 0; i < burst; i++ {
		h.srv.Broadcast("read.thing", map[string]int{"i": i}, BroadcastOptions{})
	}
	for _, c := range append(others, w) {
		var last int64
		for got := 0; got < burst; {
			f := c.next()
			if f.Seq == nil {
				continue
			}
			if last != 0 && *f.Seq != last+1 {
				t.Fatalf("seq %d after %d", *f.Seq, last)
			}
			last = *f.Seq
			if f.Event == "read.thing" {
				got++
			}
		}
	}
}
