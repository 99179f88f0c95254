package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
)

// object is a decoded JSON object that remembers the order of its keys.
// Values are nil, bool, json.Number, string, []any or *object.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) get(k string) any {
	if o == nil {
		return nil
	}
	return o.vals[k]
}

// obj returns the member k when it is an object.
func (o *object) obj(k string) *object {
	v, _ := o.get(k).(*object)
	return v
}

func (o *object) has(k string) bool {
	if o == nil {
		return false
	}
	_, ok := o.vals[k]
	return ok
}

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) del(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, kk := range o.keys {
		if kk == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

// index returns the position of key k, or -1.
func (o *object) index(k string) int {
	if o == nil {
		return -1
	}
	for i, kk := range o.keys {
		if kk == k {
			return i
		}
	}
	return -1
}

// strings returns the member k as a list of strings: a JSON string gives one
// element, an array its string elements.
func (o *object) strings(k string) []string {
	switch v := o.get(k).(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// decodeOrdered decodes one JSON document, keeping object key order. For a
// key given twice the last value wins and the first position is kept.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid character after top-level value")
	}
	return v, nil
}

func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		o := newObject()
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, ok := kt.(string)
			if !ok {
				return nil, errors.New("object key is not a string")
			}
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(k, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return o, nil
	case '[':
		a := []any{}
		for dec.More() {
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, errors.New("unexpected delimiter")
}

// Encoding contexts of encodeSchema.
const (
	ctxData    = iota // plain JSON data: keys sorted
	ctxSchema         // a schema object: keys sorted
	ctxSchemas        // an object or array whose members are schemas: keys sorted
	ctxProps          // "properties": members are schemas, declaration order kept
)

// schemaKeywordCtx tells what the value of a schema keyword is.
func schemaKeywordCtx(k string) int {
	switch k {
	case "properties":
		return ctxProps
	case "$defs", "definitions", "patternProperties", "dependentSchemas",
		"anyOf", "oneOf", "allOf", "prefixItems":
		return ctxSchemas
	case "items", "additionalProperties", "additionalItems", "not", "if", "then", "else",
		"contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems":
		return ctxSchema
	}
	return ctxData
}

// encodeCanonical writes v as indented JSON with a trailing newline. Object
// keys are sorted, except the members of a schema's "properties", which keep
// the Go declaration order: it is the order in which the reference validator
// checks them, and the validator here reads it back to report errors the
// same way.
func encodeCanonical(v any, root int) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(&buf, v, root, 0); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func encodeValue(buf *bytes.Buffer, v any, ctx, depth int) error {
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case json.Number:
		buf.WriteString(v.String())
	case string:
		writeString(buf, v)
	case []any:
		if len(v) == 0 {
			buf.WriteString("[]")
			return nil
		}
		elem := ctxData
		if ctx == ctxSchemas {
			elem = ctxSchema
		}
		buf.WriteString("[\n")
		for i, e := range v {
			indent(buf, depth+1)
			if err := encodeValue(buf, e, elem, depth+1); err != nil {
				return err
			}
			if i < len(v)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		indent(buf, depth)
		buf.WriteByte(']')
	case *object:
		if len(v.keys) == 0 {
			buf.WriteString("{}")
			return nil
		}
		keys := append([]string(nil), v.keys...)
		if ctx != ctxProps {
			sort.Strings(keys)
		}
		buf.WriteString("{\n")
		for i, k := range keys {
			indent(buf, depth+1)
			writeString(buf, k)
			buf.WriteString(": ")
			child := ctxData
			switch ctx {
			case ctxSchema:
				child = schemaKeywordCtx(k)
			case ctxSchemas, ctxProps:
				child = ctxSchema
			}
			if err := encodeValue(buf, v.vals[k], child, depth+1); err != nil {
				return err
			}
			if i < len(keys)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		indent(buf, depth)
		buf.WriteByte('}')
	default:
		return errors.New("schema: cannot encode value of unexpected type")
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Write(bytes.TrimSuffix(b.Bytes(), []byte{'\n'}))
}

func indent(buf *bytes.Buffer, depth int) {
	for range depth {
		buf.WriteString("  ")
	}
}
