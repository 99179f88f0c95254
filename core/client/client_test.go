package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/client/clienttest"
	"github.com/pincerhq/pincer/core/protocol"
)

func dial(t *testing.T, srv *clienttest.Server, opt client.Options) *client.Client {
	t.Helper()
	opt.URL = srv.URL
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, opt)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func waitDone(t *testing.T, ch <-chan struct{}, within time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("%s did not happen within %s", what, within)
	}
}

var idRe = regexp.MustCompile(`^(\d+):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// The connect frame must match what the official CLI sends
// (wire/cli-status-deep.log #3), key order included.
func TestConnectMatchesOfficialCLI(t *testing.T) {
	var healthFrame json.RawMessage
	var mu sync.Mutex
	srv := clienttest.NewServer(t, clienttest.Config{
		Token: "testtoken123",
		Methods: map[string]clienttest.Handler{
			"health": func(r *clienttest.Request) (any, error) {
				mu.Lock()
				healthFrame = r.Frame
				mu.Unlock()
				return map[string]any{"ok": true}, nil
			},
		},
	})
	c := dial(t, srv, client.Options{
		Token:  "testtoken123",
		Header: http.Header{"X-Forwarded-For": {"10.0.0.9"}},
	})

	cs := srv.Connects()
	if len(cs) != 1 {
		t.Fatalf("%d connects", len(cs))
	}
	got := cs[0]
	var frame struct {
		Type, ID, Method string
	}
	if err := json.Unmarshal(got.Frame, &frame); err != nil {
		t.Fatal(err)
	}
	m := idRe.FindStringSubmatch(frame.ID)
	if frame.Type != "req" || frame.Method != "connect" || m == nil || m[1] != "1" {
		t.Fatalf("connect frame %s", got.Frame)
	}
	wantFrameStart := `{"type":"req","id":"` + frame.ID + `","method":"connect","params":{`
	if string(got.Frame[:len(wantFrameStart)]) != wantFrameStart {
		t.Fatalf("frame %s", got.Frame)
	}

	inst := got.Parsed.Client.InstanceID
	if _, err := regexp.MatchString(`^[0-9a-f-]{36}$`, inst); err != nil || len(inst) != 36 {
		t.Fatalf("instanceId %q", inst)
	}
	platform, family := runtime.GOOS, map[string]string{"linux": "Linux", "darwin": "Mac"}[runtime.GOOS]
	// Captured from the official CLI on Linux:
	// {"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","mode":"cli","instanceId":"29c0…"},"caps":[],"auth":{"token":"testtoken123"},"role":"operator","scopes":["operator.read"]}
	want := `{"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"2026.9.6","platform":"` + platform + `",` +
		`"deviceFamily":"` + family + `","mode":"cli","instanceId":"` + inst + `"},"caps":[],"auth":{"token":"testtoken123"},"role":"operator","scopes":["operator.read"]}`
	if family == "" {
		t.Skipf("no official capture for GOOS %s", runtime.GOOS)
	}
	if string(got.Params) != want {
		t.Fatalf("connect params\n got %s\nwant %s", got.Params, want)
	}
	if got.Header.Get("X-Forwarded-For") != "10.0.0.9" {
		t.Fatalf("extra header not sent: %v", got.Header)
	}
	if ext := got.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("client offered compression: %q", ext)
	}

	// The next request is "2:<uuid>" and omits params when there are none.
	if err := c.Call(context.Background(), "health", nil, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var hf struct{ ID string }
	_ = json.Unmarshal(healthFrame, &hf)
	if m := idRe.FindStringSubmatch(hf.ID); m == nil || m[1] != "2" {
		t.Fatalf("second request id %q", hf.ID)
	}
	if string(healthFrame) != `{"type":"req","id":"`+hf.ID+`","method":"health"}` {
		t.Fatalf("health frame %s", healthFrame)
	}

	h := c.Hello()
	if h == nil || h.Type != "hello-ok" || h.Protocol != 4 || h.Auth.Method != "token" || h.Policy.MaxPayload != protocol.MaxPayloadBytes {
		t.Fatalf("hello %+v", h)
	}
}

func TestConnectOptionsAndHook(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{})
	var hookChallenge protocol.ChallengeEvent
	dial(t, srv, client.Options{
		ClientID: protocol.ClientGatewayClient, ClientMode: protocol.ModeBackend, DisplayName: "gateway:health",
		Password: "pw", Scopes: protocol.CLIDefaultScopes, Caps: []string{"tool-events"}, InstanceID: "inst-1",
		ConnectParamsHook: func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
			hookChallenge = ch
			p.Device = &protocol.DeviceProof{ID: "dev", PublicKey: "pk", Signature: "sig", SignedAt: ch.Ts, Nonce: ch.Nonce}
		},
	})
	p := srv.Connects()[0].Parsed
	if p.Client.ID != "gateway-client" || p.Client.Mode != "backend" || p.Client.DisplayName != "gateway:health" || p.Client.InstanceID != "inst-1" {
		t.Fatalf("client %+v", p.Client)
	}
	if p.Auth == nil || p.Auth.Token != nil || p.Auth.Password == nil || *p.Auth.Password != "pw" {
		t.Fatalf("auth %+v", p.Auth)
	}
	if fmt.Sprint(p.Scopes) != fmt.Sprint(protocol.CLIDefaultScopes) || fmt.Sprint(p.Caps) != "[tool-events]" {
		t.Fatalf("scopes %v caps %v", p.Scopes, p.Caps)
	}
	if hookChallenge.Nonce == "" || hookChallenge.Ts == 0 || p.Device == nil || p.Device.Nonce != hookChallenge.Nonce || p.Device.SignedAt != hookChallenge.Ts {
		t.Fatalf("hook: challenge %+v device %+v", hookChallenge, p.Device)
	}

	// No secret: auth is omitted entirely.
	srv2 := clienttest.NewServer(t, clienttest.Config{})
	dial(t, srv2, client.Options{})
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(srv2.Connects()[0].Params, &raw)
	if _, ok := raw["auth"]; ok {
		t.Fatalf("auth sent without a secret: %s", srv2.Connects()[0].Params)
	}
}

func TestChallengeRequired(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{NoChallenge: true})
	start := time.Now()
	_, err := client.Dial(context.Background(), client.Options{URL: srv.URL, ChallengeTimeout: 200 * time.Millisecond})
	var ce *client.CloseError
	if !errors.As(err, &ce) || ce.Code != 1008 || ce.Reason != "connect challenge timeout" {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 10*time.Second {
		t.Fatalf("gave up after %s", d)
	}
	if n := len(srv.Connects()); n != 0 {
		t.Fatalf("client sent connect without a challenge")
	}
	// The client closes with 1008 "connect challenge timeout".
	socks := srv.Sockets()
	if len(socks) != 1 {
		t.Fatalf("%d sockets", len(socks))
	}
	waitDone(t, socks[0].Done(), 3*time.Second, "server side close")
	if code, reason := socks[0].CloseStatus(); code != 1008 || reason != "connect challenge timeout" {
		t.Fatalf("server saw close %d %q", code, reason)
	}
}

func TestChallengeValidated(t *testing.T) {
	for name, payload := range map[string]any{
		"no nonce":  map[string]any{"ts": 1},
		"float ts":  map[string]any{"nonce": "n", "ts": 1.5},
		"string ts": map[string]any{"nonce": "n", "ts": "1"},
		"no ts":     map[string]any{"nonce": "n"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := clienttest.NewServer(t, clienttest.Config{Challenge: func() any { return payload }})
			_, err := client.Dial(context.Background(), client.Options{URL: srv.URL})
			if err == nil {
				t.Fatal("Dial succeeded")
			}
			if len(srv.Connects()) != 0 {
				t.Fatal("connect sent after an invalid challenge")
			}
		})
	}
}

func TestConcurrentCallsOutOfOrder(t *testing.T) {
	var order []int
	var mu sync.Mutex
	srv := clienttest.NewServer(t, clienttest.Config{Methods: map[string]clienttest.Handler{
		"echo": func(r *clienttest.Request) (any, error) {
			var p struct{ N, SleepMs int }
			_ = json.Unmarshal(r.Params, &p)
			time.Sleep(time.Duration(p.SleepMs) * time.Millisecond)
			mu.Lock()
			order = append(order, p.N)
			mu.Unlock()
			return map[string]int{"n": p.N}, nil
		},
	}})
	c := dial(t, srv, client.Options{})

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var out struct{ N int }
			// Earlier requests sleep longer, so responses come back reversed.
			if err := c.Call(context.Background(), "echo", map[string]int{"n": i, "sleepMs": 20 + (n-i)*15}, &out); err != nil {
				errs <- err
				return
			}
			if out.N != i {
				errs <- fmt.Errorf("request %d got response %d", i, out.N)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != n || order[0] == 0 {
		t.Fatalf("responses were not out of order: %v", order)
	}
}

func TestExpectFinal(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{Methods: map[string]clienttest.Handler{
		"agent": func(r *clienttest.Request) (any, error) {
			if err := r.Ack(map[string]any{"runId": "r1", "status": "accepted", "acceptedAt": 1}); err != nil {
				return nil, err
			}
			time.Sleep(50 * time.Millisecond)
			return map[string]any{"runId": "r1", "status": "ok", "summary": "completed"}, nil
		},
	}})
	c := dial(t, srv, client.Options{})

	var accepted []string
	raw, err := c.CallRaw(context.Background(), "agent", map[string]any{"message": "hi", "idempotencyKey": "r1"}, client.CallOptions{
		ExpectFinal: true,
		OnAccepted:  func(p json.RawMessage) { accepted = append(accepted, string(p)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var final struct{ Status string }
	_ = json.Unmarshal(raw, &final)
	if final.Status != "ok" || len(accepted) != 1 {
		t.Fatalf("final %s, accepted %v", raw, accepted)
	}

	// Without ExpectFinal the ack is the result.
	raw, err = c.CallRaw(context.Background(), "agent", map[string]any{"message": "hi", "idempotencyKey": "r2"}, client.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(raw, &final)
	if final.Status != "accepted" {
		t.Fatalf("got %s", raw)
	}
	// The late final for that id is ignored and the connection stays usable.
	time.Sleep(100 * time.Millisecond)
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}

func TestErrorResponse(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{Methods: map[string]clienttest.Handler{
		"config.set": func(r *clienttest.Request) (any, error) { return nil, protocol.MissingScope(protocol.ScopeAdmin) },
		"busy": func(r *clienttest.Request) (any, error) {
			return nil, protocol.Unavailable("The server is busy. Please try again in a moment.", 500)
		},
	}})
	c := dial(t, srv, client.Options{})

	err := c.Call(context.Background(), "config.set", map[string]any{}, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err %T %v", err, err)
	}
	d, ok := pe.Details.(map[string]any)
	if pe.Code != "FORBIDDEN" || pe.Message != "missing scope: operator.admin" || !ok || pe.DetailCode() != "MISSING_SCOPE" ||
		d["missingScope"] != "operator.admin" || fmt.Sprint(d["requiredScopes"]) != "[operator.admin]" {
		t.Fatalf("error %+v", pe)
	}

	err = c.Call(context.Background(), "busy", nil, nil)
	if !errors.As(err, &pe) || pe.Code != "UNAVAILABLE" || !pe.Retryable || pe.RetryAfterMs != 500 {
		t.Fatalf("err %+v", err)
	}

	err = c.Call(context.Background(), "nope", nil, nil)
	if !errors.As(err, &pe) || pe.Message != "unknown method: nope" {
		t.Fatalf("err %v", err)
	}
}

func TestConnectRejected(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{Token: "right"})
	_, err := client.Dial(context.Background(), client.Options{URL: srv.URL, Token: "wrong"})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != "INVALID_REQUEST" || pe.DetailCode() != "AUTH_TOKEN_MISMATCH" {
		t.Fatalf("err %T %v", err, err)
	}
	if d := pe.Details.(map[string]any); d["recommendedNextStep"] != "update_auth_credentials" {
		t.Fatalf("details %v", d)
	}
	if !client.IsFatalConnectError(err) {
		t.Fatal("token mismatch not fatal")
	}

	_, err = client.Dial(context.Background(), client.Options{URL: srv.URL})
	if !errors.As(err, &pe) || pe.DetailCode() != "AUTH_TOKEN_MISSING" {
		t.Fatalf("err %v", err)
	}

	_, err = client.Dial(context.Background(), client.Options{URL: srv.URL, Token: "right", MinProtocol: 5, MaxProtocol: 6})
	if !errors.As(err, &pe) || pe.DetailCode() != "PROTOCOL_MISMATCH" || !client.IsFatalConnectError(err) {
		t.Fatalf("err %v", err)
	}
	if client.IsFatalConnectError(protocol.Unavailable("gateway starting; retry shortly", 500)) {
		t.Fatal("UNAVAILABLE treated as fatal")
	}
}

func TestUpgradeRefused(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{RefuseUpgrade: func(int) int { return http.StatusServiceUnavailable }})
	_, err := client.Dial(context.Background(), client.Options{URL: srv.URL})
	var ue *client.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != 503 {
		t.Fatalf("err %T %v", err, err)
	}
}

func TestEventsSeqAndGap(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{OnHello: func(c *clienttest.Conn) {
		_ = c.Event("presence", map[string]any{"presence": []any{}}) // 1
		_ = c.Event("health", map[string]any{"ok": true})            // 2
		_ = c.EventSeq("voicewake.changed", map[string]any{}, 0)     // no seq
		_ = c.Event("tick", map[string]any{"ts": 1})                 // 3
		c.SkipSeq(2)                                                 // 4, 5 dropped
		_ = c.Event("tick", map[string]any{"ts": 2})                 // 6
	}})
	var mu sync.Mutex
	var events []string
	var gaps [][2]int64
	var helloFirst atomic.Bool
	gotAll := make(chan struct{})
	var hello *protocol.HelloOk
	dial(t, srv, client.Options{
		OnHello: func(h *protocol.HelloOk) { hello = h },
		OnEvent: func(ev protocol.EventFrame) {
			mu.Lock()
			defer mu.Unlock()
			if len(events) == 0 && hello != nil {
				helloFirst.Store(true)
			}
			seq := int64(0)
			if ev.Seq != nil {
				seq = *ev.Seq
			}
			events = append(events, fmt.Sprintf("%s#%d", ev.Event, seq))
			if len(events) == 5 {
				close(gotAll)
			}
		},
		OnGap: func(expected, received int64) {
			mu.Lock()
			gaps = append(gaps, [2]int64{expected, received})
			mu.Unlock()
		},
	})
	waitDone(t, gotAll, 2*time.Second, "event delivery")
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(events) != "[presence#1 health#2 voicewake.changed#0 tick#3 tick#6]" {
		t.Fatalf("events %v", events)
	}
	if len(gaps) != 1 || gaps[0] != [2]int64{4, 6} {
		t.Fatalf("gaps %v", gaps)
	}
	if !helloFirst.Load() {
		t.Fatal("OnHello did not run before the first event")
	}
}

func TestTickWatchdog(t *testing.T) {
	// tickIntervalMs 60 → watchdog 120ms, and the server sends nothing.
	srv := clienttest.NewServer(t, clienttest.Config{TickIntervalMs: 60})
	disconnected := make(chan error, 1)
	c := dial(t, srv, client.Options{OnDisconnect: func(err error) { disconnected <- err }})
	sc := srv.WaitConn(t, time.Second)
	start := time.Now()
	waitDone(t, c.Done(), 2*time.Second, "tick timeout")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("watchdog took %s", d)
	}
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != 4000 || ce.Reason != "tick timeout" {
		t.Fatalf("Err %v", c.Err())
	}
	if err := <-disconnected; err != c.Err() {
		t.Fatalf("OnDisconnect got %v", err)
	}
	waitDone(t, sc.Done(), 3*time.Second, "server side close")
	if code, reason := sc.CloseStatus(); code != 4000 || reason != "tick timeout" {
		t.Fatalf("server saw %d %q", code, reason)
	}
	if err := c.Call(context.Background(), "health", nil, nil); !errors.As(err, &ce) || ce.Code != 4000 {
		t.Fatalf("call after close: %v", err)
	}
}

func TestTicksKeepConnectionAlive(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{Tick: 20 * time.Millisecond})
	c := dial(t, srv, client.Options{TickWatchdog: time.Second})
	select {
	case <-c.Done():
		t.Fatalf("closed despite ticks: %v", c.Err())
	case <-time.After(1500 * time.Millisecond):
	}
	if c.LastSeq() < 5 {
		t.Fatalf("LastSeq %d", c.LastSeq())
	}
}

func TestPendingCallsFailOnDrop(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := clienttest.NewServer(t, clienttest.Config{Methods: map[string]clienttest.Handler{
		"agent.wait": func(r *clienttest.Request) (any, error) { <-release; return nil, nil },
	}})
	c := dial(t, srv, client.Options{})
	sc := srv.WaitConn(t, time.Second)
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { errs <- c.Call(context.Background(), "agent.wait", nil, nil) }()
	}
	time.Sleep(100 * time.Millisecond)
	sc.Close(1012, "service restart")
	for i := 0; i < 3; i++ {
		select {
		case err := <-errs:
			var ce *client.CloseError
			if !errors.As(err, &ce) || ce.Code != 1012 || ce.Reason != "service restart" {
				t.Fatalf("pending call: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("pending call did not fail")
		}
	}
	waitDone(t, c.Done(), time.Second, "Done")
}

func TestRequestTimeoutAndClose(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	srv := clienttest.NewServer(t, clienttest.Config{Methods: map[string]clienttest.Handler{
		"slow": func(r *clienttest.Request) (any, error) { <-block; return nil, nil },
		"fast": func(r *clienttest.Request) (any, error) { return json.RawMessage(`null`), nil },
	}})
	c := dial(t, srv, client.Options{RequestTimeout: 100 * time.Millisecond})
	err := c.Call(context.Background(), "slow", nil, nil)
	if !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("err %v", err)
	}
	_, err = c.CallRaw(context.Background(), "slow", nil, client.CallOptions{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("err %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := c.Call(ctx, "slow", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	var out any = "unchanged"
	if err := c.Call(context.Background(), "fast", nil, &out); err != nil || out != nil {
		t.Fatalf("null payload: %v %v", out, err)
	}

	sc := srv.Conns()[0]
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c.Done(), time.Second, "Done after Close")
	if !errors.Is(c.Err(), client.ErrClosed) {
		t.Fatalf("Err %v", c.Err())
	}
	if err := c.Call(context.Background(), "fast", nil, nil); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	waitDone(t, sc.Done(), time.Second, "server close")
	if code, _ := sc.CloseStatus(); code != 1000 {
		t.Fatalf("server saw close %d", code)
	}
	if err := c.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestSessionReconnectsWithBackoff(t *testing.T) {
	// Attempts 1-3 are refused (backoff 50, 100, 200ms); attempt 4 gets a
	// hello and is closed at once, which resets the backoff to 50ms (without
	// the reset it would be 400ms); attempt 5 stays up.
	var hellos atomic.Int32
	srv := clienttest.NewServer(t, clienttest.Config{
		RefuseUpgrade: func(n int) int {
			if n <= 3 {
				return http.StatusServiceUnavailable
			}
			return 0
		},
		OnHello: func(c *clienttest.Conn) {
			if hellos.Add(1) == 1 {
				go c.Close(1012, "service restart")
			}
		},
		Methods: map[string]clienttest.Handler{
			"health": func(r *clienttest.Request) (any, error) { return map[string]bool{"ok": true}, nil },
		},
	})
	s := client.NewSession(client.Options{URL: srv.URL, BackoffMin: 100 * time.Millisecond, BackoffMax: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	srv.WaitConn(t, 5*time.Second)
	second := srv.WaitConn(t, 5*time.Second)
	// Session.Call waits for a live connection and uses it.
	callCtx, callCancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer callCancel()
	var out struct{ OK bool }
	if err := s.Call(callCtx, "health", nil, &out); err != nil || !out.OK {
		t.Fatalf("Session.Call: %v %+v", err, out)
	}
	if c := s.Client(); c == nil || c.Err() != nil {
		t.Fatal("no current client")
	}

	at := srv.Attempts()
	if len(at) != 5 {
		t.Fatalf("%d attempts", len(at))
	}
	// Lower bounds prove the doubling; the upper bound on the reset only
	// has to stay below the 800 ms the next doubled step would take, which
	// leaves a loaded machine plenty of slack.
	for i, w := range []time.Duration{100, 200, 400} {
		w *= time.Millisecond
		if gap := at[i+1].Sub(at[i]); gap < w {
			t.Errorf("backoff %d: %s, want at least %s", i+1, gap, w)
		}
	}
	if gap := at[4].Sub(at[3]); gap < 100*time.Millisecond || gap >= 800*time.Millisecond {
		t.Errorf("backoff after a successful hello: %s, want ≈100ms (reset, not 800ms)", gap)
	}
	// The instance id is stable across reconnects.
	cs := srv.Connects()
	if len(cs) != 2 || cs[0].Parsed.Client.InstanceID != cs[1].Parsed.Client.InstanceID {
		t.Error("instance id changed across reconnects")
	}

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not stop")
	}
	if s.Client() != nil {
		t.Fatal("Client() after stop")
	}
	if err := s.Call(context.Background(), "health", nil, nil); !errors.Is(err, client.ErrSessionStopped) {
		t.Fatalf("Call after stop: %v", err)
	}
	waitDone(t, second.Done(), time.Second, "server close on stop")
	if code, _ := second.CloseStatus(); code != 1000 {
		t.Fatalf("server saw close %d on stop", code)
	}
}

func TestSessionReconnectsAfterTickTimeout(t *testing.T) {
	// tickIntervalMs 50 → the client's watchdog fires after 100ms of silence.
	srv := clienttest.NewServer(t, clienttest.Config{TickIntervalMs: 50})
	s := client.NewSession(client.Options{URL: srv.URL, BackoffMin: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	var conns []*clienttest.Conn
	for i := 0; i < 3; i++ {
		conns = append(conns, srv.WaitConn(t, 5*time.Second))
	}
	for _, sc := range conns[:2] {
		waitDone(t, sc.Done(), 3*time.Second, "server close")
		if code, reason := sc.CloseStatus(); code != 4000 || reason != "tick timeout" {
			t.Errorf("server saw %d %q", code, reason)
		}
	}
}

func TestSessionStopsOnAuthError(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{Token: "right"})
	s := client.NewSession(client.Options{URL: srv.URL, Token: "wrong", BackoffMin: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := s.Run(ctx)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.DetailCode() != "AUTH_TOKEN_MISMATCH" {
		t.Fatalf("Run: %v", err)
	}
	if n := len(srv.Connects()); n != 1 {
		t.Fatalf("%d connect attempts", n)
	}
	if err := s.Call(ctx, "health", nil, nil); !errors.As(err, &pe) {
		t.Fatalf("Call: %v", err)
	}
}

func TestSessionReconnectsAfterServerClose(t *testing.T) {
	srv := clienttest.NewServer(t, clienttest.Config{})
	disc := make(chan error, 4)
	s := client.NewSession(client.Options{URL: srv.URL, BackoffMin: 20 * time.Millisecond, OnDisconnect: func(err error) { disc <- err }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	first := srv.WaitConn(t, 2*time.Second)
	first.Close(1012, "service restart")
	var ce *client.CloseError
	select {
	case err := <-disc:
		if !errors.As(err, &ce) || ce.Code != 1012 {
			t.Fatalf("OnDisconnect %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no OnDisconnect")
	}
	srv.WaitConn(t, 2*time.Second)
	deadline := time.Now().Add(time.Second)
	for s.Client() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if c := s.Client(); c == nil || c.Err() != nil {
		t.Fatal("no current client after reconnect")
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	refuse := clienttest.NewServer(t, clienttest.Config{RefuseUpgrade: func(int) int { return http.StatusServiceUnavailable }})
	srv := clienttest.NewServer(t, clienttest.Config{Methods: map[string]clienttest.Handler{
		"health": func(r *clienttest.Request) (any, error) { return map[string]bool{"ok": true}, nil },
	}})
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		if _, err := client.Dial(context.Background(), client.Options{URL: refuse.URL}); err == nil {
			t.Fatal("refused dial succeeded")
		}
		c, err := client.Dial(context.Background(), client.Options{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Call(context.Background(), "health", nil, nil); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		<-c.Done()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+3 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
