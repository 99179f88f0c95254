package format

import "strings"

// PlainText renders Markdown for platforms without formatting: the markup
// characters go, the structure stays readable. Code keeps its text, links
// become "text (url)", headings their title, list items "•" bullets,
// blockquote lines start with "> ".
func PlainText(md string) string {
	var b strings.Builder
	renderPlainBlocks(&b, parseBlocks(md))
	return strings.Trim(b.String(), "\n")
}

func renderPlainBlocks(b *strings.Builder, blocks []block) {
	for i, bl := range blocks {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch bl.kind {
		case blockPara, blockHeading:
			b.WriteString(plainInline(parseInline(bl.text)))
		case blockItem:
			b.WriteString(bl.indent + bl.marker + " " + plainInline(parseInline(bl.text)))
		case blockQuote:
			var q strings.Builder
			renderPlainBlocks(&q, trimBlank(bl.quote))
			for j, l := range strings.Split(q.String(), "\n") {
				if j > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(strings.TrimRight("> "+l, " "))
			}
		case blockFence:
			b.WriteString(bl.text)
		case blockRule:
			b.WriteString(rule)
		case blockBlank:
		}
	}
}

func plainInline(ns []node) string {
	var b strings.Builder
	for _, n := range ns {
		switch n.kind {
		case nodeText, nodeCode:
			b.WriteString(n.text)
		case nodeLink:
			t := plainInline(n.kids)
			u := n.text
			shown := strings.TrimPrefix(u, "mailto:")
			switch {
			case t == "" || t == u || t == shown:
				b.WriteString(shown)
			default:
				b.WriteString(t + " (" + shown + ")")
			}
		default:
			b.WriteString(plainInline(n.kids))
		}
	}
	return b.String()
}
