package hooks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/sessions"
)

// toolsInvokeMaxBody is the reference's default body limit for
// /tools/invoke.
const toolsInvokeMaxBody = 2 << 20

// hardDenied are refused over /tools/invoke (and tools.invoke) whatever
// the agent's policy says; gateway.tools.allow removes names from this
// list and gateway.tools.deny adds more.
var hardDenied = []string{"exec", "spawn", "shell", "fs_write", "fs_delete", "fs_move", "apply_patch",
	"sessions_spawn", "sessions_send", "cron", "gateway", "nodes"}

// ownerOnly tools need operator.admin even when gateway.tools.allow
// exposes them (WebSocket callers without admin).
var ownerOnly = []string{"cron", "gateway", "nodes"}

// denyList is the effective HTTP deny list for cfg.
func denyList(cfg *config.Config) []string {
	var allow, deny []string
	if cfg != nil && cfg.Gateway.Tools != nil {
		allow = stringList(cfg.Gateway.Tools["allow"])
		deny = stringList(cfg.Gateway.Tools["deny"])
	}
	out := make([]string, 0, len(hardDenied)+len(deny))
	for _, n := range hardDenied {
		if !slices.Contains(allow, n) {
			out = append(out, n)
		}
	}
	return append(out, deny...)
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s := strings.TrimSpace(stringOf(x)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// invokeInput is a tools invoke request (HTTP body or method params).
type invokeInput struct {
	Name, Tool, Action  string
	Args                json.RawMessage
	SessionKey, AgentID string
	IdempotencyKey      string
	DryRun              bool
}

// ToolsInvokeParams are the tools.invoke method's params (the reference's
// closed ToolsInvokeParams object).
type ToolsInvokeParams struct {
	Name                   string          `json:"name"`
	Args                   json.RawMessage `json:"args,omitempty"`
	SessionKey             string          `json:"sessionKey,omitempty"`
	AgentID                string          `json:"agentId,omitempty"`
	Confirm                *bool           `json:"confirm,omitempty"`
	IdempotencyKey         string          `json:"idempotencyKey,omitempty"`
	ConversationReadOrigin string          `json:"conversationReadOrigin,omitempty"`
}

// ToolsInvokeResult is the tools.invoke payload: ok with the tool's output,
// or ok:false with a typed error (refusals are payloads, not errors).
type ToolsInvokeResult struct {
	OK       bool             `json:"ok"`
	ToolName string           `json:"toolName"`
	Output   *ToolOutput      `json:"output,omitempty"`
	Error    *ToolInvokeError `json:"error,omitempty"`
}

// ToolInvokeError is a tools.invoke refusal.
type ToolInvokeError struct {
	Code    string `json:"code"` // validation_error | not_found | forbidden | internal_error
	Message string `json:"message"`
}

// ToolOutput is a tool's result as the reference returns it.
type ToolOutput struct {
	Content []ToolContent `json:"content"`
	Details any           `json:"details,omitempty"`
}

// ToolContent is one content block (text or a base64 image).
type ToolContent struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Data     string `json:"data,omitempty"`
	MimeType string `json:"mimeType,omitempty"`
}

// invokeOutcome is a tools invoke result before it is shaped for HTTP or
// the WebSocket.
type invokeOutcome struct {
	status   int
	toolName string
	output   *ToolOutput
	errType  string // invalid_request | not_found | tool_call_blocked | tool_error
	errMsg   string
}

func failed(status int, name, typ, msg string) invokeOutcome {
	return invokeOutcome{status: status, toolName: name, errType: typ, errMsg: msg}
}

// invoke resolves the target session, applies the deny list and runs the
// tool.
func (s *server) invoke(ctx context.Context, in invokeInput, owner bool) invokeOutcome {
	name := strings.TrimSpace(firstNonEmpty(strings.TrimSpace(in.Name), in.Tool))
	if name == "" {
		return failed(http.StatusBadRequest, "", "invalid_request", "tools.invoke requires name")
	}
	var cfg *config.Config
	if s.d.Config != nil {
		cfg = s.d.Config()
	}
	agentID, key, msg := resolveInvokeTarget(cfg, in.SessionKey, in.AgentID)
	if msg != "" {
		return failed(http.StatusBadRequest, name, "invalid_request", msg)
	}
	args := argsObject(in.Args)
	if a := strings.TrimSpace(in.Action); a != "" {
		if _, set := args["action"]; !set {
			args["action"] = a
		}
	}
	deny := denyList(cfg)
	if !owner {
		deny = append(deny, ownerOnly...)
	}
	if !(tools.Policy{Deny: deny}).Admits(name) {
		return failed(http.StatusNotFound, name, "not_found", "Tool not available: "+name)
	}
	if in.DryRun {
		return invokeOutcome{status: http.StatusOK, toolName: name, output: &ToolOutput{Content: []ToolContent{},
			Details: map[string]any{"dryRun": true, "tool": name, "agentId": agentID, "sessionKey": key}}}
	}
	raw, _ := json.Marshal(args)
	if s.d.Agents == nil {
		return failed(http.StatusServiceUnavailable, name, "tool_error", "the agent runtime is not running")
	}
	res, err := s.d.Agents.InvokeTool(ctx, agentID, key, name, raw, deny)
	if err != nil {
		var pe *protocol.Error
		switch {
		case errors.Is(err, agent.ErrToolUnavailable):
			return failed(http.StatusNotFound, name, "not_found", "Tool not available: "+name)
		case errors.As(err, &pe) && pe.Code == protocol.CodeInvalidRequest:
			return failed(http.StatusBadRequest, name, "invalid_request", pe.Message)
		}
		s.log.Warn("tools-invoke: tool execution failed", "tool", name, "err", err)
		return failed(http.StatusInternalServerError, name, "tool_error", "tool execution failed")
	}
	out := toolOutput(res)
	if res.IsError {
		// A tool's refusal or input error (the reference's ToolInputError).
		return invokeOutcome{status: http.StatusBadRequest, toolName: name, errType: "tool_error",
			errMsg: firstNonEmpty(textOf(out), "invalid tool arguments")}
	}
	return invokeOutcome{status: http.StatusOK, toolName: name, output: out}
}

// resolveInvokeTarget picks the agent and session: sessionKey omitted or
// "main" is the agent's main session; an agent-scoped key names its
// agent, which must match an explicit agentId.
func resolveInvokeTarget(cfg *config.Config, rawKey, rawAgent string) (string, string, string) {
	key, agentID := strings.TrimSpace(rawKey), strings.TrimSpace(rawAgent)
	if a, _, ok := sessions.ParseKey(key); ok {
		if agentID != "" && agentID != a {
			return "", "", fmt.Sprintf("agent id %q does not match session agent %q", agentID, a)
		}
		agentID = a
	}
	if agentID == "" {
		agentID = config.MainAgentID
	}
	if agentID != config.MainAgentID && (cfg == nil || !hasAgent(cfg, agentID)) {
		return "", "", fmt.Sprintf("unknown agent id %q", agentID)
	}
	if key == "" || key == sessions.MainRest {
		return agentID, sessions.MainKey(agentID), ""
	}
	k, err := sessions.Canonical(key, agentID)
	if err != nil {
		return "", "", "invalid sessionKey: " + err.Error()
	}
	return agentID, k, ""
}

func hasAgent(cfg *config.Config, id string) bool {
	_, ok := cfg.Agents.Entries[id]
	return ok
}

// argsObject decodes args; anything but an object counts as {} (as in the
// reference).
func argsObject(raw json.RawMessage) map[string]any {
	var m map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&m)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m
}

func toolOutput(r tools.Result) *ToolOutput {
	out := &ToolOutput{Content: []ToolContent{}, Details: r.Details}
	for _, p := range r.Content {
		switch p.Type {
		case "image":
			out.Content = append(out.Content, ToolContent{Type: "image", Data: base64.StdEncoding.EncodeToString(p.Data), MimeType: p.MediaType})
		default:
			out.Content = append(out.Content, ToolContent{Type: "text", Text: p.Text})
		}
	}
	return out
}

func textOf(o *ToolOutput) string {
	var parts []string
	for _, c := range o.Content {
		if c.Type == "text" && c.Text != "" {
			parts = append(parts, c.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// mountTools registers POST /tools/invoke and the tools.invoke method.
func (s *server) mountTools() {
	s.srv.Handle("/tools/invoke", http.HandlerFunc(s.serveToolsInvoke))
	s.srv.Register(gateway.Method{Name: "tools.invoke", Scope: protocol.ScopeWrite, Handler: s.handleToolsInvoke})
}

func (s *server) serveToolsInvoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		plain(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if a := s.srv.AuthorizeHTTP(r); !a.OK {
		gateway.WriteUnauthorized(w, a)
		return
	}
	body, code, msg := readJSONBody(w, r, toolsInvokeMaxBody)
	if code != 0 {
		switch code {
		case http.StatusRequestEntityTooLarge:
			msg = "Payload too large"
		case http.StatusRequestTimeout:
			msg = "Request body timeout"
		}
		writeJSON(w, code, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
		return
	}
	in := invokeInput{Name: stringOf(body["name"]), Tool: stringOf(body["tool"]), Action: stringOf(body["action"]),
		SessionKey: stringOf(body["sessionKey"]), AgentID: stringOf(body["agentId"]), IdempotencyKey: stringOf(body["idempotencyKey"])}
	in.DryRun, _ = body["dryRun"].(bool)
	if a, ok := body["args"].(map[string]any); ok {
		in.Args, _ = json.Marshal(a)
	}
	// Shared-secret HTTP auth is full operator (owner) access.
	o := s.invoke(r.Context(), in, true)
	if r.Context().Err() != nil {
		return
	}
	if o.errType != "" {
		writeJSON(w, o.status, map[string]any{"ok": false, "error": map[string]any{"type": o.errType, "message": o.errMsg}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": o.output})
}

// rpcErrorCodes maps the HTTP error types onto tools.invoke codes.
var rpcErrorCodes = map[string]string{"invalid_request": "validation_error", "not_found": "not_found",
	"tool_call_blocked": "forbidden", "tool_error": "internal_error"}

func (s *server) handleToolsInvoke(ctx context.Context, call *gateway.Call) (any, error) {
	var p ToolsInvokeParams
	if len(call.Params) > 0 && string(call.Params) != "null" {
		dec := json.NewDecoder(bytes.NewReader(call.Params))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, protocol.InvalidParams(call.Method, err.Error())
		}
	}
	if strings.TrimSpace(p.Name) == "" {
		return nil, protocol.InvalidRequest("invalid tools.invoke params: name required")
	}
	if p.ConversationReadOrigin != "" && p.ConversationReadOrigin != "direct-operator" {
		return nil, protocol.InvalidParams(call.Method, `conversationReadOrigin must be "direct-operator"`)
	}
	if len(p.Args) > 0 && !bytes.HasPrefix(bytes.TrimSpace(p.Args), []byte("{")) {
		return nil, protocol.InvalidParams(call.Method, "args must be an object")
	}
	owner := call.Conn != nil && call.Conn.HasScope(protocol.ScopeAdmin)
	o := s.invoke(ctx, invokeInput{Name: p.Name, Args: p.Args, SessionKey: p.SessionKey, AgentID: p.AgentID,
		IdempotencyKey: p.IdempotencyKey}, owner)
	if o.errType != "" {
		return ToolsInvokeResult{OK: false, ToolName: firstNonEmpty(o.toolName, strings.TrimSpace(p.Name)),
			Error: &ToolInvokeError{Code: rpcErrorCodes[o.errType], Message: o.errMsg}}, nil
	}
	return ToolsInvokeResult{OK: true, ToolName: o.toolName, Output: o.output}, nil
}
