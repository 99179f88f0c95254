package protocol

import "encoding/json"

// Frame types.
const (
	FrameReq   = "req"
	FrameRes   = "res"
	FrameEvent = "event"
)

// RequestFrame is a client → server request. The envelope is closed.
type RequestFrame struct {
	Type              string          `json:"type" jsonschema:"enum=req"`
	ID                string          `json:"id" jsonschema:"minLength=1"`
	Method            string          `json:"method" jsonschema:"minLength=1"`
	Params            json.RawMessage `json:"params,omitempty"`
	Traceparent       string          `json:"traceparent,omitempty" jsonschema:"maxLength=128"`
	ExpectedProfileID string          `json:"expectedProfileId,omitempty" jsonschema:"minLength=1,maxLength=128"`
}

// ResponseFrame answers one request; some methods answer twice on one id
// (an "accepted" ack, then the final payload).
type ResponseFrame struct {
	Type    string          `json:"type" jsonschema:"enum=res"`
	ID      string          `json:"id" jsonschema:"minLength=1"`
	OK      bool            `json:"ok"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Error   *ErrorShape     `json:"error,omitempty"`
}

// EventFrame is a server → client event. Seq is set on broadcasts only.
type EventFrame struct {
	Type               string          `json:"type" jsonschema:"enum=event"`
	Event              string          `json:"event" jsonschema:"minLength=1"`
	Payload            json.RawMessage `json:"payload,omitempty"`
	Seq                *int64          `json:"seq,omitempty" jsonschema:"minimum=0"`
	StateVersion       *StateVersion   `json:"stateVersion,omitempty"`
	RecipientProfileID string          `json:"recipientProfileId,omitempty" jsonschema:"minLength=1,maxLength=128"`
}

// StateVersion counts changes of the presence and health subtrees.
type StateVersion struct {
	Presence int64 `json:"presence" jsonschema:"minimum=0"`
	Health   int64 `json:"health" jsonschema:"minimum=0"`
}

// InboundFrame is the loose decoding of any frame, used by clients to
// dispatch on type before decoding the rest.
type InboundFrame struct {
	Type         string          `json:"type"`
	ID           string          `json:"id,omitempty"`
	Method       string          `json:"method,omitempty"`
	Params       json.RawMessage `json:"params,omitempty"`
	OK           *bool           `json:"ok,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
	Error        *ErrorShape     `json:"error,omitempty"`
	Event        string          `json:"event,omitempty"`
	Seq          *int64          `json:"seq,omitempty"`
	StateVersion *StateVersion   `json:"stateVersion,omitempty"`
}
