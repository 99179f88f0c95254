package approvals

import (
	"context"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

func (m *Manager) register(gw *gateway.Server) {
	gw.RegisterEvent(EventRequested, gateway.EventGuard{AnyOf: []string{protocol.ScopeApprovals}})
	gw.RegisterEvent(EventResolved, gateway.EventGuard{AnyOf: []string{protocol.ScopeApprovals}})
	approvals := func(name string, h gateway.Handler) {
		gw.Register(gateway.Method{Name: name, Scope: protocol.ScopeApprovals, Handler: h})
	}
	approvals("exec.approval.get", m.handleGet)
	approvals("exec.approval.list", m.handleList)
	approvals("exec.approval.request", m.handleRequest)
	approvals("exec.approval.waitDecision", m.handleWaitDecision)
	approvals("exec.approval.resolve", m.handleResolve)
}

// handleRequest: exec.approval.request. With twoPhase the interim res
// {status:"accepted", id, deliveryRoute, createdAtMs, expiresAtMs} goes out
// once the request reached an approval client; the final res
// {id, decision, createdAtMs, expiresAtMs} follows the decision. Without a
// route the final res comes at once with decision null.
func (m *Manager) handleRequest(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ExecApprovalRequestParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	prep, perr := prepare(&p)
	if perr != nil {
		return nil, perr
	}
	timeout := DefaultTimeout
	if p.TimeoutMs != nil && *p.TimeoutMs > 0 {
		timeout = time.Duration(*p.TimeoutMs) * time.Millisecond
	}
	opt := openOptions{
		keepWithoutRoute: p.RequireDeliveryRoute != nil && !*p.RequireDeliveryRoute,
		suppressDelivery: p.SuppressDelivery != nil && *p.SuppressDelivery,
	}
	e, route, perr := m.open(prep, timeout, call.Conn.ID(), opt)
	if perr != nil {
		return nil, perr
	}
	if route != "" && p.TwoPhase != nil && *p.TwoPhase {
		call.Ack(protocol.ExecApprovalAccepted{Status: "accepted", ID: e.ID, DeliveryRoute: route,
			CreatedAtMs: e.CreatedAtMs, ExpiresAtMs: e.ExpiresAtMs})
	}
	select {
	case <-e.done:
	case <-ctx.Done(): // the requester left; the approval stays pending
		return nil, ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.decisionResult(), nil
}

// handleResolve: exec.approval.resolve → {ok:true}.
func (m *Manager) handleResolve(_ context.Context, call *gateway.Call) (any, error) {
	var p protocol.ExecApprovalResolveParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	var by *string
	if cp := call.Conn.Params(); cp != nil {
		switch {
		case cp.Client.DisplayName != "":
			by = &cp.Client.DisplayName
		case cp.Client.ID != "":
			by = &cp.Client.ID
		}
	}
	if err := m.resolve(p.ID, Decision(p.Decision), by); err != nil {
		return nil, err
	}
	return protocol.OKResult{OK: true}, nil
}

// handleGet: exec.approval.get {id} → a pending approval's summary.
func (m *Manager) handleGet(_ context.Context, call *gateway.Call) (any, error) {
	var p protocol.ExecApprovalGetParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, perr := m.lookupLocked(strings.TrimSpace(p.ID))
	if perr != nil {
		return nil, perr
	}
	if e.resolved {
		return nil, errNotFound()
	}
	r := e.Request
	return protocol.ExecApprovalGetResult{
		ID: e.ID, CommandText: r.Command, CommandPreview: r.CommandPreview, AllowedDecisions: r.AllowedDecisions,
		Host: r.Host, NodeID: r.NodeID, AgentID: r.AgentID, ExpiresAtMs: e.ExpiresAtMs,
	}, nil
}

// handleList: exec.approval.list → the pending approvals (a bare array).
func (m *Manager) handleList(context.Context, *gateway.Call) (any, error) {
	pending := m.Pending()
	out := make([]protocol.ExecApprovalListEntry, len(pending))
	for i, r := range pending {
		out[i] = protocol.ExecApprovalListEntry{ID: r.ID, Request: r.Request, CreatedAtMs: r.CreatedAtMs, ExpiresAtMs: r.ExpiresAtMs, ApprovalKind: "exec"}
	}
	return out, nil
}

// handleWaitDecision: exec.approval.waitDecision {id, timeoutMs?} waits for
// the decision of a pending approval (or answers a recently decided one)
// with {id, decision, createdAtMs, expiresAtMs}. timeoutMs (a Pincer
// extension) bounds the wait; decision is then still null.
func (m *Manager) handleWaitDecision(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ExecApprovalWaitDecisionParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	id := strings.TrimSpace(p.ID)
	if id == "" {
		return nil, protocol.InvalidRequest("id is required")
	}
	m.mu.Lock()
	e := m.entries[id]
	m.mu.Unlock()
	if e == nil {
		return nil, protocol.InvalidRequest("approval expired or not found")
	}
	var timeoutC <-chan time.Time
	if p.TimeoutMs != nil && *p.TimeoutMs > 0 {
		t := time.NewTimer(time.Duration(*p.TimeoutMs) * time.Millisecond)
		defer t.Stop()
		timeoutC = t.C
	}
	select {
	case <-e.done:
	case <-timeoutC:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.decisionResult(), nil
}
