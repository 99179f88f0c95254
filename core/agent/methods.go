package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/sessions"
)

var resetCommand = regexp.MustCompile(`^/(new|reset)\b`)

// Attach registers the runtime's methods and events with the gateway.
func (r *Runtime) Attach(gw *gateway.Server) {
	r.gw = gw
	registerEvents(gw)
	inFlight := func(params json.RawMessage) any {
		var p struct {
			IdempotencyKey string `json:"idempotencyKey"`
		}
		_ = json.Unmarshal(params, &p)
		return map[string]any{"runId": p.IdempotencyKey, "status": "in_flight"}
	}
	gw.Register(gateway.Method{Name: "agent", Idempotent: true, InFlight: inFlight, Handler: r.handleAgent,
		Dynamic: func(params json.RawMessage) string {
			var p struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(params, &p)
			if resetCommand.MatchString(strings.TrimSpace(p.Message)) {
				return protocol.ScopeAdmin
			}
			return protocol.ScopeWrite
		}})
	gw.Register(gateway.Method{Name: "agent.wait", Scope: protocol.ScopeWrite, Handler: r.handleWait})
	gw.Register(gateway.Method{Name: "chat.send", Scope: protocol.ScopeWrite, Idempotent: true, Handler: r.handleChatSend})
	gw.Register(gateway.Method{Name: "chat.history", Scope: protocol.ScopeRead, Handler: r.handleHistory})
	gw.Register(gateway.Method{Name: "chat.abort", Scope: protocol.ScopeWrite, Handler: r.handleAbort})
	gw.Register(gateway.Method{Name: "chat.inject", Scope: protocol.ScopeAdmin, Hidden: true, Handler: r.handleInject})
	gw.Register(gateway.Method{Name: "sessions.list", Scope: protocol.ScopeRead, Handler: r.handleSessionsList})
	gw.Register(gateway.Method{Name: "sessions.subscribe", Scope: protocol.ScopeRead, Handler: func(ctx context.Context, call *gateway.Call) (any, error) {
		call.Conn.Set(subscribedKey, true)
		return map[string]any{"subscribed": true}, nil
	}})
	gw.Register(gateway.Method{Name: "sessions.reset", Scope: protocol.ScopeAdmin, Handler: r.handleSessionsReset})
	gw.Register(gateway.Method{Name: "sessions.delete", Scope: protocol.ScopeWrite, Handler: r.handleSessionsDelete})
	gw.Register(gateway.Method{Name: "agents.list", Scope: protocol.ScopeRead, Handler: r.handleAgentsList})
}

// agentID resolves and checks an agent id ("" → main).
func (r *Runtime) agentID(cfg *config.Config, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return config.MainAgentID, nil
	}
	if _, ok := cfg.Agents.Entries[id]; ok || id == config.MainAgentID {
		return id, nil
	}
	return "", &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "unknown agent id \"" + id + "\"",
		Details: protocol.Details{"code": protocol.DetailUnknownAgentID, "agentId": id}}
}

// resolveKey resolves a session key and its agent: the agent named in a
// full key wins over a missing agentId; the default is main.
func (r *Runtime) resolveKey(agentID, key string) (string, string, error) {
	if a, _, ok := sessions.ParseKey(key); ok && agentID == "" {
		agentID = a
	}
	if agentID == "" {
		agentID = config.MainAgentID
	}
	k, err := r.sessionKey(agentID, key)
	return k, agentID, err
}

// sessionKey resolves a run's session key.
func (r *Runtime) sessionKey(agentID, key string) (string, error) {
	if strings.TrimSpace(key) == "" {
		return sessions.MainKey(agentID), nil
	}
	k, err := sessions.Canonical(key, agentID)
	if err != nil {
		return "", protocol.InvalidRequest("invalid sessionKey: " + err.Error())
	}
	return k, nil
}

func (r *Runtime) handleAgent(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.AgentParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	cfg := r.opt.Config()
	agentID, err := r.agentID(cfg, p.AgentID)
	if err != nil {
		return nil, err
	}
	if p.SessionKey != "" {
		if a, _, ok := sessions.ParseKey(p.SessionKey); ok && p.AgentID == "" {
			agentID = a
		}
	}
	key, err := r.sessionKey(agentID, p.SessionKey)
	if err != nil {
		return nil, err
	}
	msg := strings.TrimSpace(p.Message)
	if resetCommand.MatchString(msg) {
		s, err := r.opt.Sessions.Reset(ctx, key)
		if err != nil {
			return nil, err
		}
		r.sessionsChanged(key, agentID, "reset")
		call.Ack(map[string]any{"runId": p.IdempotencyKey, "sessionKey": key, "agentId": agentID, "status": "accepted", "acceptedAt": time.Now().UnixMilli()})
		return map[string]any{"runId": p.IdempotencyKey, "status": "ok", "summary": "session reset",
			"result": map[string]any{"payloads": []any{}, "meta": map[string]any{"agentMeta": map[string]any{"sessionId": s.SessionID, "sessionFile": key}}}}, nil
	}
	timeout := DefaultRunTimeout
	if p.Timeout != nil && *p.Timeout > 0 {
		timeout = time.Duration(*p.Timeout) * time.Second
	}
	rn, err := r.submit(ctx, runRequest{RunID: p.IdempotencyKey, SessionKey: key, AgentID: agentID, Message: p.Message,
		QueueMode: QueueFollowup, Timeout: timeout, Starter: call.Conn, ExtraSystem: p.ExtraSystemPrompt, Kind: "agent"})
	var re *replayError
	if errors.As(err, &re) {
		return replay(re.run)
	}
	if err != nil {
		return nil, err
	}
	call.Ack(map[string]any{"runId": p.IdempotencyKey, "sessionKey": key, "agentId": agentID, "status": "accepted",
		"acceptedAt": rn.accepted.UnixMilli()})
	select {
	case <-rn.done:
	case <-call.Conn.Done():
		// The caller left; the run goes on and its result stays queryable.
		<-rn.done
	}
	rn.mu.Lock()
	res := *rn.result
	rn.mu.Unlock()
	payload := r.finalPayload(rn, &res)
	if res.Status != "ok" {
		return nil, &gateway.FinalError{Payload: payload, Err: protocol.Unavailable(res.Error, 0)}
	}
	return payload, nil
}

func (r *Runtime) handleWait(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.AgentWaitParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	wait := 30 * time.Second
	if p.TimeoutMs != nil {
		wait = time.Duration(*p.TimeoutMs) * time.Millisecond
	}
	r.mu.Lock()
	rn := r.runs[p.RunID]
	r.mu.Unlock()
	if rn == nil {
		// A run from before a restart: answer from the store.
		if stored, err := r.opt.Sessions.GetRun(ctx, p.RunID); err == nil && stored != nil && isTerminal(stored.Status) {
			out := map[string]any{"runId": p.RunID, "status": stored.Status, "endedAt": stored.EndedAt}
			if stored.Error != "" {
				out["error"] = stored.Error
			}
			return out, nil
		}
		return map[string]any{"runId": p.RunID, "status": "timeout"}, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-rn.done:
	case <-t.C:
		return map[string]any{"runId": p.RunID, "status": "timeout"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rn.mu.Lock()
	res := *rn.result
	rn.mu.Unlock()
	return map[string]any{"runId": p.RunID, "status": res.Status, "endedAt": res.EndedAt.UnixMilli(), "stopReason": res.StopReason,
		"livenessState": "working", "terminalReceipt": r.receipt(rn, &res), "terminalReply": terminalReply(&res)}, nil
}

func isTerminal(status string) bool {
	switch status {
	case "ok", "error", "timeout", "aborted":
		return true
	}
	return false
}

func (r *Runtime) handleChatSend(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ChatSendParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	cfg := r.opt.Config()
	agentID := p.AgentID
	if a, _, ok := sessions.ParseKey(p.SessionKey); ok && agentID == "" {
		agentID = a
	}
	agentID, err := r.agentID(cfg, agentID)
	if err != nil {
		return nil, err
	}
	key, err := r.sessionKey(agentID, p.SessionKey)
	if err != nil {
		return nil, err
	}
	images, err := decodeAttachments(p.Attachments)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.Message) == "" && len(images) == 0 {
		return nil, protocol.InvalidRequest("message must not be empty")
	}
	mode := p.QueueMode
	if mode == "" {
		mode = QueueSteer
	}
	timeout := DefaultRunTimeout
	if p.TimeoutMs != nil && *p.TimeoutMs > 0 {
		timeout = time.Duration(*p.TimeoutMs) * time.Millisecond
	}
	_, err = r.submit(ctx, runRequest{RunID: p.IdempotencyKey, SessionKey: key, AgentID: agentID, Message: p.Message,
		Images: images, QueueMode: mode, Timeout: timeout, Starter: call.Conn, Kind: "chat"})
	var re *replayError
	if err != nil && !errors.As(err, &re) {
		return nil, err
	}
	return map[string]any{"runId": p.IdempotencyKey, "status": "started"}, nil
}

// decodeAttachments turns image attachments into model input.
func decodeAttachments(atts []protocol.ChatAttachment) ([]providers.Part, error) {
	var out []providers.Part
	for i, a := range atts {
		mime := a.MimeType
		data := a.Content
		if strings.HasPrefix(data, "data:") {
			head, body, ok := strings.Cut(data, ",")
			if !ok {
				return nil, protocol.InvalidRequest("attachment " + strconv.Itoa(i) + ": malformed data URL")
			}
			data = body
			if mime == "" {
				mime = strings.TrimSuffix(strings.TrimPrefix(head, "data:"), ";base64")
			}
		}
		if !strings.HasPrefix(mime, "image/") {
			continue // only images are model input for now
		}
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, protocol.InvalidRequest("attachment " + strconv.Itoa(i) + ": content is not base64")
		}
		if len(raw) > 6291456 {
			return nil, protocol.InvalidRequest("attachment " + strconv.Itoa(i) + ": image over 6 MiB")
		}
		out = append(out, providers.Part{Type: "image", MediaType: mime, Data: raw})
	}
	return out, nil
}

func (r *Runtime) handleHistory(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ChatHistoryParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	cfg := r.opt.Config()
	key, agentID, err := r.resolveKey(p.AgentID, p.SessionKey)
	if err != nil {
		return nil, err
	}
	opt := sessions.HistoryOptions{}
	if p.Limit != nil {
		opt.Limit = *p.Limit
	}
	if p.MaxBytes != nil {
		opt.MaxBytes = *p.MaxBytes
	}
	if p.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
		n, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil || n < 0 {
			return nil, protocol.InvalidRequest("invalid cursor")
		}
		opt.Before = n
	}
	page, err := r.opt.Sessions.History(ctx, key, opt)
	if err != nil {
		return nil, err
	}
	msgs := make([]any, 0, len(page.Messages))
	for _, m := range page.Messages {
		msgs = append(msgs, sessions.Wire(m))
	}
	out := map[string]any{"sessionKey": key, "messages": msgs, "pendingInputs": map[string]any{"items": []any{}, "total": 0},
		"hasMore": page.HasMore, "totalMessages": page.Total, "defaults": r.defaults(ctx, cfg, agentID)}
	if page.HasMore {
		out["cursor"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(page.NextBefore, 10)))
	}
	if s, err := r.opt.Sessions.Get(ctx, key); err == nil {
		out["sessionId"] = s.SessionID
		out["sessionInfo"] = r.sessionRow(s)
	}
	return out, nil
}

// defaults describes the model an agent uses.
func (r *Runtime) defaults(ctx context.Context, cfg *config.Config, agentID string) map[string]any {
	refs := r.modelRefs(ctx, cfg, agentID)
	d := map[string]any{"modelSelectionTarget": "session"}
	if len(refs) > 0 {
		prov, model, _ := strings.Cut(refs[0], "/")
		d["modelProvider"], d["model"] = prov, model
	}
	return d
}

func (r *Runtime) handleAbort(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ChatAbortParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	key, _, err := r.resolveKey(p.AgentID, p.SessionKey)
	if err != nil {
		return nil, err
	}
	ids := r.abort(key, p.RunID)
	return map[string]any{"ok": true, "aborted": len(ids) > 0, "runIds": ids}, nil
}

// abort cancels a session's active run (runID "" or matching) and drops its
// queued runs when runID is "".
func (r *Runtime) abort(key, runID string) []string {
	r.mu.Lock()
	var hit []*run
	if cur := r.active[key]; cur != nil && (runID == "" || cur.req.RunID == runID) {
		hit = append(hit, cur)
	}
	var keep []*run
	for _, q := range r.queued[key] {
		if runID == "" || q.req.RunID == runID {
			hit = append(hit, q)
		} else {
			keep = append(keep, q)
		}
	}
	r.queued[key] = keep
	active := r.active[key]
	r.mu.Unlock()
	ids := []string{}
	for _, rn := range hit {
		ids = append(ids, rn.req.RunID)
		rn.cancel(errAborted)
		if rn != active {
			// A queued run never started: it ends here.
			r.complete(rn, &runResult{Status: "aborted", StopReason: "aborted", Error: "aborted"})
			rn.em.chat("aborted", map[string]any{"stopReason": "aborted"})
		}
	}
	return ids
}

func (r *Runtime) handleInject(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ChatInjectParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	key, agentID, err := r.resolveKey(p.AgentID, p.SessionKey)
	if err != nil {
		return nil, err
	}
	m, err := r.inject(ctx, key, agentID, p.Message, p.Label)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "messageId": m.ID, "seq": m.Seq}, nil
}

// sessionRow is one sessions.list row.
func (r *Runtime) sessionRow(s *sessions.Session) map[string]any {
	r.mu.Lock()
	active := r.active[s.Key]
	var ids []string
	if active != nil {
		ids = append(ids, active.req.RunID)
	}
	for _, q := range r.queued[s.Key] {
		ids = append(ids, q.req.RunID)
	}
	r.mu.Unlock()
	if ids == nil {
		ids = []string{}
	}
	_, rest, _ := sessions.ParseKey(s.Key)
	name := s.DisplayName
	if name == "" {
		name = rest
	}
	row := map[string]any{"key": s.Key, "sessionId": s.SessionID, "agentId": s.AgentID, "displayName": name, "kind": "direct",
		"chatType": "direct", "updatedAt": s.UpdatedAt, "createdAt": s.CreatedAt, "lastInteractionAt": s.LastInteractionAt,
		"status": s.Status, "model": s.Model, "modelProvider": s.ModelProvider, "inputTokens": s.InputTokens,
		"outputTokens": s.OutputTokens, "totalTokens": s.TotalTokens, "hasActiveRun": active != nil, "activeRunIds": ids,
		"lastRunId": s.LastRunID, "abortedLastRun": s.AbortedLastRun, "snapshotAt": time.Now().UnixMilli(),
		"isMain": rest == "main", "archived": false, "pinned": false}
	if s.Label != "" {
		row["label"] = s.Label
	}
	return row
}

func (r *Runtime) handleSessionsList(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.SessionsListParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	opt := sessions.ListOptions{AgentID: p.AgentID, Search: p.Search}
	if p.Limit != nil {
		opt.Limit = *p.Limit
	}
	if p.Offset != nil {
		opt.Offset = *p.Offset
	}
	if p.ActiveMinutes != nil {
		opt.ActiveMinutes = *p.ActiveMinutes
	}
	list, total, err := r.opt.Sessions.List(ctx, opt)
	if err != nil {
		return nil, err
	}
	rows := make([]any, 0, len(list))
	for i := range list {
		rows = append(rows, r.sessionRow(&list[i]))
	}
	next := any(nil)
	if opt.Offset+len(rows) < total {
		next = opt.Offset + len(rows)
	}
	return map[string]any{"ts": time.Now().UnixMilli(), "count": len(rows), "totalCount": total, "limitApplied": opt.Limit,
		"nextOffset": next, "hasMore": next != nil, "owners": []any{},
		"defaults": r.defaults(ctx, r.opt.Config(), config.MainAgentID), "sessions": rows}, nil
}

func (r *Runtime) keyParam(call *gateway.Call) (string, string, error) {
	var p protocol.SessionKeyParams
	if err := call.Bind(&p); err != nil {
		return "", "", err
	}
	return r.resolveKey(p.AgentID, p.Key)
}

func (r *Runtime) handleSessionsReset(ctx context.Context, call *gateway.Call) (any, error) {
	key, agentID, err := r.keyParam(call)
	if err != nil {
		return nil, err
	}
	r.abort(key, "")
	s, err := r.opt.Sessions.Reset(ctx, key)
	if err != nil {
		return nil, err
	}
	r.sessionsChanged(key, agentID, "reset")
	return map[string]any{"ok": true, "key": key, "entry": r.sessionRow(s)}, nil
}

func (r *Runtime) handleSessionsDelete(ctx context.Context, call *gateway.Call) (any, error) {
	key, agentID, err := r.keyParam(call)
	if err != nil {
		return nil, err
	}
	if key == sessions.MainKey(agentID) {
		return nil, protocol.InvalidRequest("Cannot delete the main session (" + key + ").")
	}
	r.abort(key, "")
	deleted, err := r.opt.Sessions.Delete(ctx, key)
	if err != nil {
		return nil, err
	}
	if deleted {
		r.sessionsChanged(key, agentID, "delete")
	}
	return map[string]any{"ok": true, "key": key, "deleted": deleted}, nil
}

func (r *Runtime) handleAgentsList(ctx context.Context, call *gateway.Call) (any, error) {
	cfg := r.opt.Config()
	ids := []string{config.MainAgentID}
	for id := range cfg.Agents.Entries {
		if id != config.MainAgentID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids[1:])
	agents := make([]any, 0, len(ids))
	for _, id := range ids {
		a := map[string]any{"id": id, "workspace": r.workspaceDir(cfg, id)}
		if e, ok := cfg.Agents.Entries[id]; ok {
			if e.Name != "" {
				a["name"] = e.Name
			}
			if e.Model != nil && e.Model.Primary != "" {
				a["model"] = e.Model.Primary
			}
		}
		agents = append(agents, a)
	}
	return map[string]any{"defaultId": config.MainAgentID, "mainKey": "main", "scope": "per-sender", "ownership": "sole",
		"agents": agents}, nil
}
