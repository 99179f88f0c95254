package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/protocol/schema"
)

const testToken = "test-token-123"

type harness struct {
	t   *testing.T
	srv *Server
	url string
}

// newHarness starts a gateway on a random loopback port with a token,
// the generated-schema validator and a few test methods.
func newHarness(t *testing.T, mod func(*Options), setup func(*Server)) *harness {
	t.Helper()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Auth: AuthOptions{Mode: AuthToken, Token: testToken, ExemptLoopback: true}, Validator: v}
	if mod != nil {
		mod(&opt)
	}
	s := New(opt)
	s.Register(Method{Name: "health", Role: RoleAny, Handler: func(ctx context.Context, c *Call) (any, error) {
		return map[string]any{"ok": true}, nil
	}})
	s.Register(Method{Name: "status", Scope: protocol.ScopeRead, Handler: func(ctx context.Context, c *Call) (any, error) {
		return map[string]any{"runtimeVersion": "test"}, nil
	}})
	if setup != nil {
		setup(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx, "test done", 0)
	})
	return &harness{t: t, srv: s, url: "ws://" + ln.Addr().String()}
}

// on rebinds the harness to a subtest so failures stop the right goroutine.
func (h *harness) on(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

type wsc struct {
	t *testing.T
	c *websocket.Conn
}

type frame struct {
	Type         string                 `json:"type"`
	ID           string                 `json:"id"`
	OK           bool                   `json:"ok"`
	Payload      json.RawMessage        `json:"payload"`
	Error        *protocol.ErrorShape   `json:"error"`
	Event        string                 `json:"event"`
	Seq          *int64                 `json:"seq"`
	StateVersion *protocol.StateVersion `json:"stateVersion"`
	raw          []byte
}

func (h *harness) dial(header http.Header) *wsc {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, h.url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(64 << 20)
	h.t.Cleanup(func() { _ = c.CloseNow() })
	return &wsc{t: h.t, c: c}
}

func (w *wsc) send(v any) {
	w.t.Helper()
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			w.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// read returns the next frame, or the close error.
func (w *wsc) read(d time.Duration) (*frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	f := &frame{raw: b}
	if err := json.Unmarshal(b, f); err != nil {
		w.t.Fatalf("bad frame %s: %v", b, err)
	}
	return f, nil
}

func (w *wsc) next() *frame {
	w.t.Helper()
	f, err := w.read(5 * time.Second)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return f
}

// nextNonTick skips tick/health/presence noise until a frame matching pred.
func (w *wsc) until(pred func(*frame) bool) *frame {
	w.t.Helper()
	for i := 0; i < 200; i++ {
		f := w.next()
		if pred(f) {
			return f
		}
	}
	w.t.Fatal("frame not seen")
	return nil
}

func (w *wsc) res(id string) *frame {
	w.t.Helper()
	return w.until(func(f *frame) bool { return f.Type == "res" && f.ID == id })
}

// expectClose reads until the socket closes and checks code and reason.
func (w *wsc) expectClose(code websocket.StatusCode, reason string) {
	w.t.Helper()
	for i := 0; i < 100; i++ {
		_, err := w.read(20 * time.Second)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			w.t.Fatalf("expected close %d %q, got %v", code, reason, err)
		}
		if ce.Code != code || (reason != "*" && ce.Reason != reason) {
			w.t.Fatalf("close = %d %q, want %d %q", ce.Code, ce.Reason, code, reason)
		}
		return
	}
	w.t.Fatal("no close")
}

func (w *wsc) challenge() protocol.ChallengeEvent {
	w.t.Helper()
	f := w.next()
	if f.Type != "event" || f.Event != "connect.challenge" || f.Seq != nil {
		w.t.Fatalf("first frame not a seq-less challenge: %s", f.raw)
	}
	var ch protocol.ChallengeEvent
	if err := json.Unmarshal(f.Payload, &ch); err != nil || ch.Nonce == "" || ch.Ts <= 0 {
		w.t.Fatalf("bad challenge %s", f.raw)
	}
	return ch
}

func connectParams(id, mode, token string, scopes ...string) map[string]any {
	if scopes == nil {
		scopes = []string{}
	}
	p := map[string]any{
		"minProtocol": 4, "maxProtocol": 4,
		"client": map[string]any{"id": id, "version": "2026.9.6", "platform": "linux", "deviceFamily": "Linux", "mode": mode, "instanceId": "inst-" + id + "-" + mode},
		"caps":   []string{}, "role": "operator", "scopes": scopes,
	}
	if token != "" {
		p["auth"] = map[string]any{"token": token}
	}
	return p
}

func req(id, method string, params any) map[string]any {
	m := map[string]any{"type": "req", "id": id, "method": method}
	if params != nil {
		m["params"] = params
	}
	return m
}

// connect performs the handshake and returns the socket and hello-ok.
func (h *harness) connect(params map[string]any, header http.Header) (*wsc, *protocol.HelloOk) {
	h.t.Helper()
	w := h.dial(header)
	w.challenge()
	w.send(req("1:c", "connect", params))
	f := w.res("1:c")
	if !f.OK {
		h.t.Fatalf("connect failed: %s", f.raw)
	}
	var hello protocol.HelloOk
	if err := json.Unmarshal(f.Payload, &hello); err != nil {
		h.t.Fatal(err)
	}
	return w, &hello
}

func (h *harness) cli(scopes ...string) (*wsc, *protocol.HelloOk) {
	return h.connect(connectParams("cli", "cli", testToken, scopes...), nil)
}

func errCode(f *frame) (string, string) {
	if f.Error == nil {
		return "", ""
	}
	e := f.Error.AsError()
	return e.Code, e.DetailCode()
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}
