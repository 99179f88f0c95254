package format

import (
	"net/url"
	"strings"
	"unicode"
)

// The Markdown is parsed into blocks of inline nodes that the Telegram and
// plain-text renderers walk. Parsing is forgiving: whatever does not form
// markup stays text.

type blockKind int

const (
	blockPara    blockKind = iota // consecutive text lines
	blockHeading                  // "# title"
	blockItem                     // a list item
	blockQuote                    // "> …", children in quote
	blockFence                    // fenced code
	blockRule                     // "---"
	blockBlank                    // an empty line
)

type block struct {
	kind   blockKind
	text   string  // inline source (para, heading, item), code (fence)
	lang   string  // fence language
	indent string  // item indentation
	marker string  // item bullet as rendered: "•", "1.", "☐", "☑"
	quote  []block // blockQuote children
}

// parseBlocks splits Markdown into blocks.
func parseBlocks(md string) []block {
	md = strings.ToValidUTF8(md, "\uFFFD")
	md = strings.ReplaceAll(md, "\r\n", "\n")
	return parseLines(strings.Split(md, "\n"), 0)
}

// maxQuoteDepth bounds the recursion on "> > > …".
const maxQuoteDepth = 16

func parseLines(lines []string, depth int) []block {
	var out []block
	for i := 0; i < len(lines); {
		line := lines[i]
		if f, ok := parseFenceOpen(line); ok {
			var code []string
			j := i + 1
			for ; j < len(lines) && !isFenceClose(lines[j], f); j++ {
				code = append(code, lines[j])
			}
			lang, _, _ := strings.Cut(f.info, " ")
			out = append(out, block{kind: blockFence, text: strings.Join(code, "\n"), lang: lang})
			i = j + 1
			continue
		}
		if strings.TrimSpace(line) == "" {
			out = append(out, block{kind: blockBlank})
			i++
			continue
		}
		if t, ok := heading(line); ok {
			out = append(out, block{kind: blockHeading, text: t})
			i++
			continue
		}
		if isRule(line) {
			out = append(out, block{kind: blockRule})
			i++
			continue
		}
		if _, ok := quoteLine(line); ok && depth < maxQuoteDepth {
			var inner []string
			for ; i < len(lines); i++ {
				s, ok := quoteLine(lines[i])
				if !ok {
					break
				}
				inner = append(inner, s)
			}
			out = append(out, block{kind: blockQuote, quote: parseLines(inner, depth+1)})
			continue
		}
		if b, ok := listItem(line); ok {
			out = append(out, b)
			i++
			continue
		}
		// A paragraph runs until a line that starts another block.
		j := i + 1
		for ; j < len(lines); j++ {
			l := lines[j]
			if strings.TrimSpace(l) == "" || isRule(l) {
				break
			}
			if _, ok := parseFenceOpen(l); ok {
				break
			}
			if _, ok := heading(l); ok {
				break
			}
			if _, ok := quoteLine(l); ok {
				break
			}
			if _, ok := listItem(l); ok {
				break
			}
		}
		out = append(out, block{kind: blockPara, text: strings.Join(lines[i:j], "\n")})
		i = j
	}
	return out
}

// leadingSpaces counts the spaces that start s.
func leadingSpaces(s string) int {
	n := 0
	for n < len(s) && s[n] == ' ' {
		n++
	}
	return n
}

func heading(line string) (string, bool) {
	ind := leadingSpaces(line)
	if ind > 3 {
		return "", false
	}
	s := line[ind:]
	n := 0
	for n < len(s) && s[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n < len(s) && s[n] != ' ' && s[n] != '\t' {
		return "", false
	}
	t := strings.TrimSpace(s[n:])
	// A closing run of #s preceded by a space is not part of the title.
	if k := strings.TrimRight(t, "#"); k != t && (k == "" || strings.HasSuffix(k, " ")) {
		t = strings.TrimSpace(k)
	}
	return t, true
}

func isRule(line string) bool {
	s := strings.TrimSpace(line)
	if leadingSpaces(line) > 3 || len(s) < 3 || s[0] != '-' && s[0] != '*' && s[0] != '_' {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case s[0]:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

func quoteLine(line string) (string, bool) {
	ind := leadingSpaces(line)
	if ind > 3 || ind == len(line) || line[ind] != '>' {
		return "", false
	}
	s := line[ind+1:]
	s = strings.TrimPrefix(s, " ")
	return s, true
}

func listItem(line string) (block, bool) {
	ind := 0
	for ind < len(line) && (line[ind] == ' ' || line[ind] == '\t') {
		ind++
	}
	s := line[ind:]
	var marker, rest string
	switch {
	case len(s) >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && (s[1] == ' ' || s[1] == '\t'):
		marker, rest = "•", s[2:]
	default:
		d := 0
		for d < len(s) && d < 9 && s[d] >= '0' && s[d] <= '9' {
			d++
		}
		if d == 0 || d+1 >= len(s) || s[d] != '.' && s[d] != ')' || s[d+1] != ' ' && s[d+1] != '\t' {
			return block{}, false
		}
		marker, rest = s[:d]+".", s[d+2:]
	}
	rest = strings.TrimLeft(rest, " \t")
	if marker == "•" {
		switch {
		case strings.HasPrefix(rest, "[ ] "):
			marker, rest = "☐", rest[4:]
		case strings.HasPrefix(rest, "[x] "), strings.HasPrefix(rest, "[X] "):
			marker, rest = "☑", rest[4:]
		}
	}
	return block{kind: blockItem, indent: line[:ind], marker: marker, text: rest}, true
}

// Inline nodes.

type nodeKind int

const (
	nodeText nodeKind = iota
	nodeCode
	nodeBold
	nodeItalic
	nodeStrike
	nodeLink
)

type node struct {
	kind nodeKind
	text string // text, code, link URL
	kids []node
}

// maxInlineDepth bounds nested emphasis; deeper markup stays literal.
const maxInlineDepth = 32

// inlineParser parses one run of inline Markdown. The failed maps remember
// delimiter searches that found nothing, so that unmatched markers do not
// make parsing quadratic.
type inlineParser struct {
	r       []rune
	depth   int
	inLink  bool
	bracket []int // matching ']' of each '[' (-1 when none)
	noClose map[[2]int]int
	noCode  map[int]int
}

func parseInline(s string) []node {
	return parseRunes([]rune(s), 0, false)
}

func parseRunes(r []rune, depth int, inLink bool) []node {
	p := &inlineParser{r: r, depth: depth, inLink: inLink, noClose: map[[2]int]int{}, noCode: map[int]int{}}
	p.matchBrackets()
	return p.parse()
}

// matchBrackets pairs square brackets (ignoring escaped ones) in one pass.
func (p *inlineParser) matchBrackets() {
	p.bracket = make([]int, len(p.r))
	var stack []int
	for i := 0; i < len(p.r); i++ {
		p.bracket[i] = -1
		switch p.r[i] {
		case '\\':
			if i+1 < len(p.r) {
				i++
				p.bracket[i] = -1
			}
		case '[':
			stack = append(stack, i)
		case ']':
			if len(stack) > 0 {
				p.bracket[stack[len(stack)-1]] = i
				stack = stack[:len(stack)-1]
			}
		}
	}
}

func (p *inlineParser) parse() []node {
	r := p.r
	var out []node
	var text []rune
	flush := func() {
		if len(text) > 0 {
			out = append(out, node{kind: nodeText, text: string(text)})
			text = text[:0:0]
		}
	}
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case c == '\\' && i+1 < len(r) && isASCIIPunct(r[i+1]):
			text = append(text, r[i+1])
			i += 2
			continue
		case c == '`':
			n := runLen(r, i)
			if j := p.findCode(i+n, n); j >= 0 {
				flush()
				out = append(out, node{kind: nodeCode, text: codeContent(r[i+n : j])})
				i = j + n
			} else {
				text = append(text, r[i:i+n]...)
				i += n
			}
			continue
		case !p.inLink && (c == '[' || c == '!' && i+1 < len(r) && r[i+1] == '['):
			open := i
			if c == '!' {
				open++
			}
			if lnk, end, ok := p.link(open); ok {
				flush()
				out = append(out, lnk)
				i = end
				continue
			}
		case !p.inLink && c == '<':
			if lnk, end, ok := autolink(r, i); ok {
				flush()
				out = append(out, lnk)
				i = end
				continue
			}
		case c == '*' || c == '_' || c == '~':
			n := runLen(r, i)
			if nd, end, ok := p.emphasis(i, n); ok {
				flush()
				out = append(out, nd)
				i = end
			} else {
				text = append(text, r[i:i+n]...)
				i += n
			}
			continue
		}
		text = append(text, c)
		i++
	}
	flush()
	return out
}

// findCode finds the closing run of exactly n backticks from i.
func (p *inlineParser) findCode(i, n int) int {
	if f, ok := p.noCode[n]; ok && i >= f {
		return -1
	}
	for j := i; j < len(p.r); {
		if p.r[j] != '`' {
			j++
			continue
		}
		m := runLen(p.r, j)
		if m == n {
			return j
		}
		j += m
	}
	p.noCode[n] = i
	return -1
}

// codeContent strips one space from both ends when both have one, so that
// a code span can start or end with a backtick.
func codeContent(r []rune) string {
	s := string(r)
	if len(s) >= 2 && (s[0] == ' ' || s[0] == '\n') && (s[len(s)-1] == ' ' || s[len(s)-1] == '\n') && strings.TrimSpace(s) != "" {
		s = s[1 : len(s)-1]
	}
	return s
}

// emphasis parses the delimiter run of n c's at i: * and _ give italic (1),
// bold (2) or both (3); ~~ gives strikethrough.
func (p *inlineParser) emphasis(i, n int) (node, int, bool) {
	r := p.r
	c := r[i]
	var kind nodeKind
	switch {
	case c == '~' && n == 2:
		kind = nodeStrike
	case c != '~' && n == 1:
		kind = nodeItalic
	case c != '~' && (n == 2 || n == 3):
		kind = nodeBold
	default:
		return node{}, 0, false
	}
	if p.depth >= maxInlineDepth || !p.canOpen(i, n) {
		return node{}, 0, false
	}
	j := p.findClose(i+n, c, n)
	if j < 0 {
		return node{}, 0, false
	}
	kids := parseRunes(r[i+n:j], p.depth+1, p.inLink)
	if n == 3 {
		kids = []node{{kind: nodeItalic, kids: kids}}
	}
	return node{kind: kind, kids: kids}, j + n, true
}

// canOpen: a run opens emphasis when text follows it; an underscore run also
// must not sit inside a word (snake_case stays text).
func (p *inlineParser) canOpen(i, n int) bool {
	r := p.r
	if i+n >= len(r) || unicode.IsSpace(r[i+n]) {
		return false
	}
	return r[i] != '_' || i == 0 || !isWordRune(r[i-1])
}

func (p *inlineParser) canClose(j, n int) bool {
	r := p.r
	if unicode.IsSpace(r[j-1]) {
		return false
	}
	return r[j] != '_' || j+n >= len(r) || !isWordRune(r[j+n])
}

// findClose finds the closing run of exactly n c's from i, skipping escapes
// and code spans, with content before it.
func (p *inlineParser) findClose(i int, c rune, n int) int {
	return p.findCloseDepth(i, c, n, 0)
}

func (p *inlineParser) findCloseDepth(i int, c rune, n, depth int) int {
	key := [2]int{int(c), n}
	if f, ok := p.noClose[key]; ok && i >= f {
		return -1
	}
	r := p.r
	for j := i; j < len(r); {
		switch r[j] {
		case '\\':
			j += 2
			continue
		case '`':
			m := runLen(r, j)
			if k := p.findCode(j+m, m); k >= 0 {
				j = k + m
			} else {
				j += m
			}
			continue
		case c:
			m := runLen(r, j)
			if m == n && j > i && p.canClose(j, n) {
				return j
			}
			if m == n && depth < maxInlineDepth && p.canOpen(j, n) {
				// A nested run of the same kind: skip to its end.
				if k := p.findCloseDepth(j+n, c, n, depth+1); k >= 0 {
					j = k + n
					continue
				}
			}
			j += m
			continue
		}
		j++
	}
	p.noClose[key] = i
	return -1
}

// Link destinations and titles longer than these are not links; the caps
// keep parsing linear on text full of "[x](".
const (
	maxURL   = 2048
	maxTitle = 512
)

// link parses "[text](url)" with the '[' at i.
func (p *inlineParser) link(i int) (node, int, bool) {
	r := p.r
	close := p.bracket[i]
	if close < 0 || close+1 >= len(r) || r[close+1] != '(' {
		return node{}, 0, false
	}
	j := close + 2
	for j < len(r) && (r[j] == ' ' || r[j] == '\t') {
		j++
	}
	var dest []rune
	if j < len(r) && r[j] == '<' {
		k := j + 1
		for k < len(r) && k-j <= maxURL && r[k] != '>' && r[k] != '\n' && r[k] != '<' {
			k++
		}
		if k >= len(r) || r[k] != '>' {
			return node{}, 0, false
		}
		dest = r[j+1 : k]
		j = k + 1
	} else {
		depth := 0
		k := j
		for ; k < len(r) && !unicode.IsSpace(r[k]); k++ {
			if k-j > maxURL {
				return node{}, 0, false
			}
			if r[k] == '\\' && k+1 < len(r) && isASCIIPunct(r[k+1]) {
				k++
				continue
			}
			if r[k] == '(' {
				if depth++; depth > 32 {
					return node{}, 0, false
				}
			} else if r[k] == ')' {
				if depth == 0 {
					break
				}
				depth--
			}
		}
		dest = r[j:k]
		j = k
	}
	for j < len(r) && (r[j] == ' ' || r[j] == '\t' || r[j] == '\n') {
		j++
	}
	// An optional title, which chat rendering drops.
	if j < len(r) && (r[j] == '"' || r[j] == '\'' || r[j] == '(') {
		end := r[j]
		if end == '(' {
			end = ')'
		}
		k := j + 1
		for k < len(r) && k-j <= maxTitle && r[k] != end {
			k++
		}
		if k >= len(r) || r[k] != end {
			return node{}, 0, false
		}
		j = k + 1
		for j < len(r) && (r[j] == ' ' || r[j] == '\t') {
			j++
		}
	}
	if j >= len(r) || r[j] != ')' {
		return node{}, 0, false
	}
	u := unescapeURL(dest)
	kids := parseRunes(r[i+1:close], p.depth+1, true)
	if len(kids) == 0 {
		kids = []node{{kind: nodeText, text: u}}
	}
	return node{kind: nodeLink, text: u, kids: kids}, j + 1, true
}

// autolink parses "<scheme:…>" at i.
func autolink(r []rune, i int) (node, int, bool) {
	k := i + 1
	for k < len(r) && k-i <= maxURL && r[k] != '>' && r[k] != '<' && !unicode.IsSpace(r[k]) {
		k++
	}
	if k >= len(r) || r[k] != '>' {
		return node{}, 0, false
	}
	u := string(r[i+1 : k])
	if !linkable(u) {
		return node{}, 0, false
	}
	return node{kind: nodeLink, text: u, kids: []node{{kind: nodeText, text: u}}}, k + 1, true
}

func unescapeURL(r []rune) string {
	var b strings.Builder
	for k := 0; k < len(r); k++ {
		if r[k] == '\\' && k+1 < len(r) && isASCIIPunct(r[k+1]) {
			k++
		}
		b.WriteRune(r[k])
	}
	return b.String()
}

// linkable reports whether a URL is one a chat platform links: absolute,
// with a web, mail or Telegram scheme.
func linkable(u string) bool {
	if u == "" || strings.ContainsAny(u, " \t\n<>") {
		return false
	}
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(pu.Scheme) {
	case "http", "https", "ftp":
		return pu.Host != ""
	case "mailto", "tg", "tel":
		return pu.Opaque != "" || pu.Host != "" || pu.RawQuery != ""
	}
	return false
}

func runLen(r []rune, i int) int {
	n := 0
	for i+n < len(r) && r[i+n] == r[i] {
		n++
	}
	return n
}

func isASCIIPunct(c rune) bool {
	return c < 0x80 && unicode.IsPunct(c) || strings.ContainsRune("$+<=>^`|~", c)
}

func isWordRune(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }

// textOf is the plain text of nodes.
func textOf(ns []node) string {
	var b strings.Builder
	var walk func([]node)
	walk = func(ns []node) {
		for _, n := range ns {
			switch n.kind {
			case nodeText, nodeCode:
				b.WriteString(n.text)
			default:
				walk(n.kids)
			}
		}
	}
	walk(ns)
	return b.String()
}
