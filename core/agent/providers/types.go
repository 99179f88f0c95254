// Package providers talks to model providers: Anthropic Messages, OpenAI
// Chat Completions and Responses, and OpenAI-compatible servers (Ollama,
// LM Studio, vLLM, llama.cpp) — streaming, tool calls, images, usage,
// retries and failover along the configured fallbacks.
package providers

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
)

// Roles of a Message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool" // a tool result (ToolCallID names the call)
)

// Part is one piece of message content.
type Part struct {
	Type      string `json:"type"` // "text" | "image"
	Text      string `json:"text,omitempty"`
	MediaType string `json:"mediaType,omitempty"` // image/png, image/jpeg …
	Data      []byte `json:"data,omitempty"`      // raw image bytes
}

// ToolCall is a model's request to run a tool.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"` // a JSON object
}

// Message is one turn of the conversation sent to a model.
type Message struct {
	Role       string     `json:"role"`
	Content    []Part     `json:"content,omitempty"`
	ToolCalls  []ToolCall `json:"toolCalls,omitempty"`  // assistant turns
	ToolCallID string     `json:"toolCallId,omitempty"` // tool results
	IsError    bool       `json:"isError,omitempty"`    // tool results
}

// Tool is a tool offered to the model.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"` // JSON Schema of the arguments object
}

// Request is one model call.
type Request struct {
	Model       string // the provider's model id (without the provider prefix)
	System      string
	Messages    []Message
	Tools       []Tool
	MaxTokens   int      // 0: provider default (4096 for Anthropic)
	Temperature *float64 // nil: provider default
}

// Usage counts tokens.
type Usage struct {
	Input      int `json:"input"`
	Output     int `json:"output"`
	CacheRead  int `json:"cacheRead"`
	CacheWrite int `json:"cacheWrite"`
}

// Total is input+output+cache.
func (u Usage) Total() int { return u.Input + u.Output + u.CacheRead + u.CacheWrite }

// Event is one streamed increment.
type Event struct {
	// TextDelta carries assistant text as it arrives.
	TextDelta string
	// ToolCall is a complete tool call (arguments fully streamed).
	ToolCall *ToolCall
}

// Response is a finished model call.
type Response struct {
	Text       string
	ToolCalls  []ToolCall
	Images     []Part // images the model produced, if any
	Usage      Usage
	StopReason string // "stop" | "tool_use" | "max_tokens" | provider-specific
	Provider   string // provider id that answered
	Model      string // model id that answered (the response's, when reported)
	API        string // "anthropic-messages" | "openai-completions" | "openai-responses"
}

// Provider is one configured model provider.
type Provider interface {
	// ID is the provider id of the config ("anthropic", "openai", "ollama" …).
	ID() string
	// API names the wire API the provider speaks.
	API() string
	// Stream runs one call, reporting increments to onEvent (which may stop
	// the call by returning an error) and returning the full response.
	Stream(ctx context.Context, req Request, onEvent func(Event) error) (*Response, error)
}

// ErrNoModel is returned when no model is configured or detected; its
// message says how to configure one.
var ErrNoModel = errors.New("no model is configured: set agents.defaults.model.primary to a \"provider/model\" ref " +
	"(e.g. \"anthropic/claude-sonnet-4-5\" with ANTHROPIC_API_KEY set, \"openai/gpt-4.1\" with OPENAI_API_KEY set), " +
	"or run Ollama on 127.0.0.1:11434, then restart the gateway")

// APIError is a provider's HTTP error.
type APIError struct {
	Provider   string
	Status     int
	Message    string
	RetryAfter float64 // seconds, from Retry-After; 0 when absent
}

func (e *APIError) Error() string {
	return e.Provider + ": HTTP " + strconv.Itoa(e.Status) + ": " + e.Message
}

// Retryable reports whether the call may be retried (429 and 5xx).
func (e *APIError) Retryable() bool { return e.Status == 429 || e.Status >= 500 }
