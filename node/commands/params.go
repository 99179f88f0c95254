package commands

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
)

// decodeParams unmarshals a command's params into dst. Absent params (empty
// or JSON null) leave dst at its zero value; anything but a JSON object is
// rejected. Unknown fields are ignored so newer gateways can add optional
// params. Failures are INVALID_REQUEST errors that name the offending field.
func decodeParams(raw json.RawMessage, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if raw[0] != '{' {
		return invalid("params must be a JSON object")
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "params"
			}
			return invalid("invalid params: %s must be %s (got %s)", field, jsonKind(te.Type), te.Value)
		}
		return invalid("invalid params: %v", err)
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a valid value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}

// intParam validates an optional numeric param: absent yields def, otherwise
// the value must be finite and within [lo, hi]; fractions are truncated.
func intParam(name string, v *float64, def, lo, hi int) (int, error) {
	if v == nil {
		return def, nil
	}
	f := *v
	if math.IsNaN(f) || math.IsInf(f, 0) || f < float64(lo) || f > float64(hi) {
		return 0, invalid("%s must be between %d and %d", name, lo, hi)
	}
	return int(f), nil
}

// fracParam validates an optional number in [0, 1].
func fracParam(name string, v *float64, def float64) (float64, error) {
	if v == nil {
		return def, nil
	}
	if math.IsNaN(*v) || *v < 0 || *v > 1 {
		return 0, invalid("%s must be between 0 and 1", name)
	}
	return *v, nil
}

// oneOf checks an optional string against its allowed values.
func oneOf(name, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalid("%s must be one of %s (got %q)", name, strings.Join(allowed, ", "), v)
}
