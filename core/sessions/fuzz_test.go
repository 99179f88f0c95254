package sessions

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"main", "agent:main:main", "agent:ops:telegram:dm:1", "", " ", "agent:", "agent::x",
		"AGENT:x:y", "a\x00", "\xff", strings.Repeat("x", 600), "agent:main:\u0085", "group:chat:-1"} {
		f.Add(s, "main")
		f.Add(s, "")
		f.Add(s, "ops")
	}
	f.Fuzz(func(t *testing.T, in, def string) {
		out, err := Canonical(in, def)
		if err != nil {
			return
		}
		if len(out) > MaxKeyLen {
			t.Fatalf("Canonical(%q, %q) = %d bytes", in, def, len(out))
		}
		if !utf8.ValidString(out) || strings.IndexFunc(out, unicode.IsControl) >= 0 {
			t.Fatalf("Canonical(%q, %q) = %q has invalid characters", in, def, out)
		}
		if _, _, ok := ParseKey(out); !ok {
			t.Fatalf("Canonical(%q, %q) = %q does not parse", in, def, out)
		}
		if _, err := validKey(out); err != nil {
			t.Fatalf("Canonical(%q, %q) = %q, which the store rejects: %v", in, def, out, err)
		}
		again, err := Canonical(out, "other")
		if err != nil || again != out {
			t.Fatalf("Canonical is not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}
