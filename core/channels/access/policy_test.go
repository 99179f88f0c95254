package access

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/channels/channel"
)

func TestCodeAlphabetAndLength(t *testing.T) {
	if len(CodeAlphabet) != 32 {
		t.Fatalf("alphabet has %d letters", len(CodeAlphabet))
	}
	if strings.ContainsAny(CodeAlphabet, "0O1I") || strings.ToUpper(CodeAlphabet) != CodeAlphabet {
		t.Fatal("alphabet has ambiguous or lower-case characters")
	}
	s := &Store{rand: rand.Reader}
	seen := map[byte]bool{}
	for range 2000 {
		code, err := s.newCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != CodeLength {
			t.Fatalf("code %q has length %d", code, len(code))
		}
		for i := range len(code) {
			if !strings.ContainsRune(CodeAlphabet, rune(code[i])) {
				t.Fatalf("code %q has %q", code, code[i])
			}
			seen[code[i]] = true
		}
	}
	if len(seen) != 32 {
		t.Fatalf("only %d letters drawn", len(seen))
	}
	// Every byte value maps into the alphabet.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	s.rand = bytes.NewReader(all)
	for range 32 {
		if _, err := s.newCode(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.newCode(); err == nil {
		t.Fatal("short random source accepted")
	}
}

func TestSenderAllowed(t *testing.T) {
	alice := channel.Sender{ID: "123", Username: "Alice"}
	tests := []struct {
		name  string
		list  []string
		names bool
		want  bool
	}{
		{"empty", nil, false, false},
		{"id", []string{"999", "123"}, false, true},
		{"id with spaces", []string{" 123 "}, false, true},
		{"channel prefix", []string{"telegram:123"}, false, true},
		{"channel prefix any case", []string{"Telegram:123"}, false, true},
		{"alias prefix", []string{"tg:123"}, false, true},
		{"other channel prefix", []string{"discord:123"}, false, false},
		{"wildcard", []string{"*"}, false, true},
		{"username needs name matching", []string{"@alice"}, false, false},
		{"username with name matching", []string{"@alice"}, true, true},
		{"username prefixed", []string{"telegram:@ALICE"}, true, true},
		{"bare username never matches", []string{"alice"}, true, false},
		{"other id", []string{"1234"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := senderAllowed("telegram", tt.list, alice, tt.names); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
	if senderAllowed("telegram", []string{"@"}, channel.Sender{ID: "1"}, true) {
		t.Error("empty username matched")
	}
	matrix := channel.Sender{ID: "@bob:example.org"}
	if !senderAllowed("matrix", []string{"@bob:example.org"}, matrix, false) {
		t.Error("matrix ids start with @ and must match as ids")
	}
}

func TestIsOwner(t *testing.T) {
	s := channel.Sender{ID: "123"}
	tests := []struct {
		owners []string
		want   bool
	}{
		{nil, false},
		{[]string{"telegram:123"}, true},
		{[]string{"TG:123"}, true},
		{[]string{"123"}, true},
		{[]string{"discord:123"}, false},
		{[]string{"*"}, false},
		{[]string{"telegram:*"}, false},
		{[]string{"telegram:user:123"}, false},
		{[]string{"telegram:456", "discord:123", "telegram:123"}, true},
	}
	for _, tt := range tests {
		if got := isOwner("telegram", tt.owners, s); got != tt.want {
			t.Errorf("isOwner(%v) = %v", tt.owners, got)
		}
	}
	if isOwner("telegram", []string{"123"}, channel.Sender{}) {
		t.Error("sender without id is an owner")
	}
}

func TestPairingReply(t *testing.T) {
	got := PairingReply("Telegram", "123", "ABCD2345")
	for _, want := range []string{"user id: 123", "\nABCD2345\n", "pincer pairing approve telegram ABCD2345"} {
		if !strings.Contains(got, want) {
			t.Errorf("reply lacks %q:\n%s", want, got)
		}
	}
}
