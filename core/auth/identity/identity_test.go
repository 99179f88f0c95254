package identity

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

func connectFor(t *testing.T) (*Identity, *protocol.ConnectParams, protocol.ChallengeEvent) {
	t.Helper()
	id, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	tok := "T"
	p := &protocol.ConnectParams{MinProtocol: 4, MaxProtocol: 4, Role: "node", Scopes: []string{},
		Client: protocol.ClientInfo{ID: "node-host", Mode: "node", Version: "1", Platform: "Linux ", DeviceFamily: "LINUX"},
		Auth:   &protocol.ConnectAuth{Token: &tok}}
	ch := protocol.ChallengeEvent{Nonce: "d4d39dbe-9938-424a-b06e-208d6d1446ea", Ts: time.Now().UnixMilli()}
	id.SignConnect(p, ch)
	return id, p, ch
}

func TestPayloadFormat(t *testing.T) {
	f := PayloadFields{DeviceID: "abc", ClientID: "node-host", ClientMode: "node", Role: "node", SignedAtMs: 1795311569184,
		Token: "tok", Nonce: "n1", Platform: " Linux", DeviceFamily: "Ünix LINUX"}
	if got, want := PayloadV3(f), "v3|abc|node-host|node|node||1795311569184|tok|n1|linux|Ünix linux"; got != want {
		t.Fatalf("v3 = %q, want %q", got, want)
	}
	f.Scopes = []string{"operator.write", "operator.read"}
	if got, want := PayloadV2(f), "v2|abc|node-host|node|node|operator.write,operator.read|1795311569184|tok|n1"; got != want {
		t.Fatalf("v2 = %q, want %q", got, want)
	}
}

func TestSignAndVerify(t *testing.T) {
	id, p, ch := connectFor(t)
	v, perr := VerifyConnect(p, ch.Nonce, time.Now())
	if perr != nil {
		t.Fatal(perr)
	}
	if v.PayloadVersion != "v3" || v.DeviceID != id.DeviceID || len(v.PublicKey) != 43 {
		t.Fatalf("verified = %+v", v)
	}
	// v2 signatures are still accepted.
	p.Device.Signature = id.Sign(PayloadV2(FieldsFor(p, id.DeviceID, ch.Ts, ch.Nonce)))
	if v, perr = VerifyConnect(p, ch.Nonce, time.Now()); perr != nil || v.PayloadVersion != "v2" {
		t.Fatalf("v2: %+v %v", v, perr)
	}
}

func TestVerifyErrorsInOrder(t *testing.T) {
	cases := []struct {
		name, reason, code string
		mutate             func(p *protocol.ConnectParams, nonce *string, now *time.Time)
	}{
		{"id mismatch", "device-id-mismatch", protocol.DetailDeviceAuthDeviceIDMismatch, func(p *protocol.ConnectParams, _ *string, _ *time.Time) {
			p.Device.ID = strings.Repeat("0", 64)
			p.Device.Nonce = "" // the id check comes first
		}},
		{"bad key", "device-id-mismatch", protocol.DetailDeviceAuthDeviceIDMismatch, func(p *protocol.ConnectParams, _ *string, _ *time.Time) {
			p.Device.PublicKey = "not a key"
		}},
		{"stale", "device-signature-stale", protocol.DetailDeviceAuthSignatureExpired, func(_ *protocol.ConnectParams, _ *string, now *time.Time) {
			*now = now.Add(121 * time.Second)
		}},
		{"nonce missing", "device-nonce-missing", protocol.DetailDeviceAuthNonceRequired, func(p *protocol.ConnectParams, _ *string, _ *time.Time) {
			p.Device.Nonce = "  "
		}},
		{"nonce mismatch", "device-nonce-mismatch", protocol.DetailDeviceAuthNonceMismatch, func(_ *protocol.ConnectParams, n *string, _ *time.Time) {
			*n = "other"
		}},
		{"scopes changed", "device-signature", protocol.DetailDeviceAuthSignatureInvalid, func(p *protocol.ConnectParams, _ *string, _ *time.Time) {
			p.Scopes = []string{"operator.admin"}
		}},
		{"platform changed", "device-signature", protocol.DetailDeviceAuthSignatureInvalid, func(p *protocol.ConnectParams, _ *string, _ *time.Time) {
			p.Client.Platform = "darwin"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, p, ch := connectFor(t)
			nonce, now := ch.Nonce, time.Now()
			tc.mutate(p, &nonce, &now)
			_, perr := VerifyConnect(p, nonce, now)
			if perr == nil || perr.Reason != tc.reason || perr.DetailCode() != tc.code {
				t.Fatalf("got %+v, want reason %s", perr, tc.reason)
			}
		})
	}
}

func TestLenientPublicKey(t *testing.T) {
	id, _ := Generate()
	der, _ := x509.MarshalPKIXPublicKey(id.PublicKey)
	forms := []string{
		id.PublicKeyBase64URL(),
		base64.StdEncoding.EncodeToString(id.PublicKey),
		base64.URLEncoding.EncodeToString(id.PublicKey),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		base64.StdEncoding.EncodeToString(der),
	}
	for _, f := range forms {
		got, err := NormalizePublicKey(f)
		if err != nil || got != id.PublicKeyBase64URL() {
			t.Fatalf("normalize %q = %q, %v", f, got, err)
		}
	}
	for _, bad := range []string{"", "abc", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----", base64.StdEncoding.EncodeToString(make([]byte, 31))} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func TestPrivateKeyPEMRoundTrip(t *testing.T) {
	id, _ := Generate()
	s, err := id.MarshalPrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKeyPEM(s)
	if err != nil || back.DeviceID != id.DeviceID {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := ParsePrivateKeyPEM("junk"); err == nil {
		t.Fatal("junk accepted")
	}
}

func FuzzParsePublicKey(f *testing.F) {
	id, _ := Generate()
	f.Add(id.PublicKeyBase64URL())
	f.Add("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := ParsePublicKey(s)
		if err == nil && len(pub) != 32 {
			t.Fatalf("accepted %d-byte key", len(pub))
		}
	})
}
