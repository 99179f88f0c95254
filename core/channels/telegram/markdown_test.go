package telegram

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

func TestMarkdownToHTML(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"**bold** and __also__", "<b>bold</b> and <b>also</b>"},
		{"*it* and _it_", "<i>it</i> and <i>it</i>"},
		{"snake_case_name and 2*3*4", "snake_case_name and 2<i>3</i>4"},
		{"~~gone~~", "<s>gone</s>"},
		{"use `a<b && **c**`", "use <code>a&lt;b &amp;&amp; **c**</code>"},
		{"**bold with `code`**", "<b>bold with <code>code</code></b>"},
		{"**bold _it_**", "<b>bold <i>it</i></b>"},
		{"unclosed **bold", "unclosed **bold"},
		{"a lone * star", "a lone * star"},
		{"* bullet", "* bullet"},
		{`\*not italic\*`, "*not italic*"},
		{"[site](https://e.test/a?b=1&c=\"2\")", `<a href="https://e.test/a?b=1&amp;c=&quot;2&quot;">site</a>`},
		{"[**b**](http://x.test)", `<a href="http://x.test"><b>b</b></a>`},
		{"[wiki](https://w.test/A_(b))", `<a href="https://w.test/A_(b)">wiki</a>`},
		{"[x](javascript:alert(1))", "[x](javascript:alert(1))"},
		{"[x](not a url)", "[x](not a url)"},
		{"# Title\n## Sub & more", "<b>Title</b>\n<b>Sub &amp; more</b>"},
		{"#hashtag", "#hashtag"},
		{"```go\nif a < b {\n\t**x**\n}\n```\nafter", "<pre><code class=\"language-go\">if a &lt; b {\n\t**x**\n}</code></pre>\nafter"},
		{"```\nplain\n```", "<pre>plain</pre>"},
		{"```bad\"lang\ncode\n```", "<pre>code</pre>"},
		{"```\nunclosed <", "<pre>unclosed &lt;</pre>"},
		{"```py\n```js\n```", "<pre><code class=\"language-py\">```js</code></pre>"},
		{"emoji 😀 **ok**", "emoji 😀 <b>ok</b>"},
		{"``` inline ``` mid-line", "``` inline ``` mid-line"},
	}
	for _, c := range cases {
		if got := markdownToHTML(c.in); got != c.want {
			t.Errorf("markdownToHTML(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

var tagTok = regexp.MustCompile(`^<(/?)(b|i|s|code|pre|a)( class="language-[A-Za-z0-9_+#-]+"| href="[^"<>]*")?>`)

// wellFormed checks that s only uses the converter's tags, balanced and
// properly nested, and that every & starts an entity.
func wellFormed(s string) bool {
	var stack []string
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '>':
			return false
		case '&':
			rest := s[i:]
			if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") &&
				!strings.HasPrefix(rest, "&gt;") && !strings.HasPrefix(rest, "&quot;") {
				return false
			}
		case '<':
			m := tagTok.FindStringSubmatch(s[i:])
			if m == nil {
				return false
			}
			if m[1] == "/" {
				if len(stack) == 0 || stack[len(stack)-1] != m[2] {
					return false
				}
				stack = stack[:len(stack)-1]
			} else {
				stack = append(stack, m[2])
			}
			i += len(m[0]) - 1
		}
	}
	return len(stack) == 0
}

func randomMarkdown(r *rand.Rand, n int) string {
	atoms := []string{"*", "**", "_", "__", "~~", "`", "```", "```go", "[", "]", "(", ")", "https://x.test/", "<", ">", "&",
		"\"", "\\", "#", " ", " ", "\n", "\n\n", "word", "snake_case", "😀", "é", "a", "1"}
	var b strings.Builder
	for range n {
		b.WriteString(atoms[r.Intn(len(atoms))])
	}
	return b.String()
}

func TestMarkdownToHTMLAlwaysWellFormed(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for range 5000 {
		in := randomMarkdown(r, 1+r.Intn(40))
		if out := markdownToHTML(in); !wellFormed(out) {
			t.Fatalf("malformed HTML for %q:\n%s", in, out)
		}
	}
}

func FuzzMarkdownToHTML(f *testing.F) {
	for _, s := range []string{"**a**", "[x](https://y)", "```go\nz\n```", "<&>", "_a_b_", "`x`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if out := markdownToHTML(in); !wellFormed(out) {
			t.Fatalf("malformed HTML for %q: %s", in, out)
		}
	})
}

func TestSplitMarkdown(t *testing.T) {
	if got := splitMarkdown("short", 4096); len(got) != 1 || got[0] != "short" {
		t.Fatalf("short: %q", got)
	}
	// paragraphs preferred
	p1, p2 := strings.Repeat("a", 60), strings.Repeat("b", 30)
	got := splitMarkdown(p1+"\n\n"+p2, 80)
	if len(got) != 2 || got[0] != p1 || got[1] != p2 {
		t.Fatalf("paragraphs: %q", got)
	}
	// then lines, then words, then a hard cut
	got = splitMarkdown(strings.Repeat("x", 50)+"\n"+strings.Repeat("y", 50), 80)
	if len(got) != 2 || got[0] != strings.Repeat("x", 50) {
		t.Fatalf("lines: %q", got)
	}
	got = splitMarkdown(strings.Repeat("word ", 40), 64)
	for _, c := range got {
		if strings.HasPrefix(c, " ") || strings.HasSuffix(c, "wor") {
			t.Fatalf("words: %q", got)
		}
	}
	got = splitMarkdown(strings.Repeat("z", 200), 64)
	if len(got) != 4 || got[0] != strings.Repeat("z", 64) || got[3] != strings.Repeat("z", 8) {
		t.Fatalf("hard: %q", got)
	}
	// UTF-16 counting: 😀 is two units and is never cut in half
	got = splitMarkdown(strings.Repeat("😀", 100), 65)
	for _, c := range got {
		if utf16Len(c) > 65 || !strings.HasPrefix(c, "😀") || strings.ContainsRune(c, '\uFFFD') {
			t.Fatalf("emoji chunk %q", c)
		}
	}
	// a fence split across chunks is closed and reopened
	code := "```python\n" + strings.Repeat("print(1)\n", 30) + "```\ntail"
	got = splitMarkdown(code, 100)
	if len(got) < 3 {
		t.Fatalf("fence: %q", got)
	}
	for i, c := range got {
		if utf16Len(c) > 100 {
			t.Fatalf("fence chunk %d too long: %d", i, utf16Len(c))
		}
		if i < len(got)-1 && !strings.HasSuffix(c, "\n```") {
			t.Fatalf("fence chunk %d not closed: %q", i, c)
		}
		if i > 0 && !strings.HasPrefix(c, "```python\n") {
			t.Fatalf("fence chunk %d not reopened: %q", i, c)
		}
		if h := markdownToHTML(c); !strings.HasPrefix(h, `<pre><code class="language-python">`) || !wellFormed(h) {
			t.Fatalf("fence chunk %d renders %q", i, h)
		}
	}
	if !strings.HasSuffix(got[len(got)-1], "```\ntail") {
		t.Fatalf("tail: %q", got[len(got)-1])
	}
}

func TestSplitMarkdownKeepsContent(t *testing.T) {
	squash := func(s string) string {
		return strings.NewReplacer(" ", "", "\n", "", "`", "").Replace(s)
	}
	r := rand.New(rand.NewSource(2))
	for range 500 {
		// fences without a language: a reopened fence repeats its
		// language, which would not squash away
		lines := strings.Split(randomMarkdown(r, 50+r.Intn(400)), "\n")
		for i, l := range lines {
			if fence, _ := isFence(l); fence {
				lines[i] = "```"
			}
		}
		in := strings.Join(lines, "\n")
		limit := 64 + r.Intn(200)
		chunks := splitMarkdown(in, limit)
		for _, c := range chunks {
			if utf16Len(c) > limit || strings.TrimSpace(c) == "" {
				t.Fatalf("limit %d: bad chunk %q of %q", limit, c, in)
			}
			if !wellFormed(markdownToHTML(c)) {
				t.Fatalf("chunk renders malformed: %q", c)
			}
		}
		if squash(strings.Join(chunks, "")) != squash(in) {
			t.Fatalf("content changed (limit %d):\n in %q\nout %q", limit, in, chunks)
		}
	}
}

func FuzzSplitMarkdown(f *testing.F) {
	f.Add("```go\nx\n```\n\npara two", 8)
	f.Add(strings.Repeat("😀 a\n", 50), 3)
	f.Fuzz(func(t *testing.T, in string, limit int) {
		limit = 1 + int(uint(limit)%300)
		for _, c := range splitMarkdown(in, limit) {
			if n := utf16Len(c); n > limit && !(n == 2 && limit == 1) {
				t.Fatalf("limit %d: chunk of %d units %q", limit, n, c)
			}
		}
	})
}
