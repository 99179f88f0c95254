package tools

import (
	"strings"
)

// commandNames lists the program of every simple command in a /bin/sh
// command line ("git status && make -j4 | tee log" -> git, make, tee), so
// an allowlist can vet all of them, not just the first word. ok is false
// when the line holds anything whose programs cannot be known without
// running the shell — command or process substitution, subshells, shell
// keywords (if/for/while…), a program name built from a variable — and
// such a line never matches an allowlist.
//
// This is deliberately conservative: a line it cannot vet is asked about
// (policy "ask") or refused (policy "allowlist"), never let through.
func commandNames(line string) (names []string, ok bool) {
	var (
		word       strings.Builder
		inWord     bool
		dynamic    bool // the current word has an unquoted/double-quoted $ expansion
		words      []string
		dynWord    []bool
		redirected bool // the next word is a redirection target
	)
	finishWord := func() {
		if !inWord {
			return
		}
		if redirected {
			redirected = false
		} else {
			words = append(words, word.String())
			dynWord = append(dynWord, dynamic)
		}
		word.Reset()
		inWord, dynamic = false, false
	}
	finishCommand := func() bool {
		finishWord()
		for i, w := range words {
			if isAssignment(w) {
				continue
			}
			if dynWord[i] || shellKeywords[w] || w == "" {
				return false
			}
			names = append(names, w)
			break
		}
		words, dynWord = words[:0], dynWord[:0]
		return true
	}

	for i := 0; i < len(line); i++ {
		c := line[i]
		switch c {
		case '\\':
			if i+1 < len(line) {
				i++
				if line[i] != '\n' {
					word.WriteByte(line[i])
					inWord = true
				}
			}
		case '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, false
			}
			word.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				switch line[j] {
				case '\\':
					if j+1 < len(line) {
						j++
					}
				case '`':
					return nil, false
				case '$':
					if j+1 < len(line) && line[j+1] == '(' {
						return nil, false
					}
					dynamic = true
				}
				word.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, false
			}
			inWord = true
			i = j
		case '`':
			return nil, false
		case '$':
			if i+1 < len(line) && line[i+1] == '(' {
				return nil, false
			}
			dynamic = true
			word.WriteByte(c)
			inWord = true
		case '(', ')', '{', '}':
			if c == '{' || c == '}' {
				// Braces only group as separate words; inside a word
				// they are literal ("a{b,c}" is brace expansion of a word).
				if inWord || (i+1 < len(line) && !isSpace(line[i+1]) && line[i+1] != ';') {
					word.WriteByte(c)
					inWord = true
					continue
				}
			}
			return nil, false
		case '<', '>':
			if i+1 < len(line) && line[i+1] == '(' {
				return nil, false // process substitution
			}
			// "2>file": the digits are a file descriptor, not a word.
			if inWord && isAllDigits(word.String()) {
				word.Reset()
				inWord = false
			}
			finishWord()
			j := i + 1
			for j < len(line) && (line[j] == '<' || line[j] == '>' || line[j] == '|') {
				j++
			}
			if j < len(line) && line[j] == '&' {
				j++
				k := j
				for k < len(line) && (isASCIIDigit(line[k]) || line[k] == '-') {
					k++
				}
				if k > j {
					i = k - 1 // ">&2": duplicated descriptor, no target word
					continue
				}
			}
			if strings.HasPrefix(line[i:j], "<<") {
				// A here-document's body follows on later lines and would
				// be misread as commands.
				return nil, false
			}
			redirected = true
			i = j - 1
		case '&':
			if i+1 < len(line) && line[i+1] == '>' {
				finishWord()
				j := i + 2
				if j < len(line) && line[j] == '>' {
					j++
				}
				redirected = true
				i = j - 1
				continue
			}
			if i+1 < len(line) && line[i+1] == '&' {
				i++
			}
			if !finishCommand() {
				return nil, false
			}
		case '|':
			if i+1 < len(line) && (line[i+1] == '|' || line[i+1] == '&') {
				i++
			}
			if !finishCommand() {
				return nil, false
			}
		case ';', '\n':
			if !finishCommand() {
				return nil, false
			}
		case '#':
			if !inWord {
				// A comment runs to the end of the line.
				end := strings.IndexByte(line[i:], '\n')
				if end < 0 {
					i = len(line)
				} else {
					i += end - 1
				}
				continue
			}
			word.WriteByte(c)
		case ' ', '\t', '\r':
			finishWord()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if redirected && !inWord {
		return nil, false // a redirection without a target: a syntax error
	}
	if !finishCommand() {
		return nil, false
	}
	return names, len(names) > 0
}

func isAssignment(w string) bool {
	eq := strings.IndexByte(w, '=')
	if eq <= 0 {
		return false
	}
	for i := 0; i < eq; i++ {
		c := w[i]
		if !(c == '_' || isASCIILetter(c) || (i > 0 && isASCIIDigit(c))) {
			return false
		}
	}
	return true
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isASCIIDigit(s[i]) {
			return false
		}
	}
	return true
}

var shellKeywords = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "case": true, "esac": true,
	"for": true, "select": true, "while": true, "until": true, "do": true, "done": true, "in": true,
	"function": true, "time": true, "coproc": true, "!": true, "[[": true, "]]": true, "{": true, "}": true,
	// Builtins that run their arguments as commands.
	"eval": true, "exec": true, "command": true, "builtin": true, ".": true, "source": true, "trap": true,
}

// dispatchers run another program named in their arguments, so approving
// one "always" would approve anything behind it; allow-always does not
// persist them (the approved call still runs once).
var dispatchers = map[string]bool{
	"env": true, "sudo": true, "doas": true, "su": true, "xargs": true, "nohup": true, "nice": true,
	"ionice": true, "timeout": true, "watch": true, "stdbuf": true, "setsid": true, "chroot": true,
	"sh": true, "bash": true, "zsh": true, "dash": true, "ksh": true, "fish": true, "csh": true, "tcsh": true,
	"find": true, "parallel": true, "ssh": true, "script": true, "unbuffer": true, "caffeinate": true,
	"python": true, "python3": true, "python2": true, "node": true, "deno": true, "bun": true, "perl": true,
	"ruby": true, "php": true, "lua": true, "osascript": true, "awk": true, "gawk": true, "busybox": true,
	"npx": true, "uvx": true, "pnpx": true, "open": true,
}
