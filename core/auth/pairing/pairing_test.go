package pairing_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/auth/setupcode"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

const remoteConfig = `{gateway: {trustedProxies: ["127.0.0.1"]}}`

// device is a test device: an identity and how it connects.
type device struct {
	id     *identity.Identity
	remote bool // connect through a "proxy" from 10.1.2.3
}

func newDevice(t *testing.T, remote bool) *device {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return &device{id: id, remote: remote}
}

// opts builds client options for the device: an app operator by default.
func (d *device) opts(g *daemontest.Gateway, scopes ...string) client.Options {
	o := client.Options{URL: g.URL, Token: g.Token, ClientID: protocol.ClientMacOS, ClientMode: protocol.ModeUI,
		Platform: "macos 15.4.0", DeviceFamily: "Mac", Scopes: scopes}
	if scopes == nil {
		o.Scopes = []string{}
	}
	if d.remote {
		o.Header = http.Header{"X-Forwarded-For": []string{"10.1.2.3"}}
	}
	o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) { d.id.SignConnect(p, ch) }
	return o
}

func dial(opt client.Options) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Dial(ctx, opt)
}

func mustDial(t *testing.T, opt client.Options) *client.Client {
	t.Helper()
	c, err := dial(opt)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// connectErr dials expecting a refusal and returns the error.
func connectErr(t *testing.T, opt client.Options) *protocol.Error {
	t.Helper()
	c, err := dial(opt)
	if err == nil {
		_ = c.Close()
		t.Fatal("connect succeeded, want an error")
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("want a protocol error, got %v", err)
	}
	return pe
}

func detail(e *protocol.Error, key string) any {
	m, _ := e.Details.(map[string]any)
	return m[key]
}

// events collects events of one kind on a watcher connection.
type events struct {
	mu  sync.Mutex
	got []protocol.EventFrame
	ch  chan struct{}
}

func watch(t *testing.T, g *daemontest.Gateway) *events {
	ev := &events{ch: make(chan struct{}, 64)}
	opt := g.Options(protocol.ScopePairing, protocol.ScopeRead)
	opt.OnEvent = func(f protocol.EventFrame) {
		if strings.HasPrefix(f.Event, "device.") || strings.HasPrefix(f.Event, "node.") {
			ev.mu.Lock()
			ev.got = append(ev.got, f)
			ev.mu.Unlock()
			select {
			case ev.ch <- struct{}{}:
			default:
			}
		}
	}
	g.DialWith(t, opt)
	return ev
}

func (e *events) wait(t *testing.T, name string, match func(p map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	seen := 0
	for {
		e.mu.Lock()
		for ; seen < len(e.got); seen++ {
			f := e.got[seen]
			if f.Event != name {
				continue
			}
			var p map[string]any
			_ = jsonUnmarshal(f.Payload, &p)
			if match == nil || match(p) {
				e.mu.Unlock()
				return p
			}
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-deadline:
			t.Fatalf("no %s event", name)
		}
	}
}

func list(t *testing.T, g *daemontest.Gateway) protocol.DevicePairListResult {
	t.Helper()
	var res protocol.DevicePairListResult
	daemontest.Call(t, g.Dial(t, protocol.ScopePairing), "device.pair.list", nil, &res)
	return res
}

func TestLocalDeviceIsPairedSilentlyAndGetsAToken(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	ev := watch(t, g)
	d := newDevice(t, false)
	c := mustDial(t, d.opts(g, protocol.ScopeRead, protocol.ScopeWrite))
	h := c.Hello()
	if h.Auth.Method != "token" || len(h.Auth.DeviceToken) != 43 || h.Auth.IssuedAtMs == 0 {
		t.Fatalf("hello auth = %+v", h.Auth)
	}
	if strings.Join(h.Auth.Scopes, ",") != "operator.read,operator.write" {
		t.Fatalf("device keeps its scopes, got %v", h.Auth.Scopes)
	}
	ev.wait(t, "device.pair.resolved", func(p map[string]any) bool { return p["decision"] == "approved" && p["deviceId"] == d.id.DeviceID })
	l := list(t, g)
	if len(l.Paired) != 1 || l.Paired[0].ApprovedVia != "silent" || l.Paired[0].DeviceID != d.id.DeviceID || !l.Paired[0].Connected {
		t.Fatalf("paired = %+v", l.Paired)
	}
	if len(l.Paired[0].Tokens) != 1 || l.Paired[0].Tokens[0].Role != "operator" {
		t.Fatalf("tokens = %+v", l.Paired[0].Tokens)
	}
	// The same token on the next connect.
	c2 := mustDial(t, d.opts(g, protocol.ScopeRead))
	if c2.Hello().Auth.DeviceToken != h.Auth.DeviceToken {
		t.Fatal("reconnect issued a different device token")
	}

	// The token authenticates on its own, with the device proof.
	tok := h.Auth.DeviceToken
	o := d.opts(g, protocol.ScopeRead)
	o.Token = ""
	o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
		p.Auth = &protocol.ConnectAuth{DeviceToken: &tok}
		d.id.SignConnect(p, ch)
	}
	c3 := mustDial(t, o)
	if c3.Hello().Auth.Method != "device-token" || c3.Hello().Auth.DeviceToken != tok {
		t.Fatalf("device-token auth: %+v", c3.Hello().Auth)
	}
	// Broader scopes than the token carries.
	o.Scopes = []string{protocol.ScopeAdmin}
	if e := connectErr(t, o); detail(e, "code") != protocol.DetailAuthScopeMismatch ||
		!strings.Contains(e.Message, "device token scope mismatch") {
		t.Fatalf("scope mismatch: %+v", e)
	}
	// An unknown token.
	bogus := strings.Repeat("A", 43)
	o.Scopes = []string{protocol.ScopeRead}
	o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
		p.Auth = &protocol.ConnectAuth{DeviceToken: &bogus}
		d.id.SignConnect(p, ch)
	}
	if e := connectErr(t, o); detail(e, "code") != protocol.DetailAuthDeviceTokenMismatch ||
		e.Message != "unauthorized: device token mismatch (rotate/reissue device token)" {
		t.Fatalf("token mismatch: %+v", e)
	}

	// Tokens are stored hashed.
	db, err := sql.Open("sqlite3", filepath.Join(g.State, "state", "pincer.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored string
	if err := db.QueryRow(`SELECT token_hash FROM device_tokens`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(g.State, "state", "pincer.sqlite"))
	if stored == tok || strings.Contains(string(raw), tok) {
		t.Fatal("device token stored in plaintext")
	}
}

func TestDeviceProofErrors(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	d := newDevice(t, false)
	other := newDevice(t, false)
	cases := []struct {
		name, code, reason, msg string
		mutate                  func(p *protocol.ConnectParams, ch protocol.ChallengeEvent)
	}{
		{"id mismatch", protocol.DetailDeviceAuthDeviceIDMismatch, "device-id-mismatch", "device identity mismatch",
			func(p *protocol.ConnectParams, _ protocol.ChallengeEvent) { p.Device.ID = other.id.DeviceID }},
		{"stale", protocol.DetailDeviceAuthSignatureExpired, "device-signature-stale", "device signature expired",
			func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
				ch.Ts -= 10 * 60 * 1000
				d.id.SignConnect(p, ch)
			}},
		{"nonce", protocol.DetailDeviceAuthNonceMismatch, "device-nonce-mismatch", "device nonce mismatch",
			func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
				ch.Nonce = "00000000-0000-4000-8000-000000000000"
				d.id.SignConnect(p, ch)
			}},
		{"signature", protocol.DetailDeviceAuthSignatureInvalid, "device-signature", "device signature invalid",
			func(p *protocol.ConnectParams, _ protocol.ChallengeEvent) { p.Device.Signature = other.id.Sign("x") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := d.opts(g, protocol.ScopeRead)
			o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
				d.id.SignConnect(p, ch)
				tc.mutate(p, ch)
			}
			e := connectErr(t, o)
			if e.Code != protocol.CodeInvalidRequest || detail(e, "code") != tc.code || detail(e, "reason") != tc.reason || e.Message != tc.msg {
				t.Fatalf("got %+v", e)
			}
		})
	}
	if n := len(list(t, g).Paired); n != 0 {
		t.Fatalf("%d devices paired after failed proofs", n)
	}
}

func TestRemoteDeviceWaitsForApproval(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, remoteConfig)
	ev := watch(t, g)
	d := newDevice(t, true)
	opt := d.opts(g, protocol.ScopeRead, protocol.ScopeWrite)
	e := connectErr(t, opt)
	if e.Code != protocol.CodeNotPaired || detail(e, "code") != protocol.DetailPairingRequired || detail(e, "reason") != "not-paired" ||
		e.Message != "pairing required: device is not approved yet" || detail(e, "requestId") == nil {
		t.Fatalf("first connect: %+v", e)
	}
	first := detail(e, "requestId").(string)
	req := ev.wait(t, "device.pair.requested", nil)
	if req["requestId"] != first || req["remoteIp"] != "10.1.2.3" || req["deviceId"] != d.id.DeviceID {
		t.Fatalf("requested event = %v", req)
	}
	// A newer request supersedes the first.
	e = connectErr(t, opt)
	second := detail(e, "requestId").(string)
	if second == first {
		t.Fatal("second connect reused the request")
	}
	ev.wait(t, "device.pair.resolved", func(p map[string]any) bool { return p["requestId"] == first && p["decision"] == "rejected" })
	l := list(t, g)
	if len(l.Pending) != 1 || l.Pending[0].RequestID != second {
		t.Fatalf("pending = %+v", l.Pending)
	}

	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	var bad map[string]any
	if err := admin.Call(context.Background(), "device.pair.approve", map[string]any{"requestId": first}, &bad); err == nil ||
		!strings.Contains(err.Error(), "unknown requestId") {
		t.Fatalf("approving a superseded request: %v", err)
	}
	var ok map[string]any
	daemontest.Call(t, admin, "device.pair.approve", map[string]any{"requestId": second}, &ok)
	if ok["requestId"] != second || ok["device"].(map[string]any)["approvedVia"] != "owner" {
		t.Fatalf("approve = %v", ok)
	}
	c := mustDial(t, opt)
	if c.Hello().Auth.DeviceToken == "" || len(c.Hello().Auth.Scopes) != 2 {
		t.Fatalf("approved device hello = %+v", c.Hello().Auth)
	}

	// Asking for more scopes, another role, or with another platform.
	up := []struct {
		reason, msg string
		opt         client.Options
	}{
		{"scope-upgrade", "device is asking for more scopes than currently approved", d.opts(g, protocol.ScopeAdmin)},
		{"role-upgrade", "device is asking for a higher role than currently approved", func() client.Options {
			o := d.opts(g)
			o.Role, o.ClientID, o.ClientMode = protocol.RoleNode, protocol.ClientNodeHost, protocol.ModeNode
			return o
		}()},
		{"metadata-upgrade", "device identity changed and must be re-approved", func() client.Options {
			o := d.opts(g, protocol.ScopeRead)
			o.Platform, o.DeviceFamily = "linux", "Linux"
			return o
		}()},
	}
	for _, u := range up {
		e := connectErr(t, u.opt)
		if detail(e, "reason") != u.reason || e.Message != "pairing required: "+u.msg {
			t.Fatalf("%s: %+v", u.reason, e)
		}
		if u.reason == "scope-upgrade" && len(detail(e, "approvedScopes").([]any)) != 2 {
			t.Fatalf("upgrade details lack approvedScopes: %v", e.Details)
		}
	}
	// Reject the last one.
	rid := list(t, g).Pending[0].RequestID
	daemontest.Call(t, admin, "device.pair.reject", map[string]any{"requestId": rid}, nil)
	ev.wait(t, "device.pair.resolved", func(p map[string]any) bool { return p["requestId"] == rid && p["decision"] == "rejected" })
	if n := len(list(t, g).Pending); n != 0 {
		t.Fatalf("%d pending after reject", n)
	}
}

func TestRotateRevokeRemoveCloseConnections(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	ev := watch(t, g)
	d := newDevice(t, false)
	tok := mustDial(t, d.opts(g, protocol.ScopeRead)).Hello().Auth.DeviceToken
	withToken := func(tok string) client.Options {
		o := d.opts(g, protocol.ScopeRead)
		o.Token = ""
		o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
			p.Auth = &protocol.ConnectAuth{DeviceToken: &tok}
			d.id.SignConnect(p, ch)
		}
		return o
	}
	c := mustDial(t, withToken(tok))
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	var rot protocol.DeviceTokenRotateResult
	daemontest.Call(t, admin, "device.token.rotate", map[string]any{"deviceId": d.id.DeviceID, "role": "operator"}, &rot)
	if rot.TokenDelivery != "withheld-cross-device" || rot.Token != "" || rot.RotatedAtMs == 0 {
		t.Fatalf("rotate = %+v", rot)
	}
	waitClosed(t, c, 4001)
	if e := connectErr(t, withToken(tok)); detail(e, "code") != protocol.DetailAuthDeviceTokenMismatch {
		t.Fatalf("old token after rotate: %+v", e)
	}
	ev.wait(t, "device.pair.changed", nil)

	// The device rotates its own token and receives it.
	self := mustDial(t, d.opts(g, protocol.ScopeRead, protocol.ScopePairing))
	_ = self
	// (the device was approved with read only; pairing scope needs an upgrade, approved silently on loopback)
	var own protocol.DeviceTokenRotateResult
	daemontest.Call(t, self, "device.token.rotate", map[string]any{"deviceId": d.id.DeviceID, "role": "operator"}, &own)
	if own.TokenDelivery != "direct" || len(own.Token) != 43 {
		t.Fatalf("self rotate = %+v", own)
	}
	c2 := mustDial(t, withToken(own.Token))
	var rev map[string]any
	daemontest.Call(t, admin, "device.token.revoke", map[string]any{"deviceId": d.id.DeviceID, "role": "operator"}, &rev)
	if rev["revokedAtMs"] == nil {
		t.Fatalf("revoke = %v", rev)
	}
	waitClosed(t, c2, 4001)
	if e := connectErr(t, withToken(own.Token)); detail(e, "code") != protocol.DetailAuthDeviceTokenMismatch {
		t.Fatalf("token after revoke: %+v", e)
	}

	// Rename, then remove: every connection of the device goes.
	daemontest.Call(t, admin, "device.pair.rename", map[string]any{"deviceId": d.id.DeviceID, "label": "Work Mac"}, nil)
	if l := list(t, g); l.Paired[0].Label != "Work Mac" {
		t.Fatalf("label = %q", l.Paired[0].Label)
	}
	c3 := mustDial(t, d.opts(g, protocol.ScopeRead))
	daemontest.Call(t, admin, "device.pair.remove", map[string]any{"deviceId": d.id.DeviceID}, nil)
	waitClosed(t, c3, 4001)
	if n := len(list(t, g).Paired); n != 0 {
		t.Fatalf("%d paired after remove", n)
	}
	var x any
	if err := admin.Call(context.Background(), "device.pair.remove", map[string]any{"deviceId": d.id.DeviceID}, &x); err == nil {
		t.Fatal("removing an unknown device succeeded")
	}
}

func waitClosed(t *testing.T, c *client.Client, code int) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != code {
		t.Fatalf("closed with %v, want %d", c.Err(), code)
	}
}

func TestSetupCodePairsARemoteNodeOnce(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, remoteConfig)
	ev := watch(t, g)
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	var x any
	if err := admin.Call(context.Background(), "device.pair.setupCode", map[string]any{}, &x); err == nil ||
		!strings.Contains(err.Error(), "loopback") {
		t.Fatalf("setup code on a loopback-only gateway: %v", err)
	}
	var sc protocol.DevicePairSetupCodeResult
	daemontest.Call(t, admin, "device.pair.setupCode", map[string]any{"publicUrl": g.URL}, &sc)
	if !strings.HasPrefix(sc.QRDataURL, "data:image/png;base64,") || sc.Access != "limited" || sc.GatewayURL != g.URL {
		t.Fatalf("setup code = %+v", sc)
	}
	payload, err := setupcode.Decode(sc.SetupCode)
	if err != nil || payload.URL != g.URL || len(payload.BootstrapToken) != 43 {
		t.Fatalf("decoded = %+v, %v", payload, err)
	}
	nodeOpts := func(d *device) client.Options {
		o := d.opts(g)
		o.Token = ""
		o.Role, o.ClientID, o.ClientMode, o.Platform, o.DeviceFamily = protocol.RoleNode, protocol.ClientNodeHost, protocol.ModeNode, "linux", "Linux"
		bt := payload.BootstrapToken
		o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
			p.Auth = &protocol.ConnectAuth{BootstrapToken: &bt}
			d.id.SignConnect(p, ch)
		}
		return o
	}
	d := newDevice(t, true)
	c := mustDial(t, nodeOpts(d))
	h := c.Hello().Auth
	if h.Method != "bootstrap-token" || h.Role != "node" || h.DeviceToken == "" || len(h.DeviceTokens) != 1 ||
		h.DeviceTokens[0].Role != "operator" || strings.Join(h.DeviceTokens[0].Scopes, ",") != "operator.approvals,operator.questions,operator.read,operator.talk.secrets,operator.write" {
		t.Fatalf("bootstrap hello auth = %+v", h)
	}
	done := ev.wait(t, "device.pair.setup.completed", nil)
	if done["setupId"] != sc.SetupID || done["deviceId"] != d.id.DeviceID {
		t.Fatalf("setup.completed = %v", done)
	}
	var st map[string]any
	daemontest.Call(t, admin, "device.pair.setupStatus", map[string]any{"setupId": sc.SetupID}, &st)
	if st["completion"] == nil {
		t.Fatalf("setupStatus = %v", st)
	}
	// Single use: another device cannot use the code.
	if e := connectErr(t, nodeOpts(newDevice(t, true))); detail(e, "code") != protocol.DetailAuthBootstrapTokenInvalid {
		t.Fatalf("second device with a used code: %+v", e)
	}
	// The paired node reconnects with its device token.
	o := nodeOpts(d)
	nt := h.DeviceToken
	o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
		p.Auth = &protocol.ConnectAuth{DeviceToken: &nt}
		d.id.SignConnect(p, ch)
	}
	if c := mustDial(t, o); c.Hello().Auth.Method != "device-token" {
		t.Fatalf("reconnect = %+v", c.Hello().Auth)
	}
}

func TestPairingSurvivesRestart(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, remoteConfig)
	d := newDevice(t, true)
	opt := d.opts(g, protocol.ScopeRead)
	rid := detail(connectErr(t, opt), "requestId").(string)
	state := g.State
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	g = daemontest.StartIn(t, state, daemon.Options{}, "")
	l := list(t, g)
	if len(l.Pending) != 1 || l.Pending[0].RequestID != rid {
		t.Fatalf("pending after restart = %+v", l.Pending)
	}
	daemontest.Call(t, g.Dial(t, protocol.CLIDefaultScopes...), "device.pair.approve", map[string]any{"requestId": rid}, nil)
	tok := mustDial(t, d.opts(g, protocol.ScopeRead)).Hello().Auth.DeviceToken
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	g = daemontest.StartIn(t, state, daemon.Options{}, "")
	o := d.opts(g, protocol.ScopeRead)
	o.Token = ""
	o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
		p.Auth = &protocol.ConnectAuth{DeviceToken: &tok}
		d.id.SignConnect(p, ch)
	}
	if c := mustDial(t, o); c.Hello().Auth.Method != "device-token" || c.Hello().Auth.DeviceToken != tok {
		t.Fatalf("device token after restart: %+v", c.Hello().Auth)
	}
}
