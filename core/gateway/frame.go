package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pincerhq/pincer/core/protocol"
)

var errNotJSON = errors.New("not JSON")

type frameError struct{ reason string }

func (e *frameError) Error() string { return e.reason }

var requestKeys = map[string]bool{
	"type": true, "id": true, "method": true, "params": true, "traceparent": true, "expectedProfileId": true,
}

// parseRequest validates the closed request envelope by hand (it is on
// the hot path) and reports problems in the reference's wording. The
// returned frame is non-nil whenever the input was a JSON object, so a
// caller can echo a valid id.
func parseRequest(data []byte) (*protocol.RequestFrame, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		if !json.Valid(data) {
			return nil, errNotJSON
		}
		return nil, &frameError{typeReason("", "object")}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, errNotJSON
	}
	f := &protocol.RequestFrame{}
	if raw, ok := m["id"]; ok {
		_ = json.Unmarshal(raw, &f.ID)
	}
	for _, k := range []string{"type", "id", "method"} {
		if _, ok := m[k]; !ok {
			return f, &frameError{fmt.Sprintf("must have required property '%s'", k)}
		}
	}
	for _, k := range sortedKeys(m) {
		if !requestKeys[k] {
			return f, &frameError{fmt.Sprintf("at root: unexpected property '%s'", k)}
		}
	}
	var typ string
	if err := json.Unmarshal(m["type"], &typ); err != nil {
		return f, &frameError{typeReason("/type", "string")}
	}
	if typ != protocol.FrameReq {
		return f, &frameError{"at /type: must be equal to constant"}
	}
	if err := json.Unmarshal(m["id"], &f.ID); err != nil {
		f.ID = ""
		return f, &frameError{typeReason("/id", "string")}
	}
	if f.ID == "" {
		return f, &frameError{"at /id: must NOT have fewer than 1 characters"}
	}
	if err := json.Unmarshal(m["method"], &f.Method); err != nil {
		return f, &frameError{typeReason("/method", "string")}
	}
	if f.Method == "" {
		return f, &frameError{"at /method: must NOT have fewer than 1 characters"}
	}
	f.Type = typ
	f.Params = m["params"]
	if raw, ok := m["traceparent"]; ok {
		if err := json.Unmarshal(raw, &f.Traceparent); err != nil {
			return f, &frameError{typeReason("/traceparent", "string")}
		}
		if len(f.Traceparent) > 128 {
			return f, &frameError{"at /traceparent: must NOT have more than 128 characters"}
		}
	}
	if raw, ok := m["expectedProfileId"]; ok {
		if err := json.Unmarshal(raw, &f.ExpectedProfileID); err != nil {
			return f, &frameError{typeReason("/expectedProfileId", "string")}
		}
		if n := len(f.ExpectedProfileID); n < 1 || n > 128 {
			return f, &frameError{"at /expectedProfileId: must NOT have more than 128 characters"}
		}
	}
	return f, nil
}

func typeReason(path, typ string) string {
	if path == "" {
		return "must be " + typ
	}
	return "at " + path + ": must be " + typ
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// small maps: insertion sort keeps this allocation-light
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
