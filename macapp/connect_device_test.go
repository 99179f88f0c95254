package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/client/clienttest"
	"github.com/pincerhq/pincer/core/client/deviceauth"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/secrets"
)

// TestMain keeps every test of the package off the developer's real
// Keychain / Secret Service: device identities go to the temp state dir.
func TestMain(m *testing.M) {
	if os.Getenv(secrets.EnvBackend) == "" {
		os.Setenv(secrets.EnvBackend, secrets.BackendFile)
	}
	os.Exit(m.Run())
}

func TestUsesDeviceIdentity(t *testing.T) {
	for _, c := range []struct {
		t    target
		want bool
	}{
		{target{URL: "ws://127.0.0.1:18789", Token: "T"}, false},
		{target{URL: "ws://localhost:18789", Password: "P"}, false},
		{target{URL: "ws://[::1]:18789", Token: "T"}, false},
		{target{URL: "ws://127.0.0.1:18789"}, true},
		{target{URL: "wss://gw.example.com", Token: "T"}, true},
		{target{URL: "ws://192.168.1.5:18789", Token: "T"}, true},
	} {
		if got := usesDeviceIdentity(c.t); got != c.want {
			t.Errorf("%+v: %v, want %v", c.t, got, c.want)
		}
	}
	if secretsService("") != "ai.pincer.default" || secretsService("work") != "ai.pincer.work" {
		t.Error(secretsService(""), secretsService("work"))
	}
}

// Loopback with the shared token: the connect stays exactly as before,
// without a device, and nothing is written to the secret store.
func TestLoopbackWithTokenStaysDeviceless(t *testing.T) {
	dir := isolate(t)
	srv := fakeGateway(t, "T")
	r := runCLI(t, "health", "--url", srv.URL, "--token", "T")
	if r.code != 0 {
		t.Fatalf("health: %+v", r)
	}
	if c := srv.Connects()[0]; c.Parsed.Device != nil {
		t.Fatalf("device sent on loopback with a token: %s", c.Params)
	}
	if _, err := os.Stat(secrets.FilePath(dir)); !os.IsNotExist(err) {
		t.Fatalf("secrets file touched: %v", err)
	}
}

// Without a shared secret the CLI signs its connect with a device key it
// creates once and keeps in the state dir.
func TestDeviceIdentityWithoutSharedSecret(t *testing.T) {
	dir := isolate(t)
	var mu sync.Mutex
	var nonces []string
	srv := clienttest.NewServer(t, clienttest.Config{
		Challenge: func() any {
			n := uuid.NewString()
			mu.Lock()
			nonces = append(nonces, n)
			mu.Unlock()
			return protocol.ChallengeEvent{Nonce: n, Ts: time.Now().UnixMilli()}
		},
		Methods: map[string]clienttest.Handler{"health": func(*clienttest.Request) (any, error) { return json.RawMessage(officialHealth), nil }},
	})
	var ids []string
	for i := range 2 {
		r := runCLI(t, "health", "--url", srv.URL)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("health: %+v", r)
		}
		c := srv.Connects()[i]
		p := c.Parsed
		if p.Device == nil {
			t.Fatalf("no device: %s", c.Params)
		}
		mu.Lock()
		nonce := nonces[i]
		mu.Unlock()
		v, perr := identity.VerifyConnect(&p, nonce, time.Now())
		if perr != nil || v.PayloadVersion != "v3" {
			t.Fatalf("proof: %v %+v", perr, v)
		}
		if p.Client.ID != "cli" || p.Client.Mode != "cli" || p.Auth != nil {
			t.Fatalf("connect %s", c.Params)
		}
		ids = append(ids, p.Device.ID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("identity changed between runs: %v", ids)
	}
	fi, err := os.Stat(secrets.FilePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode %v", fi.Mode().Perm())
	}
	stored, err := deviceauth.New(secrets.NewFile(secrets.FilePath(dir))).Identity()
	if err != nil || stored.DeviceID != ids[0] {
		t.Fatalf("stored identity %v %v", stored, err)
	}
}

// scriptedGateway answers the handshake with admit's verdict and every
// later request with {}.
func scriptedGateway(t *testing.T, admit func(n int, p protocol.ConnectParams) *protocol.Error) (string, func() []protocol.ConnectParams) {
	var mu sync.Mutex
	var connects []protocol.ConnectParams
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer func() { _ = ws.CloseNow() }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		send := func(v any) { b, _ := json.Marshal(v); _ = ws.Write(ctx, websocket.MessageText, b) }
		send(map[string]any{"type": "event", "event": "connect.challenge", "payload": protocol.ChallengeEvent{Nonce: uuid.NewString(), Ts: time.Now().UnixMilli()}})
		for first := true; ; first = false {
			_, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var req protocol.RequestFrame
			_ = json.Unmarshal(data, &req)
			if !first {
				send(map[string]any{"type": "res", "id": req.ID, "ok": true, "payload": map[string]any{}})
				continue
			}
			var p protocol.ConnectParams
			_ = json.Unmarshal(req.Params, &p)
			mu.Lock()
			connects = append(connects, p)
			n := len(connects)
			mu.Unlock()
			if e := admit(n, p); e != nil {
				send(map[string]any{"type": "res", "id": req.ID, "ok": false, "error": e.Shape()})
				_ = ws.Close(websocket.StatusPolicyViolation, "")
				return
			}
			send(map[string]any{"type": "res", "id": req.ID, "ok": true, "payload": protocol.HelloOk{
				Type: "hello-ok", Protocol: protocol.Version,
				Server:   protocol.HelloServer{Version: protocol.CompatVersion, ConnID: "c"},
				Snapshot: protocol.Snapshot{Presence: []protocol.PresenceEntry{}, Health: json.RawMessage(`{}`)},
				Auth:     protocol.HelloAuth{Method: "token", Role: "operator", Scopes: p.Scopes},
				Policy:   protocol.HelloPolicy{MaxPayload: protocol.MaxPayloadBytes, MaxBufferedBytes: protocol.MaxBufferedBytes, TickIntervalMs: protocol.TickIntervalMs},
			}})
		}
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return "ws" + strings.TrimPrefix(srv.URL, "http"), func() []protocol.ConnectParams {
		mu.Lock()
		defer mu.Unlock()
		return append([]protocol.ConnectParams(nil), connects...)
	}
}

func TestPairingRequiredMessage(t *testing.T) {
	isolate(t)
	url, _ := scriptedGateway(t, func(_ int, p protocol.ConnectParams) *protocol.Error {
		return &protocol.Error{Code: protocol.CodeNotPaired, Message: "pairing required: device is not approved yet", Details: map[string]any{
			"code": protocol.DetailPairingRequired, "reason": "not-paired", "requestId": "7b87f53c-0001", "deviceId": p.Device.ID,
		}}
	})
	r := runCLI(t, "health", "--url", url)
	want := "Error: pairing required: device is not approved yet [PAIRING_REQUIRED]\n" +
		"Hint: this device is waiting for approval: run `pincer devices approve 7b87f53c-0001` on the gateway host (or `openclaw devices approve 7b87f53c-0001`), then try again.\n"
	if r.code != 1 || r.stderr != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", r.code, r.stderr, want)
	}
}

func TestPairingHints(t *testing.T) {
	e := &protocol.Error{Code: protocol.CodeNotPaired, Message: "pairing required: device is asking for more scopes than currently approved",
		Details: json.RawMessage(`{"code":"PAIRING_REQUIRED","reason":"scope-upgrade","requestId":"r2"}`)}
	if got := formatError(e); !strings.Contains(got, "waiting for approval (scope upgrade): run `pincer devices approve r2`") {
		t.Fatalf("%q", got)
	}
	e = &protocol.Error{Code: protocol.CodeNotPaired, Message: "pairing required", Details: map[string]any{"code": protocol.DetailPairingRequired}}
	if got := formatError(e); !strings.Contains(got, "`pincer devices list`") {
		t.Fatalf("%q", got)
	}
}

// A device token the gateway no longer accepts is forgotten and the
// connect retried once without it.
func TestStaleDeviceTokenRetried(t *testing.T) {
	dir := isolate(t)
	url, connects := scriptedGateway(t, func(n int, p protocol.ConnectParams) *protocol.Error {
		if p.Auth != nil && p.Auth.DeviceToken != nil {
			return &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "unauthorized: device token mismatch (rotate/reissue device token)",
				Details: map[string]any{"code": protocol.DetailAuthDeviceTokenMismatch}}
		}
		return nil
	})
	kr := deviceauth.New(secrets.NewFile(secrets.FilePath(dir)))
	if err := kr.SaveToken(url, "", deviceauth.Token{Value: "stale", Scopes: []string{protocol.ScopeRead}}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "call", "x", "--url", url)
	if r.code != 0 || !strings.Contains(r.stderr, "rejected this device's stored token") {
		t.Fatalf("%+v", r)
	}
	cs := connects()
	if len(cs) != 2 || cs[0].Auth == nil || *cs[0].Auth.DeviceToken != "stale" || cs[1].Auth != nil || cs[1].Device == nil {
		t.Fatalf("connects %+v", cs)
	}
	if _, ok := kr.Token(url, ""); ok {
		t.Fatal("stale token kept")
	}
	if _, err := os.Stat(filepath.Dir(secrets.FilePath(dir))); err != nil {
		t.Fatal(err)
	}
}
