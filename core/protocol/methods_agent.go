package protocol

import "encoding/json"

// AgentParams are the params of agent (open: the reference has many
// internal fields).
type AgentParams struct {
	Message           string            `json:"message" jsonschema:"minLength=1"`
	IdempotencyKey    string            `json:"idempotencyKey" jsonschema:"minLength=1"`
	AgentID           string            `json:"agentId,omitempty" jsonschema:"minLength=1"`
	SessionKey        string            `json:"sessionKey,omitempty"`
	SessionID         string            `json:"sessionId,omitempty"`
	Provider          string            `json:"provider,omitempty"`
	Model             string            `json:"model,omitempty"`
	Thinking          string            `json:"thinking,omitempty"`
	Deliver           *bool             `json:"deliver,omitempty"`
	Attachments       []json.RawMessage `json:"attachments,omitempty"`
	Timeout           *int64            `json:"timeout,omitempty" jsonschema:"minimum=0"`
	Lane              string            `json:"lane,omitempty"`
	ExtraSystemPrompt string            `json:"extraSystemPrompt,omitempty"`
	Label             string            `json:"label,omitempty" jsonschema:"minLength=1,maxLength=512"`
}

// OpenParams marks the params as open.
func (AgentParams) OpenParams() {}

// AgentWaitParams are the params of agent.wait.
type AgentWaitParams struct {
	RunID     string `json:"runId" jsonschema:"minLength=1"`
	TimeoutMs *int64 `json:"timeoutMs,omitempty" jsonschema:"minimum=0"`
}

// ChatAttachment is one chat.send attachment (open).
type ChatAttachment struct {
	Type     string `json:"type,omitempty"`
	MimeType string `json:"mimeType,omitempty"`
	FileName string `json:"fileName,omitempty"`
	Content  string `json:"content,omitempty"` // base64 (or a data: URL)
}

// ChatSendParams are the params of chat.send (open).
type ChatSendParams struct {
	SessionKey     string           `json:"sessionKey" jsonschema:"minLength=1,maxLength=512"`
	Message        string           `json:"message"`
	IdempotencyKey string           `json:"idempotencyKey" jsonschema:"minLength=1"`
	AgentID        string           `json:"agentId,omitempty" jsonschema:"minLength=1"`
	Thinking       string           `json:"thinking,omitempty"`
	QueueMode      string           `json:"queueMode,omitempty" jsonschema:"enum=steer,enum=followup,enum=collect,enum=interrupt"`
	Deliver        *bool            `json:"deliver,omitempty"`
	Attachments    []ChatAttachment `json:"attachments,omitempty"`
	TimeoutMs      *int64           `json:"timeoutMs,omitempty" jsonschema:"minimum=0"`
}

// OpenParams marks the params as open.
func (ChatSendParams) OpenParams() {}

// ChatHistoryParams are the params of chat.history.
type ChatHistoryParams struct {
	SessionKey    string   `json:"sessionKey" jsonschema:"minLength=1"`
	AgentID       string   `json:"agentId,omitempty" jsonschema:"minLength=1"`
	Cursor        string   `json:"cursor,omitempty"`
	Limit         *int     `json:"limit,omitempty" jsonschema:"minimum=1,maximum=1000"`
	MaxBytes      *int     `json:"maxBytes,omitempty" jsonschema:"minimum=1024"`
	Offset        *int     `json:"offset,omitempty" jsonschema:"minimum=0"`
	PendingBefore *int64   `json:"pendingBefore,omitempty" jsonschema:"minimum=1"`
	InputRunIDs   []string `json:"inputRunIds,omitempty" jsonschema:"minItems=1,maxItems=50"`
	MessageID     string   `json:"messageId,omitempty" jsonschema:"minLength=1"`
	SessionID     string   `json:"sessionId,omitempty" jsonschema:"minLength=1"`
	MaxChars      *int     `json:"maxChars,omitempty" jsonschema:"minimum=1,maximum=500000"`
}

// ChatAbortParams are the params of chat.abort.
type ChatAbortParams struct {
	SessionKey       string `json:"sessionKey" jsonschema:"minLength=1"`
	AgentID          string `json:"agentId,omitempty" jsonschema:"minLength=1"`
	RunID            string `json:"runId,omitempty" jsonschema:"minLength=1"`
	PreserveSideRuns *bool  `json:"preserveSideRuns,omitempty"`
}

// ChatInjectParams are the params of chat.inject.
type ChatInjectParams struct {
	SessionKey string `json:"sessionKey" jsonschema:"minLength=1"`
	AgentID    string `json:"agentId,omitempty" jsonschema:"minLength=1"`
	Message    string `json:"message" jsonschema:"minLength=1"`
	Label      string `json:"label,omitempty" jsonschema:"maxLength=100"`
}

// SessionsListParams are the params of sessions.list and sessions.subscribe (open).
type SessionsListParams struct {
	Limit         *int   `json:"limit,omitempty" jsonschema:"minimum=1"`
	Offset        *int   `json:"offset,omitempty" jsonschema:"minimum=0"`
	ActiveMinutes *int   `json:"activeMinutes,omitempty" jsonschema:"minimum=1"`
	AgentID       string `json:"agentId,omitempty"`
	Search        string `json:"search,omitempty"`
}

// OpenParams marks the params as open.
func (SessionsListParams) OpenParams() {}

// SessionKeyParams name a session (sessions.reset, sessions.delete; open).
type SessionKeyParams struct {
	Key     string `json:"key" jsonschema:"minLength=1"`
	AgentID string `json:"agentId,omitempty"`
}

// OpenParams marks the params as open.
func (SessionKeyParams) OpenParams() {}

// AgentsListParams are the params of agents.list (open).
type AgentsListParams struct{}

// OpenParams marks the params as open.
func (AgentsListParams) OpenParams() {}
