package schema

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// errDuplicate is a JSON object naming a key twice.
type errDuplicate struct {
	path []string
	key  string
}

func (e *errDuplicate) Error() string {
	where := "at root"
	if len(e.path) > 0 {
		where = "at " + instancePath(e.path)
	}
	return where + ": duplicate property '" + e.key + "'"
}

// decodeInstance decodes a JSON document the way jsonschema.UnmarshalJSON
// does (objects as map[string]any, numbers as json.Number), but rejects an
// object that names a key twice: the validator would see the last value
// while encoding/json also decodes (and may fail on) the earlier ones.
func decodeInstance(data []byte) (any, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, err
	}
	p := &instParser{b: data}
	return p.value()
}

// instParser parses a document already known to be valid JSON (so it only
// needs to find token boundaries) and therefore nests at most as deep as
// encoding/json allows.
type instParser struct {
	b    []byte
	i    int
	path []string
}

func (p *instParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *instParser) value() (any, error) {
	p.ws()
	switch c := p.b[p.i]; c {
	case '{':
		p.i++
		m := map[string]any{}
		p.ws()
		if p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			p.ws()
			k := p.str()
			p.ws()
			p.i++ // ':'
			if _, dup := m[k]; dup {
				return nil, &errDuplicate{path: append([]string(nil), p.path...), key: k}
			}
			p.path = append(p.path, k)
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			p.path = p.path[:len(p.path)-1]
			m[k] = v
			p.ws()
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			p.i++ // '}'
			return m, nil
		}
	case '[':
		p.i++
		a := []any{}
		p.ws()
		if p.b[p.i] == ']' {
			p.i++
			return a, nil
		}
		for {
			p.path = append(p.path, strconv.Itoa(len(a)))
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			p.path = p.path[:len(p.path)-1]
			a = append(a, v)
			p.ws()
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			p.i++ // ']'
			return a, nil
		}
	case '"':
		return p.str(), nil
	case 't':
		p.i += 4
		return true, nil
	case 'f':
		p.i += 5
		return false, nil
	case 'n':
		p.i += 4
		return nil, nil
	default:
		start := p.i
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				p.i++
				continue
			}
			break
		}
		return json.Number(p.b[start:p.i]), nil
	}
}

// str reads a string token at p.i.
func (p *instParser) str() string {
	start := p.i
	j := start + 1
	plain := true
	for p.b[j] != '"' {
		switch c := p.b[j]; {
		case c == '\\':
			plain = false
			j += 2
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.b[j:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			j += size
		default:
			j++
		}
	}
	p.i = j + 1
	if plain {
		return string(p.b[start+1 : j])
	}
	var s string
	_ = json.Unmarshal(p.b[start:p.i], &s) // a valid string token always decodes
	return s
}
