package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pincerhq/pincer/core/protocol"
)

func dispatchHarness(t *testing.T, calls *atomic.Int64) *harness {
	return newHarness(t, nil, func(s *Server) {
		s.Register(Method{Name: "logs.tail", Scope: protocol.ScopeRead, Handler: func(ctx context.Context, c *Call) (any, error) {
			return map[string]any{"ok": true}, nil
		}})
		s.Register(Method{Name: "write.thing", Scope: protocol.ScopeWrite, Handler: func(ctx context.Context, c *Call) (any, error) {
			return "written", nil
		}})
		s.Register(Method{Name: "admin.thing", Scope: protocol.ScopeAdmin, Handler: func(ctx context.Context, c *Call) (any, error) {
			return "admin", nil
		}})
		s.Register(Method{Name: "pairing.thing", Scope: protocol.ScopePairing, Handler: func(ctx context.Context, c *Call) (any, error) {
			return "paired", nil
		}})
		s.Register(Method{Name: "node.event", Role: RoleNode, Handler: func(ctx context.Context, c *Call) (any, error) {
			return "node", nil
		}})
		s.Register(Method{Name: "sleep", Scope: protocol.ScopeRead, Handler: func(ctx context.Context, c *Call) (any, error) {
			var p struct{ Ms int }
			_ = json.Unmarshal(c.Params, &p)
			time.Sleep(time.Duration(p.Ms) * time.Millisecond)
			return p.Ms, nil
		}})
		s.Register(Method{Name: "boom", Scope: protocol.ScopeRead, Handler: func(ctx context.Context, c *Call) (any, error) {
			panic("kaboom")
		}})
		s.Register(Method{Name: "side", Scope: protocol.ScopeWrite, Idempotent: true, Handler: func(ctx context.Context, c *Call) (any, error) {
			n := calls.Add(1)
			time.Sleep(100 * time.Millisecond)
			return map[string]any{"run": n}, nil
		}})
		s.Register(Method{Name: "twophase", Scope: protocol.ScopeWrite, Handler: func(ctx context.Context, c *Call) (any, error) {
			c.Ack(map[string]any{"status": "accepted", "runId": "r1"})
			time.Sleep(50 * time.Millisecond)
			return map[string]any{"status": "ok", "runId": "r1"}, nil
		}})
		s.Register(Method{Name: "dyn", Dynamic: func(p json.RawMessage) string {
			var x struct{ Admin bool }
			_ = json.Unmarshal(p, &x)
			if x.Admin {
				return protocol.ScopeAdmin
			}
			return protocol.ScopeWrite
		}, Handler: func(ctx context.Context, c *Call) (any, error) { return "dyn", nil }})
	})
}

func TestDispatchErrors(t *testing.T) {
	var calls atomic.Int64
	h := dispatchHarness(t, &calls)
	w, _ := h.cli(protocol.ScopeRead)

	w.send(req("u", "no.such.method", nil))
	if f := w.res("u"); f.Error == nil || f.Error.Code != "INVALID_REQUEST" || f.Error.Message != "unknown method: no.such.method" {
		t.Fatalf("got %s", f.raw)
	}
	w.send(req("s", "write.thing", nil))
	f := w.res("s")
	if f.Error == nil || f.Error.Code != "FORBIDDEN" || f.Error.Message != "missing scope: operator.write" {
		t.Fatalf("got %s", f.raw)
	}
	d := details(t, f)
	if d["code"] != "MISSING_SCOPE" || d["missingScope"] != "operator.write" || fmt.Sprint(d["requiredScopes"]) != "[operator.write]" {
		t.Fatalf("details %v", d)
	}
	w.send(req("v", "logs.tail", map[string]any{"limit": 0}))
	if f := w.res("v"); f.Error == nil || f.Error.Message != "invalid logs.tail params: at /limit: must be >= 1" {
		t.Fatalf("got %s", f.raw)
	}
	w.send(`{"type":"req","id":"e1","method":"status","extra":1}`)
	if f := w.res("e1"); f.Error == nil || f.Error.Message != "invalid request frame: at root: unexpected property 'extra'" {
		t.Fatalf("got %s", f.raw)
	}
	w.send(`{"type":"req","method":"status"}`)
	if f := w.res("invalid"); f.Error == nil || f.Error.Message != "invalid request frame: must have required property 'id'" {
		t.Fatalf("got %s", f.raw)
	}
	// Non-JSON after hello is ignored; the connection keeps working.
	w.send("garbage{")
	w.send(req("after", "status", nil))
	if f := w.res("after"); !f.OK {
		t.Fatalf("got %s", f.raw)
	}
	// A panicking handler answers UNAVAILABLE and leaves the gateway up.
	w.send(req("p", "boom", nil))
	if f := w.res("p"); f.Error == nil || f.Error.Code != "UNAVAILABLE" {
		t.Fatalf("got %s", f.raw)
	}
	w.send(req("ok", "status", nil))
	if f := w.res("ok"); !f.OK {
		t.Fatal("connection broken after panic")
	}
	// params omitted are treated as {}
	w.send(`{"type":"req","id":"np","method":"status"}`)
	if f := w.res("np"); !f.OK {
		t.Fatalf("got %s", f.raw)
	}
}

func TestScopeImplication(t *testing.T) {
	var calls atomic.Int64
	h := dispatchHarness(t, &calls)
	cases := []struct {
		granted []string
		method  string
		ok      bool
	}{
		{[]string{"operator.write"}, "status", true},
		{[]string{"operator.write"}, "write.thing", true},
		{[]string{"operator.write"}, "admin.thing", false},
		{[]string{"operator.write"}, "pairing.thing", false},
		{[]string{"operator.admin"}, "pairing.thing", true},
		{[]string{"operator.admin"}, "write.thing", true},
		{[]string{"operator.pairing"}, "pairing.thing", true},
		{[]string{"operator.pairing"}, "status", false},
		{[]string{"operator.read"}, "health", true},
		{[]string{}, "health", true},
		{[]string{"operator.write"}, "dyn", true},
	}
	for i, c := range cases {
		w, _ := h.cli(c.granted...)
		id := fmt.Sprint(i)
		w.send(req(id, c.method, nil))
		if f := w.res(id); f.OK != c.ok {
			t.Fatalf("%v calling %s: %s", c.granted, c.method, f.raw)
		}
	}
	w, _ := h.cli("operator.write")
	w.send(req("d", "dyn", map[string]any{"admin": true}))
	if f := w.res("d"); f.Error == nil || f.Error.Message != "missing scope: operator.admin" {
		t.Fatalf("dynamic scope: %s", f.raw)
	}
}

func TestRoleGating(t *testing.T) {
	var calls atomic.Int64
	h := dispatchHarness(t, &calls)
	w, _ := h.cli(protocol.ScopeAdmin)
	for i := 0; i <= maxRoleErrors; i++ {
		id := fmt.Sprint("n", i)
		w.send(req(id, "node.event", map[string]any{}))
		if f := w.res(id); f.Error == nil || f.Error.Message != "unauthorized role: operator" {
			t.Fatalf("got %s", f.raw)
		}
	}
	w.expectClose(websocket.StatusPolicyViolation, "repeated unauthorized calls")
}

func TestConcurrentRequestsOutOfOrder(t *testing.T) {
	var calls atomic.Int64
	h := dispatchHarness(t, &calls)
	w, _ := h.cli(protocol.ScopeRead)
	w.send(req("slow", "sleep", map[string]any{"ms": 300}))
	w.send(req("fast", "sleep", map[string]any{"ms": 1}))
	first := w.until(func(f *frame) bool { return f.Type == "res" })
	if first.ID != "fast" {
		t.Fatalf("responses serialized: first was %s", first.ID)
	}
	w.res("slow")
}

func TestIdempotency(t *testing.T) {
	var calls atomic.Int64
	h := dispatchHarness(t, &calls)
	a, _ := h.cli(protocol.ScopeWrite)
	b, _ := h.cli(protocol.ScopeWrite)
	a.send(req("1", "side", map[string]any{"idempotencyKey": "k1"}))
	time.Sleep(20 * time.Millisecond)
	b.send(req("2", "side", map[string]any{"idempotencyKey": "k1"})) // while in flight: waits
	fa, fb := a.res("1"), b.res("2")
	if string(fa.Payload) != string(fb.Payload) || calls.Load() != 1 {
		t.Fatalf("in-flight repeat ran again: %s %s calls=%d", fa.Payload, fb.Payload, calls.Load())
	}
	a.send(req("3", "side", map[string]any{"idempotencyKey": "k1"}))
	if f := a.res("3"); string(f.Payload) != string(fa.Payload) || calls.Load() != 1 {
		t.Fatalf("replay ran again: %s calls=%d", f.Payload, calls.Load())
	}
	a.send(req("4", "side", map[string]any{"idempotencyKey": "k2"}))
	a.res("4")
	if calls.Load() != 2 {
		t.Fatalf("distinct key did not run: %d", calls.Load())
	}
	a.send(req("5", "side", map[string]any{}))
	a.res("5")
	if calls.Load() != 3 {
		t.Fatal("keyless call did not run")
	}
}

func TestDedupeCacheBounds(t *testing.T) {
	d := newDedupeCache(50*time.Millisecond, 3)
	var running []*dedupeEntry
	for i := 0; i < 5; i++ {
		e, _ := d.begin(fmt.Sprint(i))
		if i < 2 {
			running = append(running, e) // never finished: must survive eviction
			continue
		}
		d.finish(e, json.RawMessage(`1`), nil)
	}
	if d.size() != 3 {
		t.Fatalf("size %d", d.size())
	}
	for _, e := range running {
		if _, repeat := d.begin(e.key); !repeat {
			t.Fatal("running entry evicted")
		}
	}
	time.Sleep(80 * time.Millisecond)
	d.sweep()
	if d.size() != 2 {
		t.Fatalf("after TTL sweep size %d (running entries stay)", d.size())
	}
}

func TestTwoPhase(t *testing.T) {
	var calls atomic.Int64
	h := dispatchHarness(t, &calls)
	w, _ := h.cli(protocol.ScopeWrite)
	w.send(req("t", "twophase", nil))
	a, b := w.res("t"), w.res("t")
	if !a.OK || !b.OK || string(a.Payload) == string(b.Payload) {
		t.Fatalf("two-phase frames: %s / %s", a.raw, b.raw)
	}
	mustContain(t, string(a.Payload), `"accepted"`)
	mustContain(t, string(b.Payload), `"ok"`)
}
