package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pincerhq/pincer/core/protocol"
)

func TestChallengeOnAnyPath(t *testing.T) {
	h := newHarness(t, nil, nil)
	base := h.url
	for _, path := range []string{"", "/", "/foo", "/ws"} {
		h.url = base + path
		w := h.dial(nil)
		ch := w.challenge()
		if len(ch.Nonce) != 36 {
			t.Fatalf("nonce %q is not a uuid", ch.Nonce)
		}
	}
	h.url = base
	a, b := h.dial(nil).challenge(), h.dial(nil).challenge()
	if a.Nonce == b.Nonce {
		t.Fatal("nonce reused across sockets")
	}
}

func TestHelloOkShape(t *testing.T) {
	h := newHarness(t, nil, nil)
	w, _ := h.cli(protocol.ScopeRead)
	_ = w
	ws := h.dial(nil)
	ws.challenge()
	ws.send(req("1:x", "connect", connectParams("cli", "cli", testToken, "operator.read")))
	f := ws.res("1:x")
	var raw map[string]any
	if err := json.Unmarshal(f.Payload, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "protocol", "server", "features", "snapshot", "auth", "policy"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("hello-ok lacks %q: %s", k, f.raw)
		}
	}
	var hello protocol.HelloOk
	_ = json.Unmarshal(f.Payload, &hello)
	if hello.Type != "hello-ok" || hello.Protocol != 4 || hello.Server.ConnID == "" || hello.Server.Version == "" {
		t.Fatalf("bad hello: %s", f.raw)
	}
	if !slices.Equal(hello.Features.Methods, []string{"health", "status"}) {
		t.Fatalf("features.methods = %v, want exactly the registered non-hidden methods", hello.Features.Methods)
	}
	if slices.Contains(hello.Features.Methods, "connect") {
		t.Fatal("hidden method advertised")
	}
	for _, ev := range []string{"connect.challenge", "presence", "tick", "shutdown", "health"} {
		if !slices.Contains(hello.Features.Events, ev) {
			t.Fatalf("features.events lacks %s", ev)
		}
	}
	if hello.Policy.MaxPayload != 26214400 || hello.Policy.MaxBufferedBytes != 52428800 || hello.Policy.TickIntervalMs != 30000 {
		t.Fatalf("policy = %+v", hello.Policy)
	}
	if hello.Auth.Role != "operator" || !slices.Equal(hello.Auth.Scopes, []string{"operator.read"}) || hello.Auth.Method != "token" {
		t.Fatalf("auth = %+v", hello.Auth)
	}
	snap := raw["snapshot"].(map[string]any)
	for _, k := range []string{"presence", "health", "stateVersion", "uptimeMs"} {
		if _, ok := snap[k]; !ok {
			t.Fatalf("snapshot lacks %s", k)
		}
	}
	if len(hello.Snapshot.Presence) == 0 || hello.Snapshot.Presence[0].Reason != "self" || hello.Snapshot.Presence[0].Mode != "gateway" {
		t.Fatalf("presence must start with the gateway self entry: %+v", hello.Snapshot.Presence)
	}
}

func TestFirstFrameRules(t *testing.T) {
	h := newHarness(t, nil, nil)

	t.Run("non-JSON closes 1000 without res", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		w.send("this is not json")
		w.expectClose(websocket.StatusNormalClosure, "")
	})
	t.Run("JSON that is not a request closes 1008 without res", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		w.send(`{"type":"req","id":"1"}`)
		_, err := w.read(5 * time.Second)
		var ce websocket.CloseError
		if err == nil || !asClose(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "invalid request frame" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("first request not connect", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		w.send(req("x", "health", nil))
		f := w.next()
		if f.Type != "res" || f.ID != "x" || f.OK || f.Error.Message != "invalid handshake: first request must be connect" || f.Error.Code != "INVALID_REQUEST" {
			t.Fatalf("got %s", f.raw)
		}
		w.expectClose(websocket.StatusPolicyViolation, "invalid handshake: first request must be connect")
	})
	t.Run("bad client id", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		p := connectParams("ios-node", "node", testToken)
		w.send(req("c1", "connect", p))
		f := w.res("c1")
		want := "invalid connect params: at /client/id: must be equal to one of the allowed values"
		if f.Error == nil || f.Error.Message != want {
			t.Fatalf("got %s", f.raw)
		}
		w.expectClose(websocket.StatusPolicyViolation, want)
	})
	t.Run("unknown connect field", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		p := connectParams("cli", "cli", testToken)
		p["foo"] = 1
		w.send(req("c1", "connect", p))
		f := w.res("c1")
		if f.Error == nil || f.Error.Message != "invalid connect params: at root: unexpected property 'foo'" {
			t.Fatalf("got %s", f.raw)
		}
		w.expectClose(websocket.StatusPolicyViolation, "*")
	})
	t.Run("protocol mismatch closes 1002", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		p := connectParams("cli", "cli", testToken)
		p["minProtocol"], p["maxProtocol"] = 5, 6
		w.send(req("c1", "connect", p))
		f := w.res("c1")
		code, detail := errCode(f)
		if code != "INVALID_REQUEST" || detail != "PROTOCOL_MISMATCH" || f.Error.Message != "protocol mismatch" {
			t.Fatalf("got %s", f.raw)
		}
		mustContain(t, string(f.raw), `"expectedProtocol":4`)
		w.expectClose(websocket.StatusProtocolError, "protocol mismatch")
	})
	t.Run("probe may offer 3..4", func(t *testing.T) {
		h := h.on(t)
		p := connectParams("cli", "probe", testToken, "operator.read")
		p["minProtocol"], p["maxProtocol"] = 3, 4
		_, hello := h.connect(p, nil)
		if len(hello.Auth.Scopes) != 0 {
			t.Fatalf("device-less probe keeps no scopes, got %v", hello.Auth.Scopes)
		}
	})
	t.Run("non-probe 3..3 is refused", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		p := connectParams("cli", "cli", testToken)
		p["minProtocol"], p["maxProtocol"] = 3, 3
		w.send(req("c1", "connect", p))
		w.res("c1")
		w.expectClose(websocket.StatusProtocolError, "protocol mismatch")
	})
	t.Run("legacy node protocol 3 passes the window", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		p := connectParams("node-host", "node", testToken)
		p["minProtocol"], p["maxProtocol"], p["role"] = 3, 3, "node"
		w.send(req("c1", "connect", p))
		f := w.res("c1")
		if code, d := errCode(f); code != "NOT_PAIRED" || d != "DEVICE_IDENTITY_REQUIRED" {
			t.Fatalf("got %s", f.raw)
		}
		w.expectClose(websocket.StatusPolicyViolation, "device identity required")
	})
	t.Run("invalid role", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		p := connectParams("cli", "cli", testToken)
		p["role"] = "admin"
		w.send(req("c1", "connect", p))
		if f := w.res("c1"); f.Error == nil || f.Error.Message != "invalid role" {
			t.Fatalf("got %s", f.raw)
		}
		w.expectClose(websocket.StatusPolicyViolation, "invalid role")
	})
	t.Run("worker identity on the operator endpoint", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		p := connectParams("openclaw-worker", "worker", testToken)
		w.send(req("c1", "connect", p))
		w.expectClose(websocket.StatusPolicyViolation, "invalid-handshake")
	})
	t.Run("pre-auth frame over 64 KiB closes 1009", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		w.send(`{"type":"req","id":"1","method":"connect","params":{"pad":"` + strings.Repeat("x", 70*1024) + `"}}`)
		w.expectClose(websocket.StatusMessageTooBig, "")
	})
	t.Run("a 60 KiB pre-auth frame is read, not refused for size", func(t *testing.T) {
		h := h.on(t)
		w := h.dial(nil)
		w.challenge()
		w.send(`{"type":"req","id":"1","method":"health","params":{"pad":"` + strings.Repeat("x", 60*1024) + `"}}`)
		f := w.res("1")
		if f.Error == nil || f.Error.Message != "invalid handshake: first request must be connect" {
			t.Fatalf("got %s", f.raw)
		}
	})
	t.Run("second connect after hello", func(t *testing.T) {
		w, _ := h.cli(protocol.ScopeAdmin)
		w.send(req("2", "connect", connectParams("cli", "cli", testToken)))
		if f := w.res("2"); f.Error == nil || f.Error.Message != "connect is only valid as the first request" {
			t.Fatalf("got %s", f.raw)
		}
		r, _ := h.cli(protocol.ScopeRead)
		r.send(req("2", "connect", connectParams("cli", "cli", testToken)))
		if f := r.res("2"); f.Error == nil || f.Error.Message != "missing scope: operator.admin" {
			t.Fatalf("got %s", f.raw)
		}
	})
}

func asClose(err error, ce *websocket.CloseError) bool {
	c := websocket.CloseStatus(err)
	if c == -1 {
		return false
	}
	var x websocket.CloseError
	if ok := errorsAs(err, &x); ok {
		*ce = x
		return true
	}
	return false
}

func TestHandshakeTimeout(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.HandshakeTimeout = 300 * time.Millisecond }, nil)
	w := h.dial(nil)
	w.challenge()
	start := time.Now()
	w.expectClose(websocket.StatusNormalClosure, "")
	if time.Since(start) < 250*time.Millisecond {
		t.Fatal("closed before the handshake timeout")
	}
}

func TestTooManyPendingHandshakeFrames(t *testing.T) {
	h := newHarness(t, nil, nil)
	w := h.dial(nil)
	w.challenge()
	// A wrong token keeps connect in flight (the loopback failure delay),
	// so the following frames queue behind it.
	w.send(req("c1", "connect", connectParams("cli", "cli", "wrong")))
	for i := 0; i < protocol.MaxPendingHandshake+1; i++ {
		w.send(req("q", "health", nil))
	}
	w.expectClose(websocket.StatusPolicyViolation, "too many pending handshake frames")
}

func TestQueuedFramesRunAfterHello(t *testing.T) {
	h := newHarness(t, nil, nil)
	w := h.dial(nil)
	w.challenge()
	w.send(req("c1", "connect", connectParams("cli", "cli", testToken, "operator.read")))
	for i := 0; i < 5; i++ {
		w.send(req("q"+string(rune('0'+i)), "status", nil))
	}
	if f := w.res("c1"); !f.OK {
		t.Fatalf("connect: %s", f.raw)
	}
	seen := map[string]bool{}
	for len(seen) < 5 {
		f := w.until(func(f *frame) bool { return f.Type == "res" })
		if !f.OK {
			t.Fatalf("queued request failed: %s", f.raw)
		}
		seen[f.ID] = true
	}
}

var _ = http.Header{}

func TestPreauthSocketBudget(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxPreauthPerIP = 3 }, nil)
	var open []*wsc
	for i := 0; i < 3; i++ {
		w := h.dial(nil)
		w.challenge()
		open = append(open, w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, h.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("4th unauthenticated socket: %v %v", resp, err)
	}
	// Authenticating one frees its slot.
	open[0].send(req("c", "connect", connectParams("cli", "cli", testToken)))
	open[0].res("c")
	w := h.dial(nil)
	w.challenge()
}
