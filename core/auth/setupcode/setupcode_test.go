package setupcode

import (
	"testing"

	"github.com/pincerhq/pincer/core/protocol"
)

func TestRoundTripAndErrors(t *testing.T) {
	in := protocol.SetupCodePayload{URL: "ws://192.0.2.1:18789", BootstrapToken: "tok", ExpiresAtMs: 5}
	for _, code := range []string{Encode(in), "oc-pair://" + Encode(in)} {
		out, err := Decode(code)
		if err != nil || out.URL != in.URL || out.BootstrapToken != in.BootstrapToken || out.ExpiresAtMs != in.ExpiresAtMs {
			t.Fatalf("decode(%q) = %+v, %v", code, out, err)
		}
	}
	for _, bad := range []string{"", "!!!", Encode(protocol.SetupCodePayload{URL: "http://x", BootstrapToken: "t"}),
		Encode(protocol.SetupCodePayload{URL: "ws://x"})} {
		if _, err := Decode(bad); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(protocol.SetupCodePayload{URL: "ws://h:1", BootstrapToken: "t"}))
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := Decode(s); err == nil && (p.URL == "" || p.BootstrapToken == "") {
			t.Fatalf("accepted incomplete code %q", s)
		}
	})
}
