package pairing

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/store"
)

func TestPendingRequestsAndSetupCodesExpire(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "state", "pincer.sqlite"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := New(ctx, st, nil, func() Config { return Config{AutoApproveLocal: true} })
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	s.now = func() time.Time { return clock }
	adm := &gateway.DeviceAdmission{
		Params:   &protocol.ConnectParams{Client: protocol.ClientInfo{ID: "openclaw-ios", Mode: "ui", Platform: "iOS 18.4.0", DeviceFamily: "iPhone"}},
		DeviceID: "dev1", PublicKey: "pk1", Role: "operator", Scopes: []string{"operator.read"}, AuthMethod: "token", ClientIP: "10.1.2.3",
	}
	if _, denial := s.Admit(ctx, adm); denial == nil {
		t.Fatal("remote device admitted")
	}
	if n := len(s.List(ctx).Pending); n != 1 {
		t.Fatalf("%d pending", n)
	}
	clock = clock.Add(PendingTTL - time.Second)
	if n := len(s.List(ctx).Pending); n != 1 {
		t.Fatal("request expired early")
	}
	clock = clock.Add(2 * time.Second)
	if n := len(s.List(ctx).Pending); n != 0 {
		t.Fatalf("%d pending after 5 minutes", n)
	}

	tok := newToken()
	b := &bootstrapRow{Hash: hashToken(tok), SetupID: "s1", Profile: "node", CreatedAtMs: clock.UnixMilli(),
		ExpiresAtMs: clock.Add(BootstrapTTL).UnixMilli()}
	if err := s.db.saveBootstrap(ctx, b); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.VerifyCredential(ctx, "bootstrap-token", "dev2", "pk2", tok, "node", nil); !ok {
		t.Fatal("fresh setup code refused")
	}
	if ok, _ := s.VerifyCredential(ctx, "bootstrap-token", "dev2", "pk2", tok, "operator", nil); ok {
		t.Fatal("node-only setup code admitted an operator")
	}
	clock = clock.Add(BootstrapTTL + time.Second)
	if ok, reason := s.VerifyCredential(ctx, "bootstrap-token", "dev2", "pk2", tok, "node", nil); ok || reason != "bootstrap_token_invalid" {
		t.Fatalf("expired setup code: ok=%v reason=%s", ok, reason)
	}
}
