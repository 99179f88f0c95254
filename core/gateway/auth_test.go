package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pincerhq/pincer/core/protocol"
)

func connectExpectError(t *testing.T, h *harness, p map[string]any, header http.Header) *frame {
	t.Helper()
	w := h.dial(header)
	w.challenge()
	w.send(req("c1", "connect", p))
	f := w.res("c1")
	if f.OK {
		t.Fatalf("connect unexpectedly succeeded: %s", f.raw)
	}
	w.expectClose(websocket.StatusPolicyViolation, truncateReason(f.Error.Message))
	return f
}

func details(t *testing.T, f *frame) map[string]any {
	t.Helper()
	m, _ := f.Error.AsError().Details.(map[string]any)
	if m == nil {
		t.Fatalf("no details: %s", f.raw)
	}
	return m
}

func TestTokenAuth(t *testing.T) {
	h := newHarness(t, nil, nil)
	t.Run("wrong token", func(t *testing.T) {
		h := h.on(t)
		f := connectExpectError(t, h, connectParams("cli", "cli", "nope"), nil)
		if f.Error.Message != "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)" {
			t.Fatalf("message %q", f.Error.Message)
		}
		d := details(t, f)
		if d["code"] != "AUTH_TOKEN_MISMATCH" || d["authReason"] != "token_mismatch" || d["canRetryWithDeviceToken"] != false || d["recommendedNextStep"] != "update_auth_credentials" {
			t.Fatalf("details %v", d)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		h := h.on(t)
		f := connectExpectError(t, h, connectParams("cli", "cli", ""), nil)
		if code, d := errCode(f); code != "NOT_PAIRED" || d != "DEVICE_IDENTITY_REQUIRED" || f.Error.Message != "device identity required" {
			t.Fatalf("got %s", f.raw)
		}
	})
	t.Run("password field carries the token", func(t *testing.T) {
		h := h.on(t)
		p := connectParams("cli", "cli", "", "operator.read")
		p["auth"] = map[string]any{"password": testToken}
		_, hello := h.connect(p, nil)
		if hello.Auth.Method != "token" {
			t.Fatalf("method %q", hello.Auth.Method)
		}
	})
	t.Run("backend client wording", func(t *testing.T) {
		h := h.on(t)
		f := connectExpectError(t, h, connectParams("gateway-client", "backend", "nope"), nil)
		if f.Error.Message != "unauthorized: gateway token mismatch (provide gateway auth token)" {
			t.Fatalf("message %q", f.Error.Message)
		}
	})
}

func TestPasswordAuth(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Auth = AuthOptions{Mode: AuthPassword, Password: "s3cret", ExemptLoopback: true} }, nil)
	p := connectParams("cli", "cli", "", "operator.read")
	p["auth"] = map[string]any{"password": "s3cret"}
	_, hello := h.connect(p, nil)
	if hello.Auth.Method != "password" {
		t.Fatalf("method %q", hello.Auth.Method)
	}
	// The token field is compared with the password too.
	_, hello = h.connect(connectParams("cli", "cli", "s3cret", "operator.read"), nil)
	if hello.Auth.Method != "password" {
		t.Fatal("token field not accepted as password")
	}
	p["auth"] = map[string]any{"password": "wrong"}
	f := connectExpectError(t, h, p, nil)
	if d := details(t, f); d["code"] != "AUTH_PASSWORD_MISMATCH" {
		t.Fatalf("details %v", d)
	}
	if f.Error.Message != "unauthorized: gateway password mismatch (use this gateway's gateway.auth.password)" {
		t.Fatalf("message %q", f.Error.Message)
	}
}

func TestTokenNotConfigured(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Auth.Token = "" }, nil)
	f := connectExpectError(t, h, connectParams("cli", "cli", "anything"), nil)
	if d := details(t, f); d["code"] != "AUTH_TOKEN_NOT_CONFIGURED" {
		t.Fatalf("details %v", d)
	}
}

func TestAuthNone(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Auth = AuthOptions{Mode: AuthNone} }, nil)
	_, hello := h.connect(connectParams("gateway-client", "backend", "", "operator.read"), nil)
	if hello.Auth.Method != "none" || !slices.Equal(hello.Auth.Scopes, []string{"operator.read"}) {
		t.Fatalf("auth %+v", hello.Auth)
	}
	// Without a shared secret the CLI must bring a device identity.
	f := connectExpectError(t, h, connectParams("cli", "cli", ""), nil)
	if code, _ := errCode(f); code != "NOT_PAIRED" {
		t.Fatalf("got %s", f.raw)
	}
}

func TestLoopbackFailuresAreDelayedNotLocked(t *testing.T) {
	h := newHarness(t, nil, nil)
	var last time.Duration
	for i := 1; i <= 3; i++ {
		start := time.Now()
		connectExpectError(t, h, connectParams("cli", "cli", "bad"), nil)
		took := time.Since(start)
		min := loopbackDelayBase << (i - 1)
		if took < min-50*time.Millisecond {
			t.Fatalf("failure %d answered after %v, want at least %v", i, took, min)
		}
		last = took
	}
	_ = last
	// No lockout on loopback: the right token still works.
	h.cli(protocol.ScopeRead)
}

func TestAuthLimiterSchedule(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newAuthLimiter(AuthOptions{MaxAttempts: 10, Window: time.Minute, Lockout: 5 * time.Minute, ExemptLoopback: true})
	l.now = func() time.Time { return now }
	want := []time.Duration{250, 500, 1000, 2000, 4000, 5000, 5000, 5000}
	for i, w := range want {
		if d := l.failure("127.0.0.1"); d != w*time.Millisecond {
			t.Fatalf("loopback failure %d delayed %v, want %v", i+1, d, w*time.Millisecond)
		}
		if ok, _ := l.check("127.0.0.1"); !ok {
			t.Fatal("loopback locked out")
		}
	}
	l.reset("127.0.0.1") // a successful auth
	if d := l.failure("127.0.0.1"); d != 250*time.Millisecond {
		t.Fatalf("after success the delay restarts at 250ms, got %v", d)
	}
	// Failures older than the window no longer count.
	now = now.Add(2 * time.Minute)
	if d := l.failure("127.0.0.1"); d != 250*time.Millisecond {
		t.Fatalf("stale failures counted: %v", d)
	}

	for i := 0; i < 9; i++ {
		if d := l.failure("203.0.113.1"); d != 0 {
			t.Fatal("remote failures are not delayed")
		}
		if ok, _ := l.check("203.0.113.1"); !ok {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	l.failure("203.0.113.1")
	ok, retry := l.check("203.0.113.1")
	if ok || retry != 5*time.Minute {
		t.Fatalf("10th failure: ok=%v retry=%v", ok, retry)
	}
	now = now.Add(5*time.Minute + time.Second)
	if ok, _ := l.check("203.0.113.1"); !ok {
		t.Fatal("lockout did not expire")
	}
}

func TestRemoteLockout(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.TrustedProxies = []string{"127.0.0.1", "::1"} }, nil)
	hdr := http.Header{"X-Forwarded-For": {"203.0.113.9"}}
	for i := 0; i < 10; i++ {
		f := connectExpectError(t, h, connectParams("cli", "cli", "bad"), hdr)
		if d := details(t, f); d["code"] != "AUTH_TOKEN_MISMATCH" {
			t.Fatalf("attempt %d: %v", i, d)
		}
	}
	f := connectExpectError(t, h, connectParams("cli", "cli", testToken), hdr)
	d := details(t, f)
	if d["code"] != "AUTH_RATE_LIMITED" || d["recommendedNextStep"] != "wait_then_retry" || f.Error.Retryable == nil || !*f.Error.Retryable {
		t.Fatalf("locked-out attempt: %s", f.raw)
	}
	if f.Error.RetryAfterMs == nil || *f.Error.RetryAfterMs < 290_000 || *f.Error.RetryAfterMs > 300_000 {
		t.Fatalf("retryAfterMs = %v", f.Error.RetryAfterMs)
	}
	if f.Error.Message != "unauthorized: too many failed authentication attempts (retry later)" {
		t.Fatalf("message %q", f.Error.Message)
	}
	// Another client IP is unaffected, and the remote CLI keeps no scopes
	// without a device (it is not local).
	_, hello := h.connect(connectParams("cli", "cli", testToken, "operator.read"), http.Header{"X-Forwarded-For": {"203.0.113.10"}})
	if len(hello.Auth.Scopes) != 0 {
		t.Fatalf("remote device-less CLI kept scopes %v", hello.Auth.Scopes)
	}
}

func TestProxyHeadersWithoutTrustedProxies(t *testing.T) {
	h := newHarness(t, nil, nil)
	for _, hdr := range []string{"X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Host"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, resp, err := websocket.Dial(ctx, h.url, &websocket.DialOptions{HTTPHeader: http.Header{hdr: {"198.51.100.7"}}})
		cancel()
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: want 403, got %v %v", hdr, resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		var b struct {
			Error struct{ Message, Type string } `json:"error"`
		}
		if json.Unmarshal(body, &b) != nil || b.Error.Type != "proxy_attribution_required" {
			t.Fatalf("%s: body %s", hdr, body)
		}
	}
}

func TestDeviceLessRules(t *testing.T) {
	h := newHarness(t, nil, nil)
	want := []string{"operator.read", "operator.write"}
	cases := []struct {
		id, mode string
		keep     bool
	}{
		{"cli", "cli", true},
		{"gateway-client", "backend", true},
		{"openclaw-macos", "ui", false},
		{"test", "test", false},
		{"cli", "probe", false},
		{"gateway-client", "cli", false},
	}
	for _, c := range cases {
		_, hello := h.connect(connectParams(c.id, c.mode, testToken, want...), nil)
		got := hello.Auth.Scopes
		if c.keep && !slices.Equal(got, want) || !c.keep && len(got) != 0 {
			t.Fatalf("%s/%s: scopes %v", c.id, c.mode, got)
		}
	}
	t.Run("control ui without origin", func(t *testing.T) {
		h := h.on(t)
		f := connectExpectError(t, h, connectParams("openclaw-control-ui", "webchat", testToken), nil)
		if d := details(t, f); d["code"] != "CONTROL_UI_ORIGIN_NOT_ALLOWED" {
			t.Fatalf("details %v", d)
		}
	})
	t.Run("control ui from a loopback origin without device", func(t *testing.T) {
		h := h.on(t)
		f := connectExpectError(t, h, connectParams("openclaw-control-ui", "webchat", testToken), http.Header{"Origin": {"http://127.0.0.1:18789"}})
		if d := details(t, f); d["code"] != "CONTROL_UI_DEVICE_IDENTITY_REQUIRED" {
			t.Fatalf("details %v", d)
		}
		if f.Error.Message != "control ui requires device identity (use HTTPS or localhost secure context)" {
			t.Fatalf("message %q", f.Error.Message)
		}
	})
	t.Run("tui", func(t *testing.T) {
		h := h.on(t)
		f := connectExpectError(t, h, connectParams("openclaw-tui", "ui", testToken), nil)
		if d := details(t, f); d["code"] != "CONTROL_UI_DEVICE_IDENTITY_REQUIRED" {
			t.Fatalf("details %v", d)
		}
	})
	t.Run("cross-site origin", func(t *testing.T) {
		h := h.on(t)
		f := connectExpectError(t, h, connectParams("openclaw-control-ui", "webchat", testToken), http.Header{"Origin": {"https://evil.example"}})
		if d := details(t, f); d["code"] != "CONTROL_UI_ORIGIN_NOT_ALLOWED" {
			t.Fatalf("details %v", d)
		}
	})
	t.Run("cross-site origin claiming to be the cli", func(t *testing.T) {
		// A page of another site that names itself cli (with a valid
		// token, even) is refused before it could queue a pairing request.
		h := h.on(t)
		f := connectExpectError(t, h, connectParams("cli", "cli", testToken), http.Header{"Origin": {"https://evil.example"}})
		if d := details(t, f); d["code"] != "CONTROL_UI_ORIGIN_NOT_ALLOWED" {
			t.Fatalf("details %v", d)
		}
	})
	t.Run("node without device", func(t *testing.T) {
		h := h.on(t)
		p := connectParams("node-host", "node", testToken)
		p["role"] = "node"
		f := connectExpectError(t, h, p, nil)
		if code, d := errCode(f); code != "NOT_PAIRED" || d != "DEVICE_IDENTITY_REQUIRED" {
			t.Fatalf("got %s", f.raw)
		}
	})
	t.Run("scope header caps granted scopes", func(t *testing.T) {
		h := h.on(t)
		_, hello := h.connect(connectParams("cli", "cli", testToken, "operator.admin", "operator.read"), http.Header{"X-OpenClaw-Scopes": {"operator.read"}})
		if !slices.Equal(hello.Auth.Scopes, []string{"operator.read"}) {
			t.Fatalf("scopes %v", hello.Auth.Scopes)
		}
	})
	t.Run("unknown scopes are ignored", func(t *testing.T) {
		h := h.on(t)
		_, hello := h.connect(connectParams("cli", "cli", testToken, "operator.read", "operator.bogus"), nil)
		if !slices.Equal(hello.Auth.Scopes, []string{"operator.read"}) {
			t.Fatalf("scopes %v", hello.Auth.Scopes)
		}
	})
}

func TestCloseReasonTruncation(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := truncateReason(long)
	if len(got) > 123 || !strings.HasPrefix(long, got) {
		t.Fatalf("bad truncation %d", len(got))
	}
}
