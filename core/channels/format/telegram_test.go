package format

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestTelegramHTML(t *testing.T) {
	tests := []struct{ name, md, want string }{
		{"plain", "hello", "hello"},
		{"escaping", `a < b && c > d "q" 'x'`, `a &lt; b &amp;&amp; c &gt; d "q" 'x'`},
		{"html in input is text", "<b>hi</b> &amp;", "&lt;b&gt;hi&lt;/b&gt; &amp;amp;"},
		{"bold", "**b** and __b__", "<b>b</b> and <b>b</b>"},
		{"italic", "*i* and _i_", "<i>i</i> and <i>i</i>"},
		{"bold italic", "***bi***", "<b><i>bi</i></b>"},
		{"strike", "~~gone~~ ~one~", "<s>gone</s> ~one~"},
		{"nesting", "*a **b** c*", "<i>a <b>b</b> c</i>"},
		{"same style not repeated", "**a *b **c** d* e**", "<b>a <i>b c d</i> e</b>"},
		{"snake_case stays", "use snake_case_names and 2 * 3 * 4", "use snake_case_names and 2 * 3 * 4"},
		{"unclosed markers", "**open *half _x", "**open *half _x"},
		{"space after opener", "* not italic*", "• not italic*"},
		{"escaped markers", `\*lit\* \_x\_ \` + "`", "*lit* _x_ `"},
		{"code", "`a<b>&c`", "<code>a&lt;b&gt;&amp;c</code>"},
		{"code hides markup", "`**x** [a](https://b.c)`", "<code>**x** [a](https://b.c)</code>"},
		{"double backtick code", "`` a`b ``", "<code>a`b</code>"},
		{"unmatched backtick", "a ` b", "a ` b"},
		{"code inside bold closes it", "**x `c` y**", "<b>x </b><code>c</code><b> y</b>"},
		{"code alone in bold", "**`c`**", "<code>c</code>"},
		{"link", "[text](https://example.com/a?b=1&c=2)", `<a href="https://example.com/a?b=1&amp;c=2">text</a>`},
		{"link with title and parens", `[w](https://en.wikipedia.org/wiki/Go_(lang) "title")`, `<a href="https://en.wikipedia.org/wiki/Go_(lang)">w</a>`},
		{"link quote in url", `[x](https://a.b/?q="1")`, `<a href="https://a.b/?q=&quot;1&quot;">x</a>`},
		{"formatted link text", "[**bold** link](https://a.b)", `<a href="https://a.b"><b>bold</b> link</a>`},
		{"link in bold", "**see [docs](https://a.b)**", `<b>see <a href="https://a.b">docs</a></b>`},
		{"code in link loses style", "[`cmd`](https://a.b)", `<a href="https://a.b">cmd</a>`},
		{"relative link is text", "[docs](/docs)", "docs (/docs)"},
		{"javascript link is text", "[x](javascript:alert(1))", "x (javascript:alert(1))"},
		{"autolink", "<https://a.b/c>", `<a href="https://a.b/c">https://a.b/c</a>`},
		{"not an autolink", "<div>", "&lt;div&gt;"},
		{"image", "![alt](https://a.b/p.png)", `<a href="https://a.b/p.png">alt</a>`},
		{"brackets without link", "[a] [b](", "[a] [b]("},
		{"heading", "## Title with *it*", "<b>Title with <i>it</i></b>"},
		{"heading bold not repeated", "# **Big** ##", "<b>Big</b>"},
		{"not a heading", "#hashtag", "#hashtag"},
		{"bullets", "- one\n* two\n+ three", "• one\n• two\n• three"},
		{"nested and ordered", "1. first\n2) second\n   - sub *x*", "1. first\n2. second\n   • sub <i>x</i>"},
		{"tasks", "- [ ] todo\n- [x] done", "☐ todo\n☑ done"},
		{"rule", "a\n\n---\n\nb", "a\n\n———\n\nb"},
		{"blockquote", "> quoted **b**\n> line 2\n\nafter", "<blockquote>quoted <b>b</b>\nline 2</blockquote>\n\nafter"},
		{"nested blockquote flattened", "> a\n> > b", "<blockquote>a\nb</blockquote>"},
		{"empty blockquote", ">\n>", ""},
		{"fence with language", "```go\nif a < b {}\n```", `<pre><code class="language-go">if a &lt; b {}</code></pre>`},
		{"fence without language", "```\n**x**\n```", "<pre>**x**</pre>"},
		{"fence with odd language", "```\"><script>\nx\n```", "<pre>x</pre>"},
		{"unclosed fence", "```py\nprint(1)", `<pre><code class="language-py">print(1)</code></pre>`},
		{"empty fence dropped", "a\n```\n```\nb", "a\n\nb"},
		{"paragraph spanning lines", "**bold\nacross** lines", "<b>bold\nacross</b> lines"},
		{"multiple paragraphs", "one\n\ntwo", "one\n\ntwo"},
		{"outer blank lines dropped", "\n\n  one\n\n", "  one"},
		{"invalid utf8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TelegramHTML(tt.md)
			if got != tt.want {
				t.Fatalf("TelegramHTML(%q)\n got %q\nwant %q", tt.md, got, tt.want)
			}
			if err := checkTelegramHTML(got); err != nil {
				t.Fatalf("invalid output %q: %v", got, err)
			}
		})
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct{ name, md, want string }{
		{"emphasis", "**b** *i* ~~s~~ `c`", "b i s c"},
		{"link", "[docs](https://a.b) and [https://a.b](https://a.b)", "docs (https://a.b) and https://a.b"},
		{"mailto", "[me](mailto:me@x.y) [me@x.y](mailto:me@x.y)", "me (me@x.y) me@x.y"},
		{"heading and list", "# Title\n- one\n1. two", "Title\n• one\n1. two"},
		{"quote", "> a\n>\n> b", "> a\n>\n> b"},
		{"fence", "```go\nx := `*y*`\n```", "x := `*y*`"},
		{"escapes", `\*x\*`, "*x*"},
		{"html stays", "<b>x</b>", "<b>x</b>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlainText(tt.md); got != tt.want {
				t.Fatalf("PlainText(%q)\n got %q\nwant %q", tt.md, got, tt.want)
			}
		})
	}
}

var (
	tagRe    = regexp.MustCompile(`^<(/?)(b|i|s|code|pre|blockquote|a)(?: (href|class)="([^"<>]*)")?>`)
	entityRe = regexp.MustCompile(`^&(amp|lt|gt|quot);`)
)

// checkTelegramHTML verifies what Telegram's HTML parser accepts (and what
// TelegramHTML promises): only known tags, balanced; <a> with href only,
// <code> with a language class only directly inside <pre>; nothing inside
// code or pre (but pre's code); no code, pre or blockquote inside inline
// entities; no blockquote or link inside itself; '<', '>' and '&' only as
// markup or entities.
func checkTelegramHTML(s string) error {
	var stack []string
	has := func(names ...string) bool {
		for _, o := range stack {
			for _, n := range names {
				if o == n {
					return true
				}
			}
		}
		return false
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			m := tagRe.FindStringSubmatch(s[i:])
			if m == nil {
				return fmt.Errorf("bad tag at %d: %.20q", i, s[i:])
			}
			closing, name, attr := m[1] == "/", m[2], m[3]
			if closing {
				if attr != "" || len(stack) == 0 || stack[len(stack)-1] != name {
					return fmt.Errorf("unbalanced </%s> at %d (open %v)", name, i, stack)
				}
				stack = stack[:len(stack)-1]
				i += len(m[0])
				continue
			}
			top := ""
			if len(stack) > 0 {
				top = stack[len(stack)-1]
			}
			switch {
			case name == "a" && attr != "href", name != "a" && name != "code" && attr != "",
				name == "code" && attr != "" && (attr != "class" || top != "pre" || !strings.HasPrefix(m[4], "language-")):
				return fmt.Errorf("bad attributes in %q", m[0])
			case top == "code" || top == "pre" && name != "code":
				return fmt.Errorf("<%s> inside <%s>", name, top)
			case (name == "code" || name == "pre" || name == "blockquote") && has("b", "i", "s", "a"):
				return fmt.Errorf("<%s> inside an inline entity %v", name, stack)
			case name == "blockquote" && has("blockquote"), name == "a" && has("a"):
				return fmt.Errorf("nested <%s>", name)
			}
			stack = append(stack, name)
			i += len(m[0])
		case '>':
			return fmt.Errorf("raw '>' at %d", i)
		case '&':
			if !entityRe.MatchString(s[i:]) {
				return fmt.Errorf("raw '&' at %d", i)
			}
			i++
		default:
			i++
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %v", stack)
	}
	return nil
}

func TestCheckTelegramHTML(t *testing.T) {
	for _, bad := range []string{"<b>x", "<b><i>x</b></i>", "<u>x</u>", "a > b", "a & b", "<b><code>x</code></b>",
		"<blockquote><blockquote>x</blockquote></blockquote>", `<code class="language-go">x</code>`, "<pre><b>x</b></pre>"} {
		if checkTelegramHTML(bad) == nil {
			t.Errorf("checkTelegramHTML(%q) accepted it", bad)
		}
	}
}
