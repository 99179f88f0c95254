package format

import (
	"strings"
	"testing"
)

// TestPathologicalInputs runs inputs that make naive Markdown parsers
// quadratic; it guards against that by finishing within the test timeout.
func TestPathologicalInputs(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("*a ", 30000),
		strings.Repeat("**a ", 30000),
		strings.Repeat("_a ", 30000),
		strings.Repeat("`a ", 30000),
		strings.Repeat("**a *b ", 10000),
		strings.Repeat("[", 30000) + strings.Repeat("](", 30000),
		strings.Repeat("[a](x", 30000),
		strings.Repeat("[a](x \"", 30000),
		strings.Repeat("```\nx\n", 30000),
		strings.Repeat(">", 30000),
		strings.Repeat("*_~~", 30000),
		strings.Repeat("x", 300000),
	} {
		chunks := Split(in, 100)
		checkChunks(t, in, 100, chunks)
		if err := checkTelegramHTML(TelegramHTML(in)); err != nil {
			t.Fatal(err)
		}
		PlainText(in)
	}
}
