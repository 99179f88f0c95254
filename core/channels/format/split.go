package format

import (
	"strings"
	"unicode"
)

// Split cuts text into chunks of at most limit characters (runes) for a
// platform's message length limit. It breaks at the best boundary the
// window offers, in this order: a paragraph break (blank line), a line
// break, a sentence end (". ", "! ", "? " and the CJK full stops), a space,
// and only as a last resort inside a word (never inside a combining
// sequence).
//
// A fenced code block that fits in one chunk is never split: the chunk ends
// before it instead. A block longer than limit is split at its line breaks,
// each part closed with the block's fence and the next one reopened with
// the opening line (language included), so that every chunk renders on its
// own.
//
// Chunks are trimmed: no leading blank lines, no trailing whitespace, no
// empty chunks; the indentation of a chunk's first line is kept. A limit of
// zero or less means no limit. Text of only whitespace gives no chunks.
func Split(text string, limit int) []string {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	r := []rune(text)
	n := len(r)
	if limit <= 0 || limit > n {
		limit = n
	}
	spans := fenceSpans(r, limit)

	var out []string
	pos := 0
	midLine := false // the previous chunk ended inside a line
	si := 0          // spans[si:] end after pos
	var cont *span   // splitting inside this oversized fence; pos is in its body
	var carry []rune // reopened fence line starting the next chunk
	minEnd := 0      // with carry: the chunk must reach the end of the block
	for pos < n {
		if cont != nil {
			prefix := append([]rune(cont.open), '\n')
			if len(prefix)+cont.end-pos <= limit {
				// The rest of the block fits: finish it in a normal chunk.
				carry, minEnd, cont = prefix, cont.end, nil
			} else {
				suffix := "\n" + cont.marker
				budget := limit - len(prefix) - len([]rune(suffix))
				b, next := -1, -1
				for j := pos + budget; j > pos; j-- {
					if r[j] == '\n' {
						b, next = j, j+1
						break
					}
				}
				if b < 0 {
					b = safeCut(r, pos+1, pos+budget)
					next = b
				}
				body := strings.TrimRight(string(r[pos:b]), "\r")
				out = append(out, string(prefix)+body+suffix)
				if next >= cont.closeStart {
					// Our suffix stands in for the block's own closing line.
					next, cont = cont.end, nil
				}
				pos, midLine = next, false
				continue
			}
		}

		if carry == nil {
			pos = skipLeading(r, pos, midLine, limit)
			if pos >= n {
				break
			}
		}
		for si < len(spans) && spans[si].end <= pos {
			si++
		}
		if carry == nil && si < len(spans) && spans[si].start == pos && spans[si].oversize {
			cont = &spans[si]
			pos = cont.body
			continue
		}

		budget := limit - len(carry)
		if n-pos <= budget {
			out = append(out, string(carry)+trimRight(r[pos:]))
			break
		}
		w := pos + budget // the chunk is r[pos:b] with b <= w < n
		f := pos
		for f < n && isSpace(r[f]) {
			f++
		}
		lo := max(f+1, minEnd)
		var zones []span
		for _, s := range spans[si:] {
			if s.start >= w {
				break
			}
			if s.respected {
				zones = append(zones, s)
			}
		}
		valid := func(b int) bool {
			if b < lo {
				return false
			}
			for _, z := range zones {
				if z.start < b && b < z.end {
					return false
				}
			}
			return true
		}

		b := -1
		lineBreak := false
		// Paragraph break, then line break.
		for j := w; j >= lo && b < 0; j-- {
			if isNewline(r, j) && blankLineAfter(r, j) && valid(j) {
				b, lineBreak = j, true
			}
		}
		for j := w; j >= lo && b < 0; j-- {
			if isNewline(r, j) && valid(j) {
				b, lineBreak = j, true
			}
		}
		// Sentence end, then any space.
		for j := w; j >= lo && b < 0; j-- {
			if (isSpace(r[j]) && strings.ContainsRune(".!?", r[j-1]) || strings.ContainsRune("。！？", r[j-1])) && valid(j) {
				b = j
			}
		}
		for j := w; j >= lo && b < 0; j-- {
			if isSpace(r[j]) && valid(j) {
				b = j
			}
		}
		if b < 0 {
			b = safeCut(r, lo, w)
			for _, z := range zones {
				if z.start < b && b < z.end {
					b = z.start
					break
				}
			}
		}
		out = append(out, string(carry)+trimRight(r[pos:b]))
		pos, midLine = b, !lineBreak
		carry, minEnd = nil, 0
	}
	return out
}

// span is a fenced code block in Split's input, in rune offsets.
type span struct {
	start      int // start of the opening line
	body       int // first rune after the opening line
	closeStart int // start of the closing line (end of text when unclosed)
	end        int // end of the closing line, before its newline
	open       string
	marker     string // the fence that closes the block
	// respected: Split never breaks inside the block (it fits in a chunk)
	// or breaks it with fences (oversize).
	respected, oversize bool
}

func fenceSpans(r []rune, limit int) []span {
	var spans []span
	var cur *span
	var fi fenceInfo
	n := len(r)
	for ls := 0; ls < n; {
		le := ls
		for le < n && r[le] != '\n' {
			le++
		}
		line := string(r[ls:le])
		if cur == nil {
			if f, ok := parseFenceOpen(line); ok {
				fi = f
				cur = &span{start: ls, body: min(le+1, n), open: strings.TrimSpace(line),
					marker: strings.Repeat(string(f.char), f.n)}
			}
		} else if isFenceClose(line, fi) {
			cur.closeStart, cur.end = ls, le
			spans = append(spans, *cur)
			cur = nil
		}
		ls = le + 1
	}
	if cur != nil {
		cur.closeStart, cur.end = n, n
		spans = append(spans, *cur)
	}
	for i := range spans {
		s := &spans[i]
		fits := s.end-s.start <= limit
		// Splitting needs room for the reopened line, the closing fence
		// and at least one rune of code.
		splittable := len([]rune(s.open))+1+1+len(s.marker) < limit
		s.respected = fits || splittable
		s.oversize = !fits && splittable
	}
	return spans
}

// skipLeading skips the whitespace that starts a chunk: whole blank lines
// always (keeping the indentation of the first line with text, unless it
// alone fills a chunk), and the spaces after a break inside a line.
func skipLeading(r []rune, pos int, midLine bool, limit int) int {
	f := pos
	lastNL := -1
	for f < len(r) && isSpace(r[f]) {
		if r[f] == '\n' {
			lastNL = f
		}
		f++
	}
	switch {
	case f == len(r):
		return f
	case lastNL >= 0 && f-(lastNL+1) < limit:
		return lastNL + 1
	case lastNL >= 0 || f-pos >= limit:
		return f
	case midLine:
		return f
	}
	return pos
}

// isNewline: a line ends at j ("\n" or "\r\n").
func isNewline(r []rune, j int) bool {
	return r[j] == '\n' || r[j] == '\r' && j+1 < len(r) && r[j+1] == '\n'
}

// blankLineAfter reports whether the line after the newline at j is blank
// (or the text ends there).
func blankLineAfter(r []rune, j int) bool {
	if r[j] == '\r' {
		j++
	}
	for k := j + 1; k < len(r); k++ {
		switch r[k] {
		case '\n':
			return true
		case ' ', '\t', '\r':
		default:
			return false
		}
	}
	return true
}

// safeCut moves a hard cut at b (lo <= b) back so that it does not separate
// a character from its combining marks, a zero-width joiner sequence or a
// flag's regional indicators.
func safeCut(r []rune, lo, b int) int {
	c := b
	for c > lo && c < len(r) && (isExtend(r[c]) || r[c-1] == '\u200d' || isRegional(r[c-1]) && isRegional(r[c]) && oddRegionalRun(r, c)) {
		c--
	}
	if c == lo && c < b && c < len(r) && isExtend(r[c]) {
		return b // one huge cluster: cut it anyway
	}
	return c
}

func isExtend(c rune) bool {
	return unicode.Is(unicode.Mn, c) || unicode.Is(unicode.Me, c) || c == '\u200d' ||
		c >= 0xfe00 && c <= 0xfe0f || c >= 0x1f3fb && c <= 0x1f3ff || c >= 0xe0020 && c <= 0xe007f
}

func isRegional(c rune) bool { return c >= 0x1f1e6 && c <= 0x1f1ff }

// oddRegionalRun: r[c-1] is the first of a flag's two indicators.
func oddRegionalRun(r []rune, c int) bool {
	k := 0
	for j := c - 1; j >= 0 && isRegional(r[j]); j-- {
		k++
	}
	return k%2 == 1
}

func isSpace(c rune) bool { return unicode.IsSpace(c) }

func trimRight(r []rune) string { return strings.TrimRightFunc(string(r), unicode.IsSpace) }

// fenceInfo is an opening code fence.
type fenceInfo struct {
	char rune // '`' or '~'
	n    int  // fence length
	info string
}

// parseFenceOpen recognizes an opening fence: up to three spaces, three or
// more backticks or tildes, and an info string (without backticks for a
// backtick fence).
func parseFenceOpen(line string) (fenceInfo, bool) {
	s := strings.TrimRight(line, "\r")
	ind := 0
	for ind < len(s) && s[ind] == ' ' {
		ind++
	}
	if ind > 3 || ind == len(s) || s[ind] != '`' && s[ind] != '~' {
		return fenceInfo{}, false
	}
	s = s[ind:]
	c := s[0]
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	if n < 3 {
		return fenceInfo{}, false
	}
	info := strings.TrimSpace(s[n:])
	if c == '`' && strings.ContainsRune(info, '`') {
		return fenceInfo{}, false
	}
	return fenceInfo{char: rune(c), n: n, info: info}, true
}

// isFenceClose recognizes the line that closes fence f: up to three spaces
// and at least as many of the same fence character, nothing else.
func isFenceClose(line string, f fenceInfo) bool {
	s := strings.TrimRight(line, " \t\r")
	ind := 0
	for ind < len(s) && s[ind] == ' ' {
		ind++
	}
	if ind > 3 {
		return false
	}
	s = s[ind:]
	n := 0
	for n < len(s) && rune(s[n]) == f.char {
		n++
	}
	return n >= f.n && n == len(s)
}
