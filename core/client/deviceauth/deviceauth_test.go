package deviceauth_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/client/clienttest"
	"github.com/pincerhq/pincer/core/client/deviceauth"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/secrets"
)

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:18789":             "ws://127.0.0.1:18789",
		"http://127.0.0.1:18789/x?y=1":     "ws://127.0.0.1:18789",
		"ws://Gateway.Example.COM./gw":     "ws://gateway.example.com:80",
		"http://gateway.example.com":       "ws://gateway.example.com:80",
		"wss://gateway.example.com":        "wss://gateway.example.com:443",
		"https://gateway.example.com/":     "wss://gateway.example.com:443",
		"HTTPS://gateway.example.com:8443": "wss://gateway.example.com:8443",
		"[::1]:9":                          "ws://[::1]:9",
		"ws://[::1]":                       "ws://[::1]:80",
		"localhost:18789":                  "ws://localhost:18789",
		" ws://h:1 ":                       "ws://h:1",
		"":                                 "",
		"ftp://h":                          "",
		"ws://":                            "",
		"ws://h:1:2:3":                     "",
		"ws://h:0":                         "",
		"ws://h:99999":                     "",
	} {
		if got := deviceauth.Origin(in); got != want {
			t.Errorf("Origin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIdentityCreatedOnceAndKept(t *testing.T) {
	store := secrets.NewFile(filepath.Join(t.TempDir(), "secrets.json"))
	id1, err := deviceauth.New(store).Identity()
	if err != nil {
		t.Fatal(err)
	}
	pemText, err := store.Get(deviceauth.IdentityKey)
	if err != nil || !strings.HasPrefix(pemText, "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("stored key %q %v", pemText, err)
	}
	// A new Keyring (the next CLI run) loads the same identity.
	id2, err := deviceauth.New(store).Identity()
	if err != nil || id2.DeviceID != id1.DeviceID || len(id1.DeviceID) != 64 {
		t.Fatalf("%v %v %v", id1.DeviceID, id2, err)
	}

	// An unreadable key is an error, and is left alone.
	bad := secrets.NewMemory()
	_ = bad.Set(deviceauth.IdentityKey, "garbage")
	if _, err := deviceauth.New(bad).Identity(); err == nil || !strings.Contains(err.Error(), "paired again") {
		t.Fatalf("corrupt key: %v", err)
	}
	if v, _ := bad.Get(deviceauth.IdentityKey); v != "garbage" {
		t.Fatal("corrupt key overwritten")
	}
}

func TestTokensPerOriginAndRole(t *testing.T) {
	store := secrets.NewMemory()
	k := deviceauth.New(store)
	tok := deviceauth.Token{Value: "dt1", Scopes: []string{"operator.read"}, IssuedAtMs: 42}
	if err := k.SaveToken("http://GW:18789/", "", tok); err != nil {
		t.Fatal(err)
	}
	// Same origin, other spelling; empty role means operator.
	got, ok := k.Token("ws://gw:18789", protocol.RoleOperator)
	if !ok || !reflect.DeepEqual(got, tok) {
		t.Fatalf("%+v %v", got, ok)
	}
	if _, ok := k.Token("ws://gw:18789", protocol.RoleNode); ok {
		t.Fatal("token leaked to another role")
	}
	if _, ok := k.Token("ws://gw:18790", protocol.RoleOperator); ok {
		t.Fatal("token leaked to another port")
	}
	if _, ok := k.Token("wss://gw:18789", protocol.RoleOperator); ok {
		t.Fatal("token leaked from ws to wss")
	}
	if err := k.SaveToken("ftp://x", "", tok); err == nil {
		t.Fatal("bad URL accepted")
	}
	if err := k.SaveToken("ws://gw:18789", "", deviceauth.Token{}); err == nil {
		t.Fatal("empty token accepted")
	}

	// A token belongs to the identity it was issued to.
	other := secrets.NewMemory()
	for _, key := range []string{"device.token|ws://gw:18789|operator"} {
		v, err := store.Get(key)
		if err != nil {
			t.Fatalf("token stored under an unexpected key: %v", err)
		}
		_ = other.Set(key, v)
	}
	if _, ok := deviceauth.New(other).Token("ws://gw:18789", ""); ok {
		t.Fatal("token of another identity used")
	}

	if err := k.ForgetToken("ws://gw:18789", ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Token("ws://gw:18789", ""); ok {
		t.Fatal("token not forgotten")
	}
	if err := k.ForgetToken("ws://gw:18789", ""); err != nil {
		t.Fatalf("forgetting twice: %v", err)
	}
}

// challenges records the nonce of every challenge a clienttest server sends.
type challenges struct {
	mu     sync.Mutex
	nonces []string
}

func (c *challenges) next() any {
	n := uuid.NewString()
	c.mu.Lock()
	c.nonces = append(c.nonces, n)
	c.mu.Unlock()
	return protocol.ChallengeEvent{Nonce: n, Ts: time.Now().UnixMilli()}
}

func (c *challenges) nonce(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nonces[i]
}

func dial(t *testing.T, opt client.Options) (*client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, opt)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// verify checks the device proof of a recorded connect against the nonce the
// server sent and returns the token bound into the signature.
func verify(t *testing.T, c clienttest.Connect, nonce string, want *identity.Identity) {
	t.Helper()
	p := c.Parsed
	if p.Device == nil {
		t.Fatalf("connect without a device: %s", c.Params)
	}
	v, perr := identity.VerifyConnect(&p, nonce, time.Now())
	if perr != nil {
		t.Fatalf("device proof rejected: %s (%s)", perr.Message, c.Params)
	}
	if v.PayloadVersion != "v3" || v.DeviceID != want.DeviceID || v.PublicKey != want.PublicKeyBase64URL() {
		t.Fatalf("verified %+v, want v3 for %s", v, want.DeviceID)
	}
}

func TestAttachSignsWithSharedToken(t *testing.T) {
	var ch challenges
	srv := clienttest.NewServer(t, clienttest.Config{Token: "T", Challenge: ch.next})
	k := deviceauth.New(secrets.NewMemory())
	// A stored token is not used when a shared token is given.
	if err := k.SaveToken(srv.URL, "", deviceauth.Token{Value: "stored", Scopes: []string{"operator.admin"}}); err != nil {
		t.Fatal(err)
	}
	var hookRan, helloRan bool
	opt, err := k.Attach(client.Options{
		URL: srv.URL, Token: "T", Scopes: []string{protocol.ScopeRead, protocol.ScopeWrite},
		ConnectParamsHook: func(p *protocol.ConnectParams, _ protocol.ChallengeEvent) {
			hookRan = true
			p.Client.DisplayName = "from the caller's hook"
		},
		OnHello: func(*protocol.HelloOk) { helloRan = true },
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, opt); err != nil {
		t.Fatal(err)
	}
	if !hookRan || !helloRan {
		t.Fatalf("caller's hooks: connect %v hello %v", hookRan, helloRan)
	}
	id, _ := k.Identity()
	c := srv.Connects()[0]
	verify(t, c, ch.nonce(0), id)
	p := c.Parsed
	if p.Auth == nil || p.Auth.Token == nil || *p.Auth.Token != "T" || p.Auth.DeviceToken != nil {
		t.Fatalf("auth %s", c.Params)
	}
	if !reflect.DeepEqual(p.Scopes, []string{protocol.ScopeRead, protocol.ScopeWrite}) || p.Client.DisplayName != "from the caller's hook" {
		t.Fatalf("params changed: %s", c.Params)
	}
	// The shared token is the one bound into the signature.
	f := identity.FieldsFor(&p, id.DeviceID, p.Device.SignedAt, p.Device.Nonce)
	if f.Token != "T" || !identity.VerifySignature(id.PublicKey, identity.PayloadV3(f), p.Device.Signature) {
		t.Fatalf("signature token %q", f.Token)
	}
}

func TestAttachOffersStoredToken(t *testing.T) {
	var ch challenges
	srv := clienttest.NewServer(t, clienttest.Config{Challenge: ch.next}) // auth "none"
	k := deviceauth.New(secrets.NewMemory())
	stored := []string{protocol.ScopeRead, protocol.ScopePairing}
	if err := k.SaveToken(strings.Replace(srv.URL, "ws://", "http://", 1), "", deviceauth.Token{Value: "dtok", Scopes: stored}); err != nil {
		t.Fatal(err)
	}
	id, _ := k.Identity()

	// No explicit scopes: the stored ones are requested.
	opt, err := k.Attach(client.Options{URL: srv.URL}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, opt); err != nil {
		t.Fatal(err)
	}
	c := srv.Connects()[0]
	verify(t, c, ch.nonce(0), id)
	p := c.Parsed
	if p.Auth == nil || p.Auth.DeviceToken == nil || *p.Auth.DeviceToken != "dtok" || p.Auth.Token != nil {
		t.Fatalf("auth %s", c.Params)
	}
	if !reflect.DeepEqual(p.Scopes, stored) {
		t.Fatalf("scopes %v, want the stored %v", p.Scopes, stored)
	}
	if f := identity.FieldsFor(&p, id.DeviceID, p.Device.SignedAt, p.Device.Nonce); f.Token != "dtok" {
		t.Fatalf("signature token %q", f.Token)
	}

	// Explicit scopes stay as asked.
	opt, err = k.Attach(client.Options{URL: srv.URL, Scopes: []string{protocol.ScopeRead}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, opt); err != nil {
		t.Fatal(err)
	}
	c = srv.Connects()[1]
	verify(t, c, ch.nonce(1), id)
	if p := c.Parsed; !reflect.DeepEqual(p.Scopes, []string{protocol.ScopeRead}) || *p.Auth.DeviceToken != "dtok" {
		t.Fatalf("explicit scopes: %s", c.Params)
	}

	// Another role has no token: device proof only, no auth at all.
	opt, err = k.Attach(client.Options{URL: srv.URL, Role: protocol.RoleNode}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, opt); err != nil {
		t.Fatal(err)
	}
	c = srv.Connects()[2]
	verify(t, c, ch.nonce(2), id)
	if c.Parsed.Auth != nil {
		t.Fatalf("node connect carries auth: %s", c.Params)
	}
}

func TestAttachRejectsBadURL(t *testing.T) {
	if _, err := deviceauth.New(secrets.NewMemory()).Attach(client.Options{URL: "ftp://x"}, false); err == nil {
		t.Fatal("bad URL accepted")
	}
}

// The whole token life cycle against a gateway that pairs devices: the
// token from hello-ok is saved, offered on the next connect, and forgotten
// when the gateway no longer knows it.
func TestTokenLifecycle(t *testing.T) {
	gw := newDeviceGateway(t, "T")
	store := secrets.NewFile(filepath.Join(t.TempDir(), "secrets.json"))
	k := deviceauth.New(store)
	var saveErrs []error
	k.OnError = func(err error) { saveErrs = append(saveErrs, err) }
	id, _ := k.Identity()

	// 1. Shared token: the gateway pairs the device and issues a token.
	opt, _ := k.Attach(client.Options{URL: gw.URL, Token: "T", Scopes: []string{protocol.ScopeRead, protocol.ScopeWrite}}, false)
	c, err := dial(t, opt)
	if err != nil {
		t.Fatal(err)
	}
	issued := c.Hello().Auth.DeviceToken
	if issued == "" {
		t.Fatal("the gateway issued no token")
	}
	tok, ok := deviceauth.New(store).Token(gw.URL, protocol.RoleOperator)
	if !ok || tok.Value != issued || !reflect.DeepEqual(tok.Scopes, []string{protocol.ScopeRead, protocol.ScopeWrite}) || tok.IssuedAtMs == 0 {
		t.Fatalf("saved %+v %v", tok, ok)
	}
	// The bootstrap handoff's extra token was saved for its role.
	if tok, ok := k.Token(gw.URL, protocol.RoleNode); !ok || tok.Value != "node-"+issued {
		t.Fatalf("node token %+v %v", tok, ok)
	}

	// 2. No shared secret: the stored token authenticates, with its scopes.
	opt, _ = k.Attach(client.Options{URL: gw.URL}, true)
	c, err = dial(t, opt)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Hello(); h.Auth.Method != "device-token" || !reflect.DeepEqual(h.Auth.Scopes, []string{protocol.ScopeRead, protocol.ScopeWrite}) {
		t.Fatalf("hello auth %+v", h.Auth)
	}

	// 3. The gateway forgets the device: the stale token is rejected and
	// dropped, and the next attempt asks for pairing.
	gw.reset()
	opt, _ = k.Attach(client.Options{URL: gw.URL}, true)
	_, err = dial(t, opt)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.DetailCode() != protocol.DetailAuthDeviceTokenMismatch {
		t.Fatalf("stale token: %v", err)
	}
	if k.HandleConnectError(gw.URL, "", errors.New("other")) {
		t.Fatal("unrelated error handled")
	}
	if !k.HandleConnectError(gw.URL, protocol.RoleOperator, err) {
		t.Fatal("mismatch not handled")
	}
	if _, ok := k.Token(gw.URL, protocol.RoleOperator); ok {
		t.Fatal("stale token kept")
	}
	if k.HandleConnectError(gw.URL, protocol.RoleOperator, err) {
		t.Fatal("nothing left to forget, yet handled")
	}
	_, err = dial(t, opt)
	if !errors.As(err, &pe) || pe.Code != protocol.CodeNotPaired || pe.DetailCode() != protocol.DetailPairingRequired {
		t.Fatalf("after forgetting: %v", err)
	}
	if got := gw.deviceIDs(); len(got) == 0 || got[len(got)-1] != id.DeviceID {
		t.Fatalf("gateway saw devices %v", got)
	}
	if len(saveErrs) != 0 {
		t.Fatalf("save errors %v", saveErrs)
	}
}

// A store that cannot save makes OnHello report, not fail the connect.
func TestSaveFailureIsReported(t *testing.T) {
	gw := newDeviceGateway(t, "T")
	k := deviceauth.New(&failingSets{Store: secrets.NewMemory()})
	if _, err := k.Identity(); err == nil {
		t.Fatal("identity saved through a failing store")
	}
	inner := secrets.NewMemory()
	k = deviceauth.New(inner)
	if _, err := k.Identity(); err != nil {
		t.Fatal(err)
	}
	fs := &failingSets{Store: inner}
	k2 := deviceauth.New(fs)
	var got []error
	var mu sync.Mutex
	k2.OnError = func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() }
	opt, err := k2.Attach(client.Options{URL: gw.URL, Token: "T"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, opt); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0].Error(), "save the device token") {
		t.Fatalf("reported %v", got)
	}
}

type failingSets struct{ secrets.Store }

func (f *failingSets) Set(string, string) error { return errors.New("read-only store") }
