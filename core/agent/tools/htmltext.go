package tools

import (
	"html"
	"net/url"
	"strings"
	"unicode/utf8"
)

// htmlToText turns an HTML document into readable text: scripts, styles
// and other non-content elements are dropped, block elements become line
// breaks, headings and list items get markdown markers, links keep their
// (absolute) target, entities are decoded and whitespace is collapsed
// except inside <pre>. It is a small scanner rather than an HTML parser:
// good enough to hand a page to a model, not to render it.
func htmlToText(src string, base *url.URL) (title, text string) {
	lower := asciiLower(src)
	var w textWriter
	var links []string // hrefs of the open <a> elements ("" when not shown)
	i := 0
	for i < len(src) {
		if src[i] != '<' {
			j := strings.IndexByte(src[i:], '<')
			if j < 0 {
				j = len(src) - i
			}
			w.text(html.UnescapeString(src[i : i+j]))
			i += j
			continue
		}
		if strings.HasPrefix(src[i:], "<!--") {
			end := strings.Index(src[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		j := i + 1
		closing := j < len(src) && src[j] == '/'
		if closing {
			j++
		}
		if j >= len(src) || !(isASCIILetter(src[j]) || (!closing && (src[j] == '!' || src[j] == '?'))) {
			w.text("<")
			i++
			continue
		}
		start := j
		for j < len(src) && (isASCIILetter(src[j]) || isASCIIDigit(src[j]) || src[j] == '-' || src[j] == ':' || src[j] == '!' || src[j] == '?') {
			j++
		}
		name := lower[start:j]
		// The tag ends at the first '>' outside a quoted attribute value.
		k := j
		var quote byte
		for k < len(src) {
			c := src[k]
			if quote != 0 {
				if c == quote {
					quote = 0
				}
			} else if c == '"' || c == '\'' {
				quote = c
			} else if c == '>' {
				break
			}
			k++
		}
		attrs := src[j:min(k, len(src))]
		i = min(k+1, len(src))
		if name == "" || name[0] == '!' || name[0] == '?' {
			continue // doctype, processing instruction
		}

		if !closing {
			if skipElements[name] || name == "title" {
				end := strings.Index(lower[i:], "</"+name)
				if end < 0 {
					end = len(src) - i
				}
				if name == "title" && title == "" {
					title = collapseSpace(html.UnescapeString(src[i : i+end]))
				}
				i += end
				if gt := strings.IndexByte(src[i:], '>'); gt >= 0 {
					i += gt + 1
				} else {
					i = len(src)
				}
				continue
			}
			if hidden(attrs) && !voidElements[name] {
				i = skipElement(src, lower, i, name)
				continue
			}
		}
		switch {
		case name == "br":
			w.newline(1)
		case name == "hr":
			w.newline(2)
			w.raw("---")
			w.newline(2)
		case name == "pre":
			w.newline(2)
			if closing {
				w.pre = max(w.pre-1, 0)
			} else {
				w.pre++
			}
		case len(name) == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6':
			w.newline(2)
			if !closing {
				w.raw(strings.Repeat("#", int(name[1]-'0')) + " ")
			}
		case name == "li":
			w.newline(1)
			if !closing {
				w.raw("- ")
			}
		case name == "td" || name == "th":
			if !closing {
				w.text(" ")
			}
		case name == "img" && !closing:
			if alt := attr(attrs, "alt"); alt != "" {
				w.text("[image: " + alt + "]")
			}
		case name == "a":
			if closing {
				if n := len(links); n > 0 {
					if href := links[n-1]; href != "" {
						w.raw("](" + href + ")")
					}
					links = links[:n-1]
				}
			} else {
				href := linkTarget(attr(attrs, "href"), base)
				links = append(links, href)
				if href != "" {
					w.raw("[")
				}
			}
		case blockElements[name]:
			w.newline(2)
		}
	}
	return title, w.String()
}

// skipElements hold no readable text.
var skipElements = map[string]bool{
	"script": true, "style": true, "noscript": true, "template": true, "svg": true,
	"math": true, "iframe": true, "object": true, "canvas": true, "select": true, "textarea": true,
}

var voidElements = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

var blockElements = map[string]bool{
	"p": true, "div": true, "section": true, "article": true, "main": true, "header": true,
	"footer": true, "nav": true, "aside": true, "ul": true, "ol": true, "dl": true, "dt": true,
	"dd": true, "table": true, "tr": true, "thead": true, "tbody": true, "tfoot": true,
	"blockquote": true, "figure": true, "figcaption": true, "form": true, "fieldset": true,
	"address": true, "details": true, "summary": true, "body": true, "caption": true,
}

// hidden reports an element the page does not show.
func hidden(attrs string) bool {
	la := asciiLower(attrs)
	if strings.Contains(la, "aria-hidden=\"true\"") {
		return true
	}
	if _, ok := attrValue(attrs, "hidden"); ok {
		return true
	}
	st := strings.ReplaceAll(asciiLower(attr(attrs, "style")), " ", "")
	return strings.Contains(st, "display:none") || strings.Contains(st, "visibility:hidden")
}

// skipElement skips past the end of a (possibly nested) element whose start
// tag ended at i, returning the index after its end tag.
func skipElement(src, lower string, i int, name string) int {
	depth := 1
	for depth > 0 {
		next := strings.Index(lower[i:], "<"+name)
		end := strings.Index(lower[i:], "</"+name)
		if end < 0 {
			return len(src)
		}
		if next >= 0 && next < end && tagBoundary(lower, i+next+1+len(name)) {
			depth++
			i += next + 1 + len(name)
			continue
		}
		depth--
		i += end + 2 + len(name)
	}
	if gt := strings.IndexByte(src[i:], '>'); gt >= 0 {
		return i + gt + 1
	}
	return len(src)
}

func tagBoundary(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	c := s[i]
	return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// attr is an attribute's decoded value ("" when absent).
func attr(attrs, name string) string {
	v, _ := attrValue(attrs, name)
	return v
}

// attrValue finds attribute name in the text between a tag's name and '>'.
func attrValue(attrs, name string) (string, bool) {
	i := 0
	for i < len(attrs) {
		for i < len(attrs) && (isSpace(attrs[i]) || attrs[i] == '/') {
			i++
		}
		start := i
		for i < len(attrs) && !isSpace(attrs[i]) && attrs[i] != '=' && attrs[i] != '/' {
			i++
		}
		key := asciiLower(attrs[start:i])
		for i < len(attrs) && isSpace(attrs[i]) {
			i++
		}
		val := ""
		if i < len(attrs) && attrs[i] == '=' {
			i++
			for i < len(attrs) && isSpace(attrs[i]) {
				i++
			}
			if i < len(attrs) && (attrs[i] == '"' || attrs[i] == '\'') {
				q := attrs[i]
				i++
				vs := i
				for i < len(attrs) && attrs[i] != q {
					i++
				}
				val = attrs[vs:i]
				i++
			} else {
				vs := i
				for i < len(attrs) && !isSpace(attrs[i]) {
					i++
				}
				val = attrs[vs:i]
			}
		}
		if key == name {
			return html.UnescapeString(val), true
		}
		if start == i {
			i++
		}
	}
	return "", false
}

// linkTarget is the absolute http(s) URL a link points at, or "" for
// fragments, scripts and the like, which only add noise.
func linkTarget(href string, base *url.URL) string {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return ""
	}
	u, err := url.Parse(href)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto" {
		return ""
	}
	return u.String()
}

// textWriter accumulates text, collapsing whitespace outside <pre>.
type textWriter struct {
	b        strings.Builder
	pre      int
	newlines int  // trailing newlines written
	space    bool // whitespace was seen since the last word
	last     byte // the last byte written
}

func (w *textWriter) write(s string) {
	if s == "" {
		return
	}
	w.b.WriteString(s)
	w.last = s[len(s)-1]
	if n := len(s) - len(strings.TrimRight(s, "\n")); n == len(s) {
		w.newlines += n
	} else {
		w.newlines = n
	}
}

// separate writes the pending space between two words.
func (w *textWriter) separate() {
	if w.space && w.last != 0 && w.last != ' ' && w.last != '\n' && w.last != '[' {
		w.write(" ")
	}
	w.space = false
}

func (w *textWriter) text(s string) {
	if w.pre > 0 {
		w.write(s)
		return
	}
	if s == "" {
		return
	}
	if r, _ := utf8.DecodeRuneInString(s); isSpaceRune(r) {
		w.space = true
	}
	for _, f := range strings.FieldsFunc(s, isSpaceRune) {
		w.separate()
		w.write(f)
		w.space = true
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	w.space = isSpaceRune(r)
}

// raw writes markup the converter adds.
func (w *textWriter) raw(s string) {
	if !strings.HasPrefix(s, "](") && w.pre == 0 {
		w.separate()
	}
	w.space = false
	w.write(s)
}

// newline ends the current line and makes sure n line breaks precede what
// follows (1: a new line, 2: a paragraph break).
func (w *textWriter) newline(n int) {
	if w.b.Len() == 0 {
		return
	}
	for w.newlines < n {
		w.write("\n")
	}
	w.space = false
}

func (w *textWriter) String() string {
	lines := strings.Split(w.b.String(), "\n")
	out := make([]string, 0, len(lines))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if strings.TrimSpace(l) == "" {
			blank++
			if blank > 1 {
				continue
			}
			l = ""
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func collapseSpace(s string) string { return strings.Join(strings.FieldsFunc(s, isSpaceRune), " ") }

func isSpaceRune(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == 0xa0
}

func isSpace(c byte) bool       { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isASCIIDigit(c byte) bool  { return c >= '0' && c <= '9' }

// asciiLower lowercases ASCII letters only, so byte offsets in the result
// match the input (strings.ToLower may change lengths).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
