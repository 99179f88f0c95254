package telegram

import (
	"html"
	"regexp"
	"unicode/utf8"

	"github.com/pincerhq/pincer/core/channels/format"
)

// Telegram limits a message (4096) and a caption (1024) in UTF-16 code units
// of the text after entity parsing, i.e. what the user sees. format.Split
// counts runes, so a chunk of emoji or other astral characters can render
// to twice its rune count; such chunks are split again.

// utf16Len is a string's length in UTF-16 code units.
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

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// shownLen is how long Telegram counts a Markdown chunk: its HTML rendering
// without tags and entities, or its plain-text fallback, whichever is
// longer.
func shownLen(md string) int {
	return max(utf16Len(html.UnescapeString(htmlTag.ReplaceAllString(format.TelegramHTML(md), ""))),
		utf16Len(format.PlainText(md)))
}

// splitText cuts Markdown into chunks that each show at most limit UTF-16
// code units, breaking at paragraphs, lines and sentences (format.Split).
func splitText(md string, limit int) []string {
	var out []string
	for _, c := range format.Split(md, limit) {
		out = fitChunk(out, c, limit)
	}
	return out
}

func fitChunk(out []string, c string, limit int) []string {
	n := shownLen(c)
	runes := utf8.RuneCountInString(c)
	if n <= limit || runes <= 1 {
		return append(out, c)
	}
	// Shrink the rune budget in proportion to the overflow; each round
	// makes the chunks strictly shorter, so this ends.
	budget := min(max(runes*limit/n, 1), runes-1)
	for _, cc := range format.Split(c, budget) {
		out = fitChunk(out, cc, limit)
	}
	return out
}
