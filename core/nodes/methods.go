package nodes

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

func (s *Service) register(gw *gateway.Server) {
	gw.RegisterEvent("node.pair.requested", gateway.EventGuard{AnyOf: []string{protocol.ScopePairing}})
	gw.RegisterEvent("node.pair.resolved", gateway.EventGuard{AnyOf: []string{protocol.ScopePairing}})
	gw.RegisterEvent("node.hostStats", gateway.EventGuard{AnyOf: []string{protocol.ScopeRead}})
	gw.RegisterEvent("node.invoke.request", gateway.EventGuard{Hidden: true}) // targeted at one node

	read := func(name string, h gateway.Handler) {
		gw.Register(gateway.Method{Name: name, Scope: protocol.ScopeRead, Handler: h})
	}
	pairing := func(name string, h gateway.Handler) {
		gw.Register(gateway.Method{Name: name, Scope: protocol.ScopePairing, Handler: h})
	}
	node := func(name string, h gateway.Handler) {
		gw.Register(gateway.Method{Name: name, Role: gateway.RoleNode, Handler: h})
	}
	read("node.list", func(context.Context, *gateway.Call) (any, error) { return s.List(), nil })
	read("node.describe", s.handleDescribe)
	gw.Register(gateway.Method{Name: "node.invoke", Dynamic: invokeScope, Idempotent: true, Handler: s.handleInvoke})
	pairing("node.pair.list", s.handlePairList)
	pairing("node.pair.approve", s.handleApprove)
	pairing("node.pair.reject", s.handleReject)
	pairing("node.pair.remove", s.handleRemove)
	pairing("node.rename", s.handleRename)
	node("node.invoke.result", s.handleResult)
	node("node.invoke.progress", func(_ context.Context, call *gateway.Call) (any, error) {
		var p protocol.NodeInvokeProgressParams
		if err := call.Bind(&p); err != nil {
			return nil, err
		}
		if p.NodeID != nodeID(call.Conn) {
			return nil, protocol.InvalidRequest("nodeId mismatch")
		}
		return protocol.OKResult{OK: true}, nil
	})
	node("node.event", s.handleEvent)
	node("node.skills.update", func(_ context.Context, call *gateway.Call) (any, error) {
		var p protocol.NodeSkillsUpdateParams
		if err := call.Bind(&p); err != nil {
			return nil, err
		}
		return s.updateLive(call, "skills", func(ln *liveNode) []json.RawMessage { ln.skills = nonNilRaw(p.Skills); return ln.skills })
	})
	node("node.pluginTools.update", func(_ context.Context, call *gateway.Call) (any, error) {
		var p protocol.NodePluginToolsUpdateParams
		if err := call.Bind(&p); err != nil {
			return nil, err
		}
		return s.updateLive(call, "tools", func(ln *liveNode) []json.RawMessage { ln.plugTools = nonNilRaw(p.Tools); return ln.plugTools })
	})
	gw.Register(gateway.Method{Name: "node.runnerInventory.update", Role: gateway.RoleNode, Hidden: true, Handler: func(_ context.Context, call *gateway.Call) (any, error) {
		var p protocol.NodeRunnerInventoryUpdateParams
		if err := call.Bind(&p); err != nil {
			return nil, err
		}
		id := call.Conn.DeviceID()
		s.mu.Lock()
		defer s.mu.Unlock()
		if id == "" || s.live[id] == nil {
			return nil, protocol.InvalidRequest("unknown nodeId")
		}
		for _, r := range s.pending {
			if r.NodeID == id {
				return nil, protocol.Unavailable("node capability surface is awaiting operator approval; run `pincer nodes approve "+
					r.RequestID+"` (see `pincer nodes list`), then this node retries automatically", 0)
			}
		}
		return map[string]any{"nodeId": id}, nil
	}})
	node("node.pluginSurface.refresh", func(_ context.Context, call *gateway.Call) (any, error) {
		var p protocol.NodePluginSurfaceRefreshParams
		if err := call.Bind(&p); err != nil {
			return nil, err
		}
		surface := strings.TrimSpace(p.Surface)
		if surface == "" {
			return nil, protocol.InvalidRequest("surface required")
		}
		s.mu.Lock()
		f := s.surfaces
		s.mu.Unlock()
		if f == nil {
			return nil, protocol.Unavailable(surface+" plugin surface unavailable", 0)
		}
		u, err := f(call.Conn, surface)
		if err != nil {
			return nil, protocol.Unavailable(err.Error(), 0)
		}
		return map[string]any{"surface": surface, "url": u, "pluginSurfaceUrls": map[string]string{surface: u}}, nil
	})
}

// updateLive applies set to the calling node's live entry and answers
// {nodeId, <key>: value}.
func (s *Service) updateLive(call *gateway.Call, key string, set func(*liveNode) []json.RawMessage) (any, error) {
	id := nodeID(call.Conn)
	s.mu.Lock()
	defer s.mu.Unlock()
	ln := s.live[id]
	if ln == nil || ln.conn != call.Conn {
		return nil, protocol.InvalidRequest("unknown nodeId")
	}
	return map[string]any{"nodeId": id, key: set(ln)}, nil
}

func nonNilRaw(v []json.RawMessage) []json.RawMessage {
	if v == nil {
		return []json.RawMessage{}
	}
	return v
}

// invokeScope: write, admin for the admin-only host commands (§4.2).
func invokeScope(params json.RawMessage) string {
	var p struct {
		Command string `json:"command"`
	}
	_ = json.Unmarshal(params, &p)
	if slices.Contains(adminInvokeCommands, strings.TrimSpace(p.Command)) {
		return protocol.ScopeAdmin
	}
	return protocol.ScopeWrite
}

func (s *Service) handleDescribe(_ context.Context, call *gateway.Call) (any, error) {
	var p protocol.NodeIDParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rowLocked(p.NodeID)
	if !ok {
		return nil, protocol.InvalidRequest("unknown nodeId")
	}
	return struct {
		protocol.NodeRow
		Ts int64 `json:"ts"`
	}{r, s.nowMs()}, nil
}

func (s *Service) handlePairList(_ context.Context, _ *gateway.Call) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := protocol.NodePairListResult{Pending: []protocol.PendingNode{}, Paired: []protocol.PairedNode{}}
	for _, r := range s.pending {
		res.Pending = append(res.Pending, *r)
	}
	slices.SortFunc(res.Pending, func(a, b protocol.PendingNode) int { return int(a.Ts - b.Ts) })
	for _, p := range s.paired {
		res.Paired = append(res.Paired, p.PairedNode)
	}
	slices.SortFunc(res.Paired, func(a, b protocol.PairedNode) int { return int(a.ApprovedAtMs - b.ApprovedAtMs) })
	return res, nil
}

func (s *Service) handleApprove(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DevicePairRequestParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	r := s.pending[p.RequestID]
	if r == nil {
		s.mu.Unlock()
		return nil, protocol.InvalidRequest("unknown requestId")
	}
	for _, sc := range r.RequiredApproveScopes {
		if !call.Conn.HasScope(sc) {
			s.mu.Unlock()
			return nil, protocol.MissingScope(sc)
		}
	}
	now := s.nowMs()
	pn := &pairedNode{PairedNode: protocol.PairedNode{
		NodeID: r.NodeID, ClientID: r.ClientID, ClientMode: r.ClientMode, DisplayName: r.DisplayName, Platform: r.Platform,
		Version: r.Version, DeviceFamily: r.DeviceFamily, Caps: r.Caps, Commands: r.Commands, Permissions: r.Permissions,
		CreatedAtMs: now, ApprovedAtMs: now, LastSeenAtMs: now, LastSeenReason: "approved",
	}}
	if old := s.paired[r.NodeID]; old != nil {
		pn.CreatedAtMs, pn.HostStats = old.CreatedAtMs, old.HostStats
		if old.DisplayName != "" && old.DisplayName != r.DisplayName {
			pn.DisplayName = old.DisplayName // an operator's rename survives re-approval
		}
	}
	if err := s.savePaired(ctx, pn); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := s.exec(ctx, `DELETE FROM node_pending WHERE request_id = ?`, r.RequestID); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	delete(s.pending, r.RequestID)
	s.paired[r.NodeID] = pn
	var nodeConn *gateway.Conn
	if ln := s.live[r.NodeID]; ln != nil {
		nodeConn = ln.conn
	}
	s.mu.Unlock()
	ev := protocol.NodePairResolvedEvent{RequestID: r.RequestID, NodeID: r.NodeID, Decision: "approved", Ts: now}
	s.broadcast("node.pair.resolved", ev)
	if nodeConn != nil {
		nodeConn.SendEvent("node.pair.resolved", ev)
	}
	return map[string]any{"requestId": r.RequestID, "node": pn.PairedNode}, nil
}

func (s *Service) handleReject(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DevicePairRequestParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	r := s.pending[p.RequestID]
	if r == nil {
		s.mu.Unlock()
		return nil, protocol.InvalidRequest("unknown requestId")
	}
	if err := s.exec(ctx, `DELETE FROM node_pending WHERE request_id = ?`, r.RequestID); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	delete(s.pending, r.RequestID)
	var nodeConn *gateway.Conn
	if ln := s.live[r.NodeID]; ln != nil {
		nodeConn = ln.conn
	}
	s.mu.Unlock()
	ev := protocol.NodePairResolvedEvent{RequestID: r.RequestID, NodeID: r.NodeID, Decision: "rejected", Ts: s.nowMs()}
	s.broadcast("node.pair.resolved", ev)
	if nodeConn != nil {
		nodeConn.SendEvent("node.pair.resolved", ev)
	}
	return map[string]any{"requestId": r.RequestID, "nodeId": r.NodeID, "decision": "rejected"}, nil
}

func (s *Service) handleRemove(_ context.Context, call *gateway.Call) (any, error) {
	var p protocol.NodeIDParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	_, known := s.paired[p.NodeID]
	ln := s.live[p.NodeID]
	s.mu.Unlock()
	if !known && ln == nil {
		return nil, protocol.InvalidRequest("unknown nodeId")
	}
	s.RemoveNode(p.NodeID)
	if ln != nil {
		ln.conn.Close(4001, "node removed")
	}
	return map[string]any{"nodeId": p.NodeID}, nil
}

func (s *Service) handleRename(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.NodeRenameParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(p.DisplayName)
	if name == "" {
		return nil, protocol.InvalidParams(call.Method, "displayName must not be blank")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pn := s.paired[p.NodeID]
	if pn == nil {
		return nil, protocol.InvalidRequest("unknown nodeId")
	}
	np := *pn
	np.DisplayName = name
	if err := s.savePaired(ctx, &np); err != nil {
		return nil, err
	}
	s.paired[p.NodeID] = &np
	return map[string]any{"nodeId": p.NodeID, "displayName": name}, nil
}

func pairingChanged() *protocol.Error {
	return &protocol.Error{Code: protocol.CodeUnavailable, Message: "node pairing changed while invocation was active",
		Retryable: true, Details: protocol.Details{"code": protocol.DetailPairingChanged}}
}

// maxNotReadyRetries: a node may answer NODE_NOT_READY before starting work.
const maxNotReadyRetries = 4

func (s *Service) handleInvoke(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.NodeInvokeParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	return s.Invoke(ctx, p)
}

// Invoke runs a command on a node under the gateway's command policy, as
// node.invoke does (the agent's nodes tool calls it in process).
func (s *Service) Invoke(ctx context.Context, p protocol.NodeInvokeParams) (protocol.NodeInvokeResult, error) {
	command := strings.TrimSpace(p.Command)
	timeout := DefaultInvokeTimeout
	if p.TimeoutMs != nil {
		timeout = time.Duration(*p.TimeoutMs) * time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	var paramsJSON string
	if len(p.Params) > 0 && string(p.Params) != "null" {
		paramsJSON = string(p.Params)
	}
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		ln, pn := s.live[p.NodeID], s.paired[p.NodeID]
		if ln == nil || pn == nil {
			s.mu.Unlock()
			return protocol.NodeInvokeResult{}, pairingChanged()
		}
		approved := intersect(ln.declaredCommands, pn.Commands)
		pol := s.policy()
		allow := pol.allowlist(ln.params.Client.Platform, ln.params.Client.DeviceFamily, approved, false)
		reason := ""
		switch {
		case !allow[command]:
			reason = "command not allowlisted"
		case len(approved) == 0:
			reason = "node did not declare commands"
		case !slices.Contains(approved, command):
			reason = "command not declared by node"
		}
		if reason != "" {
			s.mu.Unlock()
			return protocol.NodeInvokeResult{}, &protocol.Error{Code: protocol.CodeInvalidRequest, Message: pol.rejection(reason, command, ln.params.Client.Platform),
				Details: protocol.Details{"reason": reason, "command": command}}
		}
		id := uuid.NewString()
		w := &invokeWait{nodeID: p.NodeID, conn: ln.conn, done: make(chan protocol.NodeInvokeResultParams, 1)}
		s.waits[id] = w
		s.mu.Unlock()

		remaining := time.Until(deadline)
		if remaining < 0 {
			remaining = 0
		}
		ln.conn.SendEvent("node.invoke.request", protocol.NodeInvokeRequestEvent{ID: id, NodeID: p.NodeID, Command: command,
			ParamsJSON: paramsJSON, TimeoutMs: remaining.Milliseconds(), IdempotencyKey: p.IdempotencyKey, SessionKey: p.SessionKey})
		timer := time.NewTimer(remaining)
		var res protocol.NodeInvokeResultParams
		select {
		case res = <-w.done:
			timer.Stop()
		case <-timer.C:
			s.dropWait(id)
			return protocol.NodeInvokeResult{}, nodeFailure(&protocol.NodeError{Code: "TIMEOUT", Message: "node invoke timed out"})
		case <-ctx.Done():
			timer.Stop()
			s.dropWait(id)
			return protocol.NodeInvokeResult{}, protocol.Unavailable("node invoke cancelled", 0)
		}
		if !res.OK {
			if res.Error != nil && res.Error.Code == "NODE_NOT_READY" && attempt < maxNotReadyRetries && time.Until(deadline) > 0 {
				select {
				case <-time.After(min(250*time.Millisecond, time.Until(deadline))):
				case <-ctx.Done():
				}
				continue
			}
			if res.Error != nil && res.Error.Code == "NOT_CONNECTED" {
				return protocol.NodeInvokeResult{}, pairingChanged()
			}
			return protocol.NodeInvokeResult{}, nodeFailure(res.Error)
		}
		out := protocol.NodeInvokeResult{OK: true, NodeID: p.NodeID, Command: command, Payload: json.RawMessage("null")}
		switch {
		case res.PayloadJSON != nil:
			pj := *res.PayloadJSON
			out.PayloadJSON = &pj
			if json.Valid([]byte(pj)) {
				out.Payload = json.RawMessage(pj)
			}
		case len(res.Payload) > 0:
			out.Payload = res.Payload
		}
		return out, nil
	}
}

func (s *Service) dropWait(id string) {
	s.mu.Lock()
	delete(s.waits, id)
	s.mu.Unlock()
}

// nodeFailure is how a node's error reaches the operator (Appendix E).
func nodeFailure(ne *protocol.NodeError) *protocol.Error {
	code, msg := "", "node invoke failed"
	if ne != nil {
		code = strings.TrimSpace(ne.Code)
		if m := strings.TrimSpace(ne.Message); m != "" {
			msg = m
		}
	}
	if code != "" {
		msg = code + ": " + msg
	}
	var nodeErr any
	if ne != nil {
		nodeErr = ne
	}
	return &protocol.Error{Code: protocol.CodeUnavailable, Message: msg,
		Details: protocol.Details{"nodeError": nodeErr, "nodeCommandDispatched": true}}
}

func (s *Service) handleResult(_ context.Context, call *gateway.Call) (any, error) {
	var p protocol.NodeInvokeResultParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	if p.NodeID != nodeID(call.Conn) {
		return nil, protocol.InvalidRequest("nodeId mismatch")
	}
	s.mu.Lock()
	w := s.waits[p.ID]
	if w != nil && w.conn == call.Conn {
		delete(s.waits, p.ID)
	} else {
		w = nil
	}
	s.mu.Unlock()
	if w == nil {
		return map[string]any{"ok": true, "ignored": true}, nil
	}
	w.done <- p
	return protocol.OKResult{OK: true}, nil
}

func (s *Service) handleEvent(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.NodeEventParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	payload := p.Payload
	if p.PayloadJSON != nil {
		if !json.Valid([]byte(*p.PayloadJSON)) {
			return protocol.NodeEventResult{OK: true, Event: p.Event, Handled: false, Reason: "invalid_payload"}, nil
		}
		payload = json.RawMessage(*p.PayloadJSON)
	}
	id := nodeID(call.Conn)
	switch p.Event {
	case "node.presence.alive":
		var alive struct {
			Trigger string `json:"trigger"`
		}
		if json.Unmarshal(payload, &alive) != nil || alive.Trigger == "" {
			return protocol.NodeEventResult{OK: true, Event: p.Event, Handled: false, Reason: "invalid_payload"}, nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		pn := s.paired[id]
		if pn == nil {
			return protocol.NodeEventResult{OK: true, Event: p.Event, Handled: false, Reason: "stale_connection"}, nil
		}
		pn.LastSeenAtMs, pn.LastSeenReason = s.nowMs(), alive.Trigger
		if err := s.savePaired(ctx, pn); err != nil {
			return nil, err
		}
		return protocol.NodeEventResult{OK: true, Event: p.Event, Handled: true, Reason: "persisted"}, nil
	case "node.host.stats":
		var st struct {
			CPUCount *int `json:"cpuCount"`
		}
		if json.Unmarshal(payload, &st) != nil || st.CPUCount == nil {
			return protocol.NodeEventResult{OK: true, Event: p.Event, Handled: false, Reason: "invalid_payload"}, nil
		}
		s.mu.Lock()
		if pn := s.paired[id]; pn != nil {
			pn.HostStats = payload
		}
		s.mu.Unlock()
		s.broadcast("node.hostStats", map[string]any{"nodeId": id, "hostStats": payload})
		return protocol.NodeEventResult{OK: true, Event: p.Event, Handled: true, Reason: "updated"}, nil
	}
	if strings.HasPrefix(p.Event, "exec.") {
		// No agent run is waiting on node exec events yet.
		return protocol.NodeEventResult{OK: true, Event: p.Event, Handled: false, Reason: "unmatched_exec_event"}, nil
	}
	return protocol.NodeEventResult{OK: true, Event: p.Event, Handled: false}, nil
}
