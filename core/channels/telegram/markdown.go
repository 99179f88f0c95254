package telegram

import (
	"strings"
)

// A minimal Markdown → Telegram HTML converter (until core/channels/format
// exists). It handles **bold**/__bold__, *italic*/_italic_, ~~strike~~,
// `code`, ``` fences ```, [links](url) and # headings (as bold); everything
// else is text. All text is escaped (&, <, >), and tags are only emitted in
// balanced pairs, so the output always parses.

// markdownToHTML converts one message's Markdown to Telegram HTML.
func markdownToHTML(md string) string {
	var out []string
	var code []string
	fenceLang, inFence := "", false
	flush := func() {
		body := escapeHTML(strings.Join(code, "\n"))
		if fenceLang != "" {
			out = append(out, `<pre><code class="language-`+fenceLang+`">`+body+"</code></pre>")
		} else {
			out = append(out, "<pre>"+body+"</pre>")
		}
		code = nil
	}
	for _, line := range strings.Split(md, "\n") {
		if fence, lang := isFence(line); fence {
			if inFence {
				if lang == "" {
					flush()
					inFence = false
					continue
				}
			} else {
				inFence, fenceLang = true, fenceLanguage(lang)
				continue
			}
		}
		if inFence {
			code = append(code, line)
			continue
		}
		out = append(out, convertLine(line))
	}
	if inFence {
		flush()
	}
	return strings.Join(out, "\n")
}

// isFence reports whether line is a ``` fence line, with the text after it.
func isFence(line string) (bool, string) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 || !strings.HasPrefix(t, "```") {
		return false, ""
	}
	info := strings.TrimSpace(strings.TrimLeft(t, "`"))
	if strings.Contains(info, "`") { // inline code, not a fence
		return false, ""
	}
	return true, info
}

// fenceLanguage keeps a safe language tag ("" when there is none).
func fenceLanguage(info string) string {
	if i := strings.IndexAny(info, " \t"); i >= 0 {
		info = info[:i]
	}
	if len(info) > 32 {
		return ""
	}
	for _, c := range info {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '+' || c == '#') {
			return ""
		}
	}
	return info
}

func convertLine(line string) string {
	t := strings.TrimLeft(line, " ")
	if h := strings.TrimLeft(t, "#"); len(t)-len(h) >= 1 && len(t)-len(h) <= 6 && strings.HasPrefix(h, " ") {
		return "<b>" + inline(strings.TrimSpace(h)) + "</b>"
	}
	return inline(line)
}

func escapeHTML(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		writeEscaped(&b, s[i])
	}
	return b.String()
}

func writeEscaped(b *strings.Builder, c byte) {
	switch c {
	case '&':
		b.WriteString("&amp;")
	case '<':
		b.WriteString("&lt;")
	case '>':
		b.WriteString("&gt;")
	default:
		b.WriteByte(c)
	}
}

func escapeAttr(s string) string {
	return strings.ReplaceAll(escapeHTML(s), `"`, "&quot;")
}

// inline converts the inline Markdown of one line.
func inline(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && isPunct(s[i+1]):
			writeEscaped(&b, s[i+1])
			i += 2
			continue
		case c == '`':
			if j := strings.IndexByte(s[i+1:], '`'); j > 0 {
				b.WriteString("<code>" + escapeHTML(s[i+1:i+1+j]) + "</code>")
				i += j + 2
				continue
			}
			// a run of backticks without a span: literal
			for i < len(s) && s[i] == '`' {
				b.WriteByte('`')
				i++
			}
			continue
		case (c == '*' || c == '_' || c == '~') && i+1 < len(s) && s[i+1] == c:
			delim := s[i : i+2]
			if end := closeDouble(s, i+2, delim); end > 0 {
				tag := "b"
				if c == '~' {
					tag = "s"
				}
				b.WriteString("<" + tag + ">" + inline(s[i+2:end]) + "</" + tag + ">")
				i = end + 2
				continue
			}
			b.WriteString(delim)
			i += 2
			continue
		case c == '*' || c == '_':
			if end := closeSingle(s, i, c); end > 0 {
				b.WriteString("<i>" + inline(s[i+1:end]) + "</i>")
				i = end + 1
				continue
			}
		case c == '[':
			if text, href, n := parseLink(s[i:]); n > 0 {
				b.WriteString(`<a href="` + escapeAttr(href) + `">` + inline(text) + "</a>")
				i += n
				continue
			}
		}
		writeEscaped(&b, c)
		i++
	}
	return b.String()
}

func isPunct(c byte) bool {
	return strings.IndexByte("\\`*_{}[]()#+-.!~|<>&", c) >= 0
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// closeDouble finds the closing ** / __ / ~~ for an opener ending at start;
// the span must be non-empty and not start or end with a space.
func closeDouble(s string, start int, delim string) int {
	if start >= len(s) || isSpace(s[start]) {
		return -1
	}
	for j := start + 1; j+1 < len(s); j++ {
		if s[j] == '`' { // skip code spans
			if k := strings.IndexByte(s[j+1:], '`'); k > 0 {
				j += k + 1
				continue
			}
		}
		if s[j:j+2] == delim && !isSpace(s[j-1]) {
			return j
		}
	}
	return -1
}

// closeSingle finds the closing * or _ of an italic span opened at i. '_'
// only works at word boundaries (snake_case stays text).
func closeSingle(s string, i int, c byte) int {
	if i+1 >= len(s) || isSpace(s[i+1]) || s[i+1] == c {
		return -1
	}
	if c == '_' && i > 0 && isAlnum(s[i-1]) {
		return -1
	}
	for j := i + 2; j < len(s); j++ {
		if s[j] == '`' {
			if k := strings.IndexByte(s[j+1:], '`'); k > 0 {
				j += k + 1
				continue
			}
		}
		if s[j] != c || isSpace(s[j-1]) {
			continue
		}
		if j+1 < len(s) && s[j+1] == c { // part of a double delimiter
			j++
			continue
		}
		if c == '_' && j+1 < len(s) && isAlnum(s[j+1]) {
			continue
		}
		return j
	}
	return -1
}

// parseLink parses [text](url) at the start of s, returning the consumed
// length (0 when it is not a link with an allowed scheme).
func parseLink(s string) (text, href string, n int) {
	end := strings.IndexByte(s, ']')
	if end <= 1 || end+1 >= len(s) || s[end+1] != '(' {
		return "", "", 0
	}
	text = s[1:end]
	depth := 0
	for j := end + 2; j < len(s); j++ {
		switch s[j] {
		case ' ', '\t':
			return "", "", 0
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
				continue
			}
			href = s[end+2 : j]
			if !allowedURL(href) {
				return "", "", 0
			}
			return text, href, j + 1
		}
	}
	return "", "", 0
}

func allowedURL(u string) bool {
	l := strings.ToLower(u)
	for _, p := range []string{"http://", "https://", "tg://", "mailto:"} {
		if strings.HasPrefix(l, p) && len(l) > len(p) {
			return true
		}
	}
	return false
}

// utf16Len is a string's length in UTF-16 code units (how Telegram counts).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// prefixBytes is the byte length of s's longest prefix of at most units
// UTF-16 code units (on a rune boundary).
func prefixBytes(s string, units int) int {
	n := 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > units {
			return i
		}
		n += w
	}
	return len(s)
}

// splitMarkdown splits Markdown into chunks of at most limit UTF-16 units,
// preferring paragraph, then line, then word boundaries. A chunk that ends
// inside a ``` fence is closed and the fence reopened in the next chunk, so
// each chunk converts on its own. Markup only shrinks when rendered, so a
// chunk within the limit renders within it.
func splitMarkdown(s string, limit int) []string {
	var out []string
	add := func(c string) {
		if strings.TrimSpace(c) != "" {
			out = append(out, c)
		}
	}
	reopen := ""
	for {
		if reopen != "" {
			s = reopen + "\n" + s
		}
		if utf16Len(s) <= limit {
			add(s)
			return out
		}
		minCut := len(reopen) + 1
		end, next := findCut(s, limit, minCut)
		chunk := s[:end]
		reopen = ""
		if open := openFence(chunk); open != "" && limit >= 64 {
			// leave room to close the fence
			end, next = findCut(s, limit-4, minCut)
			chunk = s[:end]
			if open = openFence(chunk); open != "" {
				chunk += "\n```"
				reopen = open
			}
		}
		add(chunk)
		s = s[next:]
	}
}

// findCut picks where to end a chunk of at most limit units: it returns the
// chunk's end and where the rest starts (after the boundary).
func findCut(s string, limit, minCut int) (end, next int) {
	w := prefixBytes(s, max(limit, 1))
	if w == 0 { // never stall
		w = len(string([]rune(s)[:1]))
	}
	win := s[:w]
	if i := strings.LastIndex(win, "\n\n"); i >= minCut && i >= w/2 {
		return i, i + 2
	}
	if i := strings.LastIndexByte(win, '\n'); i >= minCut && i >= w/3 {
		return i, i + 1
	}
	if i := strings.LastIndexByte(win, ' '); i >= minCut && i >= w/3 {
		return i, i + 1
	}
	return w, w
}

// openFence returns the opening fence line when chunk ends inside a fence.
func openFence(chunk string) string {
	open := ""
	for _, line := range strings.Split(chunk, "\n") {
		fence, info := isFence(line)
		if !fence {
			continue
		}
		if open == "" {
			open = "```" + fenceLanguage(info)
		} else if info == "" {
			open = ""
		}
	}
	return open
}
