package format

import (
	"regexp"
	"strings"
)

// TelegramHTML renders Markdown in Telegram's HTML parse mode: **bold** and
// __bold__ as <b>, *italic* and _italic_ as <i>, ~~strike~~ as <s>, `code`
// as <code>, fenced blocks as <pre><code class="language-x">, [text](url)
// as <a href> (other URLs stay text), headings as bold lines, list items as
// "•" bullets and blockquotes as <blockquote>. Everything else is escaped
// text, so the output is always accepted: only Telegram's tags, balanced,
// with code never nested in other entities and no blockquote in another.
func TelegramHTML(md string) string {
	var b strings.Builder
	renderHTMLBlocks(&b, parseBlocks(md), false)
	return dropEmptyTags(strings.Trim(b.String(), "\n"))
}

func renderHTMLBlocks(b *strings.Builder, blocks []block, inQuote bool) {
	for i, bl := range blocks {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch bl.kind {
		case blockPara:
			renderHTMLInline(b, parseInline(bl.text), nil)
		case blockHeading:
			b.WriteString("<b>")
			renderHTMLInline(b, parseInline(bl.text), []htmlTag{{"<b>", "</b>", nodeBold}})
			b.WriteString("</b>")
		case blockItem:
			b.WriteString(escapeHTML(bl.indent + bl.marker + " "))
			renderHTMLInline(b, parseInline(bl.text), nil)
		case blockQuote:
			if inQuote {
				// Telegram does not nest blockquotes: flatten.
				renderHTMLBlocks(b, bl.quote, true)
				continue
			}
			inner := trimBlank(bl.quote)
			if len(inner) == 0 {
				continue
			}
			b.WriteString("<blockquote>")
			renderHTMLBlocks(b, inner, true)
			b.WriteString("</blockquote>")
		case blockFence:
			if strings.TrimSpace(bl.text) == "" {
				continue
			}
			if l := safeLang(bl.lang); l != "" {
				b.WriteString(`<pre><code class="language-` + l + `">`)
				b.WriteString(escapeHTML(bl.text))
				b.WriteString("</code></pre>")
			} else {
				b.WriteString("<pre>")
				b.WriteString(escapeHTML(bl.text))
				b.WriteString("</pre>")
			}
		case blockRule:
			b.WriteString(rule)
		case blockBlank:
		}
	}
}

// rule stands in for a horizontal rule.
const rule = "———"

// trimBlank drops blank blocks at both ends.
func trimBlank(bs []block) []block {
	for len(bs) > 0 && bs[0].kind == blockBlank {
		bs = bs[1:]
	}
	for len(bs) > 0 && bs[len(bs)-1].kind == blockBlank {
		bs = bs[:len(bs)-1]
	}
	return bs
}

// htmlTag is an open inline entity.
type htmlTag struct {
	open, close string
	kind        nodeKind
}

// renderHTMLInline writes nodes inside the open entities of stack. Telegram
// does not allow code inside other entities, so a code span closes them and
// opens them again after itself; an entity already open is not repeated.
func renderHTMLInline(b *strings.Builder, ns []node, stack []htmlTag) {
	for _, n := range ns {
		switch n.kind {
		case nodeText:
			b.WriteString(escapeHTML(n.text))
		case nodeCode:
			if inStack(stack, nodeLink) {
				// A link cannot hold code: keep the link, lose the style.
				b.WriteString(escapeHTML(n.text))
				continue
			}
			for i := len(stack) - 1; i >= 0; i-- {
				b.WriteString(stack[i].close)
			}
			b.WriteString("<code>" + escapeHTML(n.text) + "</code>")
			for _, t := range stack {
				b.WriteString(t.open)
			}
		case nodeBold, nodeItalic, nodeStrike:
			tag := map[nodeKind]htmlTag{
				nodeBold:   {"<b>", "</b>", nodeBold},
				nodeItalic: {"<i>", "</i>", nodeItalic},
				nodeStrike: {"<s>", "</s>", nodeStrike},
			}[n.kind]
			if inStack(stack, n.kind) {
				renderHTMLInline(b, n.kids, stack)
				continue
			}
			b.WriteString(tag.open)
			renderHTMLInline(b, n.kids, append(stack[:len(stack):len(stack)], tag))
			b.WriteString(tag.close)
		case nodeLink:
			if !linkable(n.text) || inStack(stack, nodeLink) {
				renderHTMLInline(b, n.kids, stack)
				if t := textOf(n.kids); t != n.text {
					b.WriteString(" (" + escapeHTML(n.text) + ")")
				}
				continue
			}
			tag := htmlTag{`<a href="` + escapeAttr(n.text) + `">`, "</a>", nodeLink}
			b.WriteString(tag.open)
			renderHTMLInline(b, n.kids, append(stack[:len(stack):len(stack)], tag))
			b.WriteString(tag.close)
		}
	}
}

func inStack(stack []htmlTag, k nodeKind) bool {
	for _, t := range stack {
		if t.kind == k {
			return true
		}
	}
	return false
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escapeHTML(s string) string { return htmlEscaper.Replace(s) }

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func escapeAttr(s string) string { return attrEscaper.Replace(s) }

// safeLang keeps a fence language only when it is a plain identifier
// ("go", "c++", "objective-c", "c#").
func safeLang(l string) string {
	if len(l) > 32 {
		return ""
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+-_.#", c)) {
			return ""
		}
	}
	return l
}

// emptyTag matches an entity with nothing inside (left by a code span that
// closed and reopened its parents, or by markup around nothing).
var emptyTag = regexp.MustCompile(`<b></b>|<i></i>|<s></s>|<a href="[^"<>]*"></a>`)

func dropEmptyTags(s string) string {
	for {
		t := emptyTag.ReplaceAllString(s, "")
		if t == s {
			return s
		}
		s = t
	}
}
