package sessions

import (
	"errors"
	"strings"
	"testing"
)

func TestMainKey(t *testing.T) {
	if got := MainKey("main"); got != "agent:main:main" {
		t.Fatalf("MainKey = %q", got)
	}
	if !IsMain("agent:ops:main") || IsMain("agent:ops:telegram:dm:1") || IsMain("main") {
		t.Fatal("IsMain")
	}
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		key, agent, rest string
		ok               bool
	}{
		{"agent:main:main", "main", "main", true},
		{"agent:ops:telegram:group:-100123", "ops", "telegram:group:-100123", true},
		{"agent:main:", "", "", false},
		{"agent::main", "", "", false},
		{"agent:main", "", "", false},
		{"main", "", "", false},
		{"", "", "", false},
		{"Agent:main:main", "", "", false},
	} {
		a, r, ok := ParseKey(tc.key)
		if a != tc.agent || r != tc.rest || ok != tc.ok {
			t.Errorf("ParseKey(%q) = %q, %q, %v", tc.key, a, r, ok)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ in, def, want string }{
		{"main", "", "agent:main:main"},
		{"main", "ops", "agent:ops:main"},
		{"  main\t", "", "agent:main:main"},
		{"agent:ops:main", "main", "agent:ops:main"},
		{"AGENT:ops:main", "main", "agent:ops:main"},
		{"telegram:dm:42", "", "agent:main:telegram:dm:42"},
		{"tooltest", "main", "agent:main:tooltest"},
		{"agent:main:with spaces inside", "", "agent:main:with spaces inside"},
		{"café", "", "agent:main:café"},
	} {
		got, err := Canonical(tc.in, tc.def)
		if err != nil || got != tc.want {
			t.Errorf("Canonical(%q, %q) = %q, %v; want %q", tc.in, tc.def, got, err, tc.want)
		}
	}
}

func TestCanonicalRejects(t *testing.T) {
	for _, tc := range []struct{ in, def, msg string }{
		{"", "", "empty"},
		{"   \t\n", "", "empty"},
		{strings.Repeat("k", MaxKeyLen+1), "", "limit"},
		{strings.Repeat("k", MaxKeyLen-5), "", "expands"},
		{"a\x00b", "", "control"},
		{"line\nbreak", "", "control"},
		{"del\x7f", "", "control"},
		{"c1\u0085x", "", "control"},
		{"bad\xffutf8", "", "UTF-8"},
		{"agent:main", "", "agent:<agentId>:<name>"},
		{"agent::main", "", "agent:<agentId>:<name>"},
		{"agent:main:", "", "agent:<agentId>:<name>"},
		{"main", "a:b", "contains ':'"},
		{"main", "a b", "whitespace"},
		{"agent:a b:main", "", "whitespace"},
	} {
		got, err := Canonical(tc.in, tc.def)
		if err == nil {
			t.Errorf("Canonical(%q, %q) = %q, want an error", tc.in, tc.def, got)
			continue
		}
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Canonical(%q): %v is not ErrInvalidKey", tc.in, err)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Canonical(%q): error %q does not mention %q", tc.in, err, tc.msg)
		}
	}
}
