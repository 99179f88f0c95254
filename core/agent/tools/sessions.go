package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// SessionsAPI is what the session tools need from the runtime. The
// runtime applies visibility (which sessions the calling agent may see)
// itself; the tools only shape arguments and results.
type SessionsAPI interface {
	// List returns the sessions visible to the caller, most recently
	// updated first.
	List(ctx context.Context) ([]SessionInfo, error)
	// History returns the newest limit transcript messages of a session,
	// oldest first.
	History(ctx context.Context, key string, limit int) ([]HistoryItem, error)
	// Send starts a run of session toKey with message, on behalf of
	// session fromKey, and returns the run id without waiting for it.
	Send(ctx context.Context, fromKey, toKey, message string) (runID string, err error)
}

// SessionInfo is one session as sessions_list shows it. Times are Unix
// milliseconds.
type SessionInfo struct {
	Key         string `json:"key"`
	SessionID   string `json:"sessionId,omitempty"`
	AgentID     string `json:"agentId,omitempty"`
	Kind        string `json:"kind,omitempty"` // "direct" | "group" | "cron" | …
	Label       string `json:"label,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Channel     string `json:"channel,omitempty"`
	Model       string `json:"model,omitempty"`
	Status      string `json:"status,omitempty"` // "" | "running" | "done" | "failed" | …
	UpdatedAt   int64  `json:"updatedAt,omitempty"`
}

// HistoryItem is one transcript message as sessions_history shows it.
type HistoryItem struct {
	Role      string `json:"role"` // "user" | "assistant" | "tool" | "system"
	Text      string `json:"text"`
	ToolName  string `json:"toolName,omitempty"`
	IsError   bool   `json:"isError,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"` // Unix milliseconds
	RunID     string `json:"runId,omitempty"`
}

// Session tool limits (OpenClaw's).
const (
	sessionsListDefault    = 100
	sessionsListMax        = 200
	sessionsHistoryDefault = 20
	sessionsHistoryMax     = 200
	historyTextMax         = 4000
	historyBytesMax        = 80 << 10
	sessionsSendMax        = 64 << 10
)

// SessionsList is the `sessions_list` tool.
type SessionsList struct{ API SessionsAPI }

// NewSessionsList returns the sessions_list tool over api.
func NewSessionsList(api SessionsAPI) *SessionsList { return &SessionsList{API: api} }

// Spec implements Tool.
func (*SessionsList) Spec() providers.Tool {
	return providers.Tool{
		Name: "sessions_list",
		Description: "List the sessions (conversations) you can see on this gateway: key, agent, kind, label, channel, model, " +
			"run status and last update. Use a returned key with sessions_history or sessions_send.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "description": "Maximum sessions to return. Default 100."},
    "kinds": {"type": "array", "items": {"type": "string"}, "description": "Only sessions of these kinds (e.g. direct, group, cron)."},
    "agentId": {"type": "string", "description": "Only sessions of this agent."},
    "label": {"type": "string", "description": "Only sessions with exactly this label."},
    "search": {"type": "string", "description": "Only sessions whose key, label or display name contains this text."}
  },
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (t *SessionsList) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		Limit   *int     `json:"limit"`
		Kinds   []string `json:"kinds"`
		AgentID string   `json:"agentId"`
		Label   string   `json:"label"`
		Search  string   `json:"search"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("sessions_list", err), nil
	}
	limit := sessionsListDefault
	if a.Limit != nil {
		if *a.Limit < 1 {
			return Error("sessions_list: limit must be at least 1"), nil
		}
		limit = min(*a.Limit, sessionsListMax)
	}
	all, err := t.API.List(ctx)
	if err != nil {
		return Error("sessions_list: " + err.Error()), nil
	}
	search := strings.ToLower(strings.TrimSpace(a.Search))
	rows := make([]SessionInfo, 0, min(len(all), limit))
	matched := 0
	for _, s := range all {
		if len(a.Kinds) > 0 && !slices.Contains(a.Kinds, s.Kind) ||
			a.AgentID != "" && s.AgentID != a.AgentID ||
			a.Label != "" && s.Label != a.Label ||
			search != "" && !strings.Contains(strings.ToLower(s.Key+"\n"+s.Label+"\n"+s.DisplayName), search) {
			continue
		}
		matched++
		if len(rows) < limit {
			rows = append(rows, s)
		}
	}
	out := struct {
		Count    int           `json:"count"`
		HasMore  bool          `json:"hasMore,omitempty"`
		Sessions []SessionInfo `json:"sessions"`
	}{len(rows), matched > len(rows), rows}
	return jsonResult(out), nil
}

// SessionsHistory is the `sessions_history` tool.
type SessionsHistory struct{ API SessionsAPI }

// NewSessionsHistory returns the sessions_history tool over api.
func NewSessionsHistory(api SessionsAPI) *SessionsHistory { return &SessionsHistory{API: api} }

// Spec implements Tool.
func (*SessionsHistory) Spec() providers.Tool {
	return providers.Tool{
		Name: "sessions_history",
		Description: "Read the recent transcript of another session (from sessions_list): its newest messages, oldest first. " +
			"Tool results are left out unless includeTools is true; long messages are cut at 4000 characters.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "sessionKey": {"type": "string", "description": "The session key, as sessions_list returns it."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "description": "How many of the newest messages to return. Default 20."},
    "includeTools": {"type": "boolean", "description": "Include tool-result messages. Default false."}
  },
  "required": ["sessionKey"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (t *SessionsHistory) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		SessionKey   string `json:"sessionKey"`
		Limit        *int   `json:"limit"`
		IncludeTools bool   `json:"includeTools"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("sessions_history", err), nil
	}
	key := strings.TrimSpace(a.SessionKey)
	if key == "" {
		return Error("sessions_history: sessionKey is required (get one from sessions_list)"), nil
	}
	limit := sessionsHistoryDefault
	if a.Limit != nil {
		if *a.Limit < 1 {
			return Error("sessions_history: limit must be at least 1"), nil
		}
		limit = min(*a.Limit, sessionsHistoryMax)
	}
	fetch := limit
	if !a.IncludeTools {
		fetch = min(limit*3, 3*sessionsHistoryMax) // room for the tool results dropped below
	}
	items, err := t.API.History(ctx, key, fetch)
	if err != nil {
		return Error("sessions_history: " + err.Error()), nil
	}
	msgs := make([]HistoryItem, 0, len(items))
	contentTruncated := false
	for _, m := range items {
		if !a.IncludeTools && m.Role == providers.RoleTool {
			continue
		}
		if len(m.Text) > historyTextMax {
			m.Text = cutUTF8(m.Text, historyTextMax) + " …[truncated]"
			contentTruncated = true
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	// Keep the newest messages within the byte budget.
	dropped, size := 0, 0
	for i := len(msgs) - 1; i >= 0; i-- {
		b, _ := json.Marshal(msgs[i])
		size += len(b)
		if size > historyBytesMax {
			dropped = i + 1
			break
		}
	}
	msgs = msgs[dropped:]
	out := struct {
		SessionKey       string        `json:"sessionKey"`
		Messages         []HistoryItem `json:"messages"`
		DroppedMessages  int           `json:"droppedMessages,omitempty"`
		ContentTruncated bool          `json:"contentTruncated,omitempty"`
	}{key, msgs, dropped, contentTruncated}
	return jsonResult(out), nil
}

// SessionsSend is the `sessions_send` tool.
type SessionsSend struct{ API SessionsAPI }

// NewSessionsSend returns the sessions_send tool over api.
func NewSessionsSend(api SessionsAPI) *SessionsSend { return &SessionsSend{API: api} }

// Spec implements Tool.
func (*SessionsSend) Spec() providers.Tool {
	return providers.Tool{
		Name: "sessions_send",
		Description: "Send a message to another session on this gateway, which starts a run of that session's agent with it. " +
			"Returns at once with the run id; the reply is not returned here — read it later with sessions_history.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "sessionKey": {"type": "string", "description": "The target session key, as sessions_list returns it."},
    "message": {"type": "string", "description": "The message to send."}
  },
  "required": ["sessionKey", "message"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (t *SessionsSend) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		SessionKey string `json:"sessionKey"`
		Message    string `json:"message"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("sessions_send", err), nil
	}
	key := strings.TrimSpace(a.SessionKey)
	switch {
	case key == "":
		return Error("sessions_send: sessionKey is required (get one from sessions_list)"), nil
	case strings.TrimSpace(a.Message) == "":
		return Error("sessions_send: message is required"), nil
	case len(a.Message) > sessionsSendMax:
		return Error(fmt.Sprintf("sessions_send: message is %d bytes, over the %s limit", len(a.Message), sizeString(sessionsSendMax))), nil
	case key == call.SessionKey:
		return Error("sessions_send: that is this session; sessions_send targets another session"), nil
	}
	runID, err := t.API.Send(ctx, call.SessionKey, key, a.Message)
	if err != nil {
		return Error("sessions_send: " + err.Error()), nil
	}
	out := struct {
		Status     string `json:"status"`
		RunID      string `json:"runId"`
		SessionKey string `json:"sessionKey"`
	}{"accepted", runID, key}
	return jsonResult(out), nil
}

// SessionTools returns sessions_list, sessions_history and sessions_send
// over api.
func SessionTools(api SessionsAPI) []Tool {
	return []Tool{NewSessionsList(api), NewSessionsHistory(api), NewSessionsSend(api)}
}
