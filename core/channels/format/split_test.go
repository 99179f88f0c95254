package format

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	fence := "```go\nfunc a() {}\nfunc b() {}\n```"
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"empty", "", 10, nil},
		{"only whitespace", " \n\t\n ", 10, nil},
		{"fits", "hello world", 20, []string{"hello world"}},
		{"fits exactly", "hello", 5, []string{"hello"}},
		{"fits, trimmed", "\n\nhello  \n\n", 20, []string{"hello"}},
		{"no limit", strings.Repeat("x", 100), 0, []string{strings.Repeat("x", 100)}},
		{"paragraph before line", "aaa bbb\nccc\n\nddd eee", 15, []string{"aaa bbb\nccc", "ddd eee"}},
		{"line before sentence", "One. Two.\nThree four five", 12, []string{"One. Two.", "Three four", "five"}},
		{"sentence before space", "One two. Three four.", 15, []string{"One two.", "Three four."}},
		{"question and exclamation", "Really? Yes! Done now", 10, []string{"Really?", "Yes!", "Done now"}},
		{"space", "alpha beta gamma delta", 11, []string{"alpha beta", "gamma delta"}},
		{"mid-word last resort", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"long word between words", "a bcdefghijk l", 5, []string{"a", "bcdef", "ghijk", "l"}},
		{"runes not bytes", "ééééé ééééé", 5, []string{"ééééé", "ééééé"}},
		{"cjk sentences", "日本語です。続きます。", 6, []string{"日本語です。", "続きます。"}},
		{"emoji modifiers kept", "👍🏽👍🏽👍🏽", 3, []string{"👍🏽", "👍🏽", "👍🏽"}},
		{"combining mark kept", "abcde\u0301fg", 5, []string{"abcd", "e\u0301fg"}},
		{"flags kept", "🇩🇪🇫🇷", 3, []string{"🇩🇪", "🇫🇷"}},
		{"crlf", "one\r\ntwo\r\n\r\nthree", 8, []string{"one\r\ntwo", "three"}},
		{"indent of first line kept", "intro\n\n    indented code", 18, []string{"intro", "    indented code"}},
		{"huge indent skipped", "a\n" + strings.Repeat(" ", 20) + "b", 5, []string{"a", "b"}},
		{"fence kept whole", "Some intro text.\n" + fence + "\nafter", 35,
			[]string{"Some intro text.", fence, "after"}},
		{"fence kept whole, text after packed", "Some intro text.\n" + fence + "\nafter", 40,
			[]string{"Some intro text.", fence + "\nafter"}},
		{"fence packed with text when it fits", "Intro.\n" + fence + "\nMore text here.", 40,
			[]string{"Intro.\n" + fence, "More text here."}},
		{"paragraph inside fence ignored", "x\n```\na\n\nb\n```\ny", 14,
			[]string{"x\n```\na\n\nb\n```", "y"}},
		{"oversized fence reopened", "Intro.\n\n```go\nline1\nline2\nline3\nline4\n```\nOutro.", 21,
			[]string{"Intro.", "```go\nline1\nline2\n```", "```go\nline3\nline4\n```", "Outro."}},
		{"oversized fence tail packed with text", "```\naaaa\nbbbb\ncccc\n```\nok", 17,
			[]string{"```\naaaa\nbbbb\n```", "```\ncccc\n```\nok"}},
		{"oversized fence with long line", "```\n" + strings.Repeat("z", 12) + "\n```", 12,
			[]string{"```\nzzzz\n```", "```\nzzzz\n```", "```\nzzzz\n```"}},
		{"unclosed fence", "```\naaaa\nbbbb\ncccc", 13,
			[]string{"```\naaaa\n```", "```\nbbbb\ncccc"}},
		{"fence closes only on a bare fence", "~~~\nx\n~~~ no\n\ny\n~~~\nz", 19, []string{"~~~\nx\n~~~ no\n\ny\n~~~", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.text, tt.limit)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Split(%q, %d)\n got %q\nwant %q", tt.text, tt.limit, got, tt.want)
			}
			checkChunks(t, tt.text, tt.limit, got)
		})
	}
}

func TestSplitLongText(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		b.WriteString("This is sentence number ")
		b.WriteString(strings.Repeat("x", i%17))
		b.WriteString(". ")
		if i%7 == 0 {
			b.WriteString("\n")
		}
		if i%23 == 0 {
			b.WriteString("\n```sh\necho hi\necho there\n```\n\n")
		}
	}
	text := b.String()
	for _, limit := range []int{40, 100, 333, 4096} {
		chunks := Split(text, limit)
		checkChunks(t, text, limit, chunks)
		for _, c := range chunks {
			if strings.Count(c, "```")%2 != 0 {
				t.Fatalf("limit %d: chunk splits a code block: %q", limit, c)
			}
		}
	}
}

// checkChunks verifies Split's invariants: no empty chunk, none over the
// limit, trimmed, and (for text without fences, which Split may close and
// reopen) nothing but whitespace lost or added.
func checkChunks(t *testing.T, text string, limit int, chunks []string) {
	t.Helper()
	for _, c := range chunks {
		if strings.TrimSpace(c) == "" {
			t.Fatalf("empty chunk in %q", chunks)
		}
		if limit > 0 && utf8.RuneCountInString(c) > limit {
			t.Fatalf("chunk over limit %d (%d): %q", limit, utf8.RuneCountInString(c), c)
		}
		if c != strings.TrimRightFunc(c, unicode.IsSpace) || strings.HasPrefix(c, "\n") {
			t.Fatalf("chunk not trimmed: %q", c)
		}
		if !utf8.ValidString(c) {
			t.Fatalf("invalid UTF-8 chunk %q", c)
		}
	}
	if !strings.ContainsAny(text, "`~") && utf8.ValidString(text) {
		if got, want := noSpace(strings.Join(chunks, "")), noSpace(text); got != want {
			t.Fatalf("content changed:\n got %q\nwant %q", got, want)
		}
	}
}

func noSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
