package format

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"",
	"hello **world** and *you* _x_ ~~y~~ `z`",
	"# h\n- a\n1. b\n> q **b**\n> > n\n\n```go\na<b\n```\n---",
	"[a](https://b.c) ![i](https://d.e/f.png) <https://x.y> [r](/rel)",
	"**`c`** [`c`](https://x.y) ***a*** __b__ *a **b** c*",
	"```\nunclosed\n\n\ntext",
	"\\*esc\\* a_b_c 2 * 3 ` `` ``` ~~~",
	"日本語。👍🏽🇩🇪 e\u0301\r\nline\r\n",
	"[[a]](https://b.c) [a](<https://b c>) [x](https://y.z \"t\")",
	"> ```\n> code\n> ```\n> - item",
}

func FuzzTelegramHTML(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		out := TelegramHTML(md)
		if err := checkTelegramHTML(out); err != nil {
			t.Fatalf("TelegramHTML(%q) = %q: %v", md, out, err)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("TelegramHTML(%q) is not UTF-8: %q", md, out)
		}
		plain := PlainText(md)
		if !utf8.ValidString(plain) {
			t.Fatalf("PlainText(%q) is not UTF-8: %q", md, plain)
		}
	})
}

func FuzzSplit(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, uint16(7))
		f.Add(s, uint16(20))
	}
	f.Add(strings.Repeat("word ", 50)+"\n\n```\n"+strings.Repeat("code\n", 30)+"```\n", uint16(33))
	f.Fuzz(func(t *testing.T, text string, limit uint16) {
		l := int(limit % 400)
		chunks := Split(text, l)
		checkChunks(t, text, l, chunks)
		if strings.TrimSpace(text) != "" && len(chunks) == 0 {
			t.Fatalf("Split(%q, %d) lost the text", text, l)
		}
	})
}
