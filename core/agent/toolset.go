package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/approvals"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/nodes"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/sessions"
)

// toolTimeout bounds one tool call (exec has its own, longer, limit).
const toolTimeout = 11 * time.Minute

// toolSettings merges an agent's tool settings over the defaults.
func toolSettings(cfg *config.Config, agentID string) config.ToolsSettings {
	ts := cfg.Agents.Defaults.Tools
	if e, ok := cfg.Agents.Entries[agentID]; ok && e.Tools != nil {
		if e.Tools.Allow != nil {
			ts.Allow = e.Tools.Allow
		}
		if e.Tools.Deny != nil {
			ts.Deny = append(append([]string{}, ts.Deny...), e.Tools.Deny...)
		}
		if e.Tools.Exec.Mode != "" {
			ts.Exec.Mode = e.Tools.Exec.Mode
		}
		if e.Tools.Exec.Allowlist != nil {
			ts.Exec.Allowlist = e.Tools.Exec.Allowlist
		}
	}
	if ts.Exec.Mode == "" {
		ts.Exec.Mode = tools.ExecPolicyAsk
	}
	return ts
}

// execTools keeps one exec tool per agent and policy, so allow-always
// decisions last across runs.
type execTools struct {
	mu sync.Mutex
	m  map[string]*tools.Exec
}

func (r *Runtime) execTool(agentID string, ts config.ToolsSettings) *tools.Exec {
	key := agentID + "\x00" + ts.Exec.Mode + "\x00" + strings.Join(ts.Exec.Allowlist, "\x00")
	r.execs.mu.Lock()
	defer r.execs.mu.Unlock()
	if r.execs.m == nil {
		r.execs.m = map[string]*tools.Exec{}
	}
	if t := r.execs.m[key]; t != nil {
		return t
	}
	t := tools.NewExec(ts.Exec.Mode, ts.Exec.Allowlist, r.askExec)
	r.execs.m[key] = t
	return t
}

// askExec raises an exec approval to the gateway's approval clients.
func (r *Runtime) askExec(ctx context.Context, req tools.ExecRequest) (string, error) {
	if r.opt.Approvals == nil {
		return "", nil
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	d, err := r.opt.Approvals.Ask(ctx, approvals.Request{Command: req.Command, Cwd: opt(req.Cwd), Host: "gateway",
		AgentID: opt(req.AgentID), SessionKey: opt(req.SessionKey), RunID: opt(req.RunID), ToolCallID: opt(req.ToolCallID)})
	return string(d), err
}

// toolSet is what a run may use.
func (r *Runtime) toolSet(ctx context.Context, cfg *config.Config, agentID string) *tools.Set {
	ts := toolSettings(cfg, agentID)
	all := tools.FileTools()
	all = append(all, tools.NewWebFetch(false), r.execTool(agentID, ts))
	all = append(all, tools.SessionTools(sessionsAPI{r})...)
	if r.opt.Nodes != nil {
		r.mu.Lock()
		canvasHost := r.canvas
		r.mu.Unlock()
		ct := tools.NewCanvas(nodesAPI{r.opt.Nodes})
		if canvasHost != nil {
			ct.WithHost(canvasHost)
		}
		all = append(all, tools.NewNodes(nodesAPI{r.opt.Nodes}), ct)
	}
	r.mu.Lock()
	messenger := r.messenger
	r.mu.Unlock()
	if messenger != nil {
		all = append(all, tools.NewMessage(messenger))
	}
	if r.opt.MCP != nil {
		r.opt.MCP.Sync(ctx, cfg.MCP.Servers)
		all = append(all, r.opt.MCP.Tools(ctx)...)
	}
	return tools.NewSet(tools.Policy{Allow: ts.Allow, Deny: ts.Deny}, all...)
}

// sessionsAPI gives the session tools the runtime's sessions.
type sessionsAPI struct{ r *Runtime }

func (a sessionsAPI) List(ctx context.Context) ([]tools.SessionInfo, error) {
	list, _, err := a.r.opt.Sessions.List(ctx, sessions.ListOptions{Limit: 200})
	if err != nil {
		return nil, err
	}
	out := make([]tools.SessionInfo, 0, len(list))
	for _, s := range list {
		out = append(out, tools.SessionInfo{Key: s.Key, SessionID: s.SessionID, AgentID: s.AgentID, Label: s.Label,
			DisplayName: s.DisplayName, Model: s.Model, Status: s.Status, UpdatedAt: s.UpdatedAt, Kind: "direct"})
	}
	return out, nil
}

func (a sessionsAPI) History(ctx context.Context, key string, limit int) ([]tools.HistoryItem, error) {
	k, err := sessions.Canonical(key, config.MainAgentID)
	if err != nil {
		return nil, err
	}
	page, err := a.r.opt.Sessions.History(ctx, k, sessions.HistoryOptions{Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]tools.HistoryItem, 0, len(page.Messages))
	for _, m := range page.Messages {
		out = append(out, tools.HistoryItem{Role: m.Role, Text: m.Text(), ToolName: m.ToolName, IsError: m.IsError,
			Timestamp: m.Timestamp, RunID: m.RunID})
	}
	return out, nil
}

func (a sessionsAPI) Send(ctx context.Context, fromKey, toKey, message string) (string, error) {
	k, err := sessions.Canonical(toKey, config.MainAgentID)
	if err != nil {
		return "", err
	}
	agentID, _, _ := sessions.ParseKey(k)
	id := "send-" + uuid.NewString()
	_, err = a.r.submit(ctx, runRequest{RunID: id, SessionKey: k, AgentID: agentID, Message: message, QueueMode: QueueFollowup,
		ExtraSystem: "This message was sent by the agent of session " + fromKey + ".", Kind: "agent"})
	return id, err
}

// nodesAPI gives the nodes tool the node registry.
type nodesAPI struct{ n *nodes.Service }

func (a nodesAPI) List(ctx context.Context) (json.RawMessage, error) {
	return json.Marshal(a.n.List())
}

// resolve maps a node id, unique id prefix or exact display name to an id.
func (a nodesAPI) resolve(ref string) string {
	ref = strings.TrimSpace(ref)
	if _, ok := a.n.Describe(ref); ok {
		return ref
	}
	var byName, byPrefix []string
	for _, row := range a.n.List().Nodes {
		if strings.EqualFold(row.DisplayName, ref) {
			byName = append(byName, row.NodeID)
		}
		if ref != "" && strings.HasPrefix(row.NodeID, ref) {
			byPrefix = append(byPrefix, row.NodeID)
		}
	}
	switch {
	case len(byName) == 1:
		return byName[0]
	case len(byPrefix) == 1:
		return byPrefix[0]
	}
	return ref
}

func (a nodesAPI) Describe(ctx context.Context, id string) (json.RawMessage, error) {
	id = a.resolve(id)
	row, ok := a.n.Describe(id)
	if !ok {
		return nil, protocol.InvalidRequest("unknown nodeId")
	}
	return json.Marshal(row)
}

func (a nodesAPI) Invoke(ctx context.Context, id, command string, params json.RawMessage, timeout time.Duration) (json.RawMessage, error) {
	ms := timeout.Milliseconds()
	res, err := a.n.Invoke(ctx, protocol.NodeInvokeParams{NodeID: a.resolve(id), Command: command, Params: params, TimeoutMs: &ms,
		IdempotencyKey: uuid.NewString()})
	if err != nil {
		return nil, err
	}
	return res.Payload, nil
}

// runTools executes a model turn's tool calls in order, streaming tool
// events to the starter, and stores each result before the next model call.
func (r *Runtime) runTools(ctx context.Context, rn *run, set *tools.Set, dir string, calls []providers.ToolCall, res *runResult) []providers.Message {
	var out []providers.Message
	for _, tc := range calls {
		now := time.Now().UnixMilli()
		rn.em.agent("tool", map[string]any{"phase": "start", "name": tc.Name, "toolCallId": tc.ID, "args": json.RawMessage(orEmptyObject(tc.Arguments))})
		rn.em.agent("item", map[string]any{"itemId": "tool:" + tc.ID, "toolCallId": tc.ID, "name": tc.Name, "kind": "tool", "phase": "start",
			"title": tc.Name, "status": "running", "startedAt": now})
		var result tools.Result
		t, ok := set.Get(tc.Name)
		if !ok {
			result = tools.Error("unknown or disallowed tool: " + tc.Name)
		} else {
			tctx, cancel := context.WithTimeout(ctx, toolTimeout)
			var err error
			result, err = t.Run(tctx, tools.Call{ID: tc.ID, Name: tc.Name, Args: tc.Arguments, AgentID: rn.req.AgentID,
				SessionKey: rn.req.SessionKey, RunID: rn.req.RunID, Workspace: dir})
			cancel()
			if err != nil {
				result = tools.Error(tc.Name + " failed: " + err.Error())
			}
		}
		if !result.IsError {
			res.Tools = append(res.Tools, tc.Name)
		}
		parts := wireParts(result.Content)
		rn.em.agent("tool", map[string]any{"phase": "result", "name": tc.Name, "toolCallId": tc.ID, "isError": result.IsError,
			"result": map[string]any{"content": parts, "details": result.Details}})
		rn.em.agent("item", map[string]any{"itemId": "tool:" + tc.ID, "toolCallId": tc.ID, "name": tc.Name, "kind": "tool", "phase": "end",
			"title": tc.Name, "status": "completed", "startedAt": now, "endedAt": time.Now().UnixMilli()})
		msg := sessions.Message{Role: "tool", RunID: rn.req.RunID, ToolCallID: tc.ID, ToolName: tc.Name, IsError: result.IsError,
			Content: mustRaw(parts)}
		if _, err := r.opt.Sessions.Append(context.Background(), rn.req.SessionKey, msg); err != nil {
			r.log.Error("tool result not stored", "runId", rn.req.RunID, "tool", tc.Name, "err", err)
		}
		out = append(out, providers.Message{Role: providers.RoleTool, ToolCallID: tc.ID, Content: result.Content, IsError: result.IsError})
	}
	return out
}

func orEmptyObject(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// wireParts is the transcript/event form of content parts.
func wireParts(ps []providers.Part) []map[string]any {
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		switch p.Type {
		case "image":
			out = append(out, map[string]any{"type": "image", "mimeType": p.MediaType, "data": base64.StdEncoding.EncodeToString(p.Data)})
		default:
			out = append(out, map[string]any{"type": "text", "text": p.Text})
		}
	}
	return out
}

// partsFromWire reads stored content parts back into model parts.
func partsFromWire(raw json.RawMessage) ([]providers.Part, []providers.ToolCall) {
	var items []struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		MimeType  string          `json:"mimeType"`
		Data      string          `json:"data"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if json.Unmarshal(raw, &items) != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []providers.Part{{Type: "text", Text: s}}, nil
		}
		return nil, nil
	}
	var parts []providers.Part
	var calls []providers.ToolCall
	for _, it := range items {
		switch it.Type {
		case "text":
			if it.Text != "" {
				parts = append(parts, providers.Part{Type: "text", Text: it.Text})
			}
		case "image":
			if b, err := base64.StdEncoding.DecodeString(it.Data); err == nil {
				parts = append(parts, providers.Part{Type: "image", MediaType: it.MimeType, Data: b})
			}
		case "toolCall":
			calls = append(calls, providers.ToolCall{ID: it.ID, Name: it.Name, Arguments: orEmptyObject(it.Arguments)})
		}
	}
	return parts, calls
}

// ErrToolUnavailable: the tool does not exist for the agent, its policy
// denies it, or the caller's deny list does.
var ErrToolUnavailable = errors.New("tool not available")

// InvokeTool runs one tool outside a model turn (POST /tools/invoke): the
// agent's tool policy applies, and deny names more tools to refuse (glob
// patterns allowed). The workspace is the agent's.
func (r *Runtime) InvokeTool(ctx context.Context, agentID, sessionKey, name string, args json.RawMessage, deny []string) (tools.Result, error) {
	cfg := r.opt.Config()
	agentID, err := r.agentID(cfg, agentID)
	if err != nil {
		return tools.Result{}, err
	}
	if !(tools.Policy{Deny: deny}).Admits(name) {
		return tools.Result{}, fmt.Errorf("%w: %s", ErrToolUnavailable, name)
	}
	set := r.toolSet(ctx, cfg, agentID)
	t, ok := set.Get(name)
	if !ok {
		return tools.Result{}, fmt.Errorf("%w: %s", ErrToolUnavailable, name)
	}
	dir := r.workspaceDir(cfg, agentID)
	if err := sessions.EnsureWorkspace(dir); err != nil {
		return tools.Result{}, err
	}
	if sessionKey == "" {
		sessionKey = sessions.MainKey(agentID)
	}
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	tctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	return t.Run(tctx, tools.Call{ID: "invoke-" + uuid.NewString(), Name: name, Args: args, AgentID: agentID,
		SessionKey: sessionKey, RunID: "invoke", Workspace: dir})
}
