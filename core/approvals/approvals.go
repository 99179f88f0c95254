// Package approvals implements exec approvals (spec §5.8, §6.8): a command
// the agent (or a node host) wants to run is held until an operator with
// the operator.approvals scope allows or denies it.
//
// A request is raised either over the wire (exec.approval.request) or in
// process (Manager.Ask). It is delivered as exec.approval.requested to the
// "approval clients" — operator connections satisfying operator.approvals,
// excluding the requesting connection — and waits for exec.approval.resolve,
// its timeout (default 120 s) or the caller. With no approval client to
// deliver to, it expires at once with decision null ("no route"), as the
// reference does. Decisions are broadcast as exec.approval.resolved.
// Resolved and expired approvals stay visible to exec.approval.waitDecision
// (and to a repeated, identical resolve) for a short grace period.
//
// Allow-always memory: an "allow-always" decision is remembered in memory
// (not persisted; a gateway restart forgets it) for the tuple (host, nodeId,
// executable), where the executable is the request's resolvedPath, else
// argv[0] resolved against PATH/cwd for gateway-host commands (as given for
// node hosts). When there is no argv, or argv[0] is a shell, wrapper or
// interpreter (sh -c …, env, sudo, python …) whose arguments are the real
// command, the exact command text is the key instead. A later request with
// the same key resolves "allow-always" at once without asking anyone,
// unless its ask policy is "always" or it declares allow-always unavailable.
package approvals

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

// Decision is an operator's answer to an approval.
type Decision string

// Decisions. None means no decision: the approval expired, had no route to
// an approval client, or its caller gave up.
const (
	AllowOnce   Decision = protocol.ApprovalAllowOnce
	AllowAlways Decision = protocol.ApprovalAllowAlways
	Deny        Decision = protocol.ApprovalDeny
	None        Decision = ""
)

// Allowed reports whether d lets the command run.
func (d Decision) Allowed() bool { return d == AllowOnce || d == AllowAlways }

func (d Decision) valid() bool { return d == AllowOnce || d == AllowAlways || d == Deny }

// wire is the decision as the wire carries it (null for None).
func (d Decision) wire() *string {
	if d == None {
		return nil
	}
	s := string(d)
	return &s
}

// DefaultTimeout is how long an approval waits when the request names none.
const DefaultTimeout = 120 * time.Second

// resolvedGrace keeps resolved/expired approvals for waitDecision and
// idempotent repeats of a resolve.
const resolvedGrace = 15 * time.Second

// Event names.
const (
	EventRequested = "exec.approval.requested"
	EventResolved  = "exec.approval.resolved"
)

// Request is an exec approval raised in process (the agent's exec tool).
type Request struct {
	ID          string   // "": a fresh UUID
	Command     string   // command text shown to reviewers ("": argv joined)
	CommandArgv []string // argv, when known
	Cwd         *string
	Host        string // "gateway" (default) | "node"
	NodeID      *string
	AgentID     *string
	SessionKey  *string
	RunID       *string
	ToolCallID  *string
	// SystemRunPlan is a node host's prepared plan (required for host "node").
	SystemRunPlan json.RawMessage
	WarningText   *string
	Timeout       time.Duration // 0: DefaultTimeout
}

// Record is a pending approval.
type Record struct {
	ID          string
	Request     protocol.ExecApprovalRequestPayload
	CreatedAtMs int64
	ExpiresAtMs int64
}

type entry struct {
	Record
	requester string // connection id of the requester; "" in process
	memKey    string // allow-always memory key; "" when not rememberable

	done       chan struct{} // closed once decided or expired
	resolved   bool
	decision   Decision
	resolvedBy *string
	timer      *time.Timer
}

func (e *entry) decisionResult() protocol.ExecApprovalDecisionResult {
	return protocol.ExecApprovalDecisionResult{ID: e.ID, Decision: e.decision.wire(), CreatedAtMs: e.CreatedAtMs, ExpiresAtMs: e.ExpiresAtMs}
}

// Manager holds the approvals of one gateway.
type Manager struct {
	log   *slog.Logger
	grace time.Duration

	mu      sync.Mutex
	gw      *gateway.Server
	entries map[string]*entry // pending, and decided ones within the grace period
	order   []string          // pending ids in creation order (list)
	always  map[string]bool   // allow-always memory
}

// New creates an empty manager; Attach connects it to a gateway.
func New(log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{log: log, grace: resolvedGrace, entries: map[string]*entry{}, always: map[string]bool{}}
}

// Attach registers the exec.approval.* methods and events with gw.
func (m *Manager) Attach(gw *gateway.Server) {
	m.mu.Lock()
	m.gw = gw
	m.mu.Unlock()
	m.register(gw)
}

// Ask raises an approval for an in-process caller and waits for the
// decision, the timeout or ctx. With no approval client connected it
// returns None at once (no route); an expired approval also yields None.
// A remembered allow-always answers AllowAlways without asking. The error
// is ctx's when ctx ended first, or a request the gateway would refuse
// (no command, host "node" without nodeId/plan…).
func (m *Manager) Ask(ctx context.Context, req Request) (Decision, error) {
	p := protocol.ExecApprovalRequestParams{
		CommandArgv: req.CommandArgv, Cwd: req.Cwd, NodeID: req.NodeID, AgentID: req.AgentID,
		SessionKey: req.SessionKey, RunID: req.RunID, ToolCallID: req.ToolCallID, WarningText: req.WarningText,
	}
	if req.ID != "" {
		p.ID = &req.ID
	}
	if req.Command != "" {
		p.Command = &req.Command
	}
	host := req.Host
	if host == "" {
		host = "gateway"
	}
	p.Host = &host
	if len(req.SystemRunPlan) > 0 && string(req.SystemRunPlan) != "null" {
		var plan protocol.ExecSystemRunPlan
		if err := json.Unmarshal(req.SystemRunPlan, &plan); err != nil {
			return None, protocol.InvalidRequest("invalid systemRunPlan: " + err.Error())
		}
		p.SystemRunPlan = &plan
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	prep, perr := prepare(&p)
	if perr != nil {
		return None, perr
	}
	e, _, perr := m.open(prep, timeout, "", openOptions{})
	if perr != nil {
		return None, perr
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		m.finish(e.ID, None, nil) // nobody waits for it any more
		return None, ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.decision, nil
}

// Resolve decides a pending approval as an in-process reviewer would
// ("by" becomes exec.approval.resolved resolvedBy; "": null). It fails
// like exec.approval.resolve: unknown/expired id, already resolved
// differently, or a decision the request does not allow.
func (m *Manager) Resolve(id string, d Decision, by string) error {
	var byp *string
	if by != "" {
		byp = &by
	}
	return m.resolve(id, d, byp)
}

// Pending lists the approvals waiting for a decision, oldest first.
func (m *Manager) Pending() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Record, 0, len(m.order))
	for _, id := range m.order {
		if e := m.entries[id]; e != nil && !e.resolved {
			out = append(out, e.Record)
		}
	}
	return out
}

type openOptions struct {
	keepWithoutRoute bool // requireDeliveryRoute:false
	suppressDelivery bool
}

// open registers an approval and delivers it. route is "approval-client"
// when an approval client received it, "none" when it is kept pending
// without one (requireDeliveryRoute:false), and "" when the entry is
// already decided (no route → None, or a remembered allow-always).
func (m *Manager) open(p *prepared, timeout time.Duration, requester string, opt openOptions) (e *entry, route string, perr *protocol.Error) {
	now := time.Now().UnixMilli()
	id := p.id
	if id == "" {
		id = uuid.NewString()
	}
	e = &entry{
		Record:    Record{ID: id, Request: p.payload, CreatedAtMs: now, ExpiresAtMs: now + timeout.Milliseconds()},
		requester: requester, memKey: p.memKey, done: make(chan struct{}),
	}
	m.mu.Lock()
	if _, dup := m.entries[id]; dup {
		m.mu.Unlock()
		return nil, "", protocol.InvalidRequest("approval id already pending")
	}
	m.entries[id] = e
	if e.memKey != "" && m.always[e.memKey] && slices.Contains(e.Request.AllowedDecisions, string(AllowAlways)) {
		by := "allow-always"
		m.finishLocked(e, AllowAlways, &by)
		m.mu.Unlock()
		m.log.Info("exec approval allowed by allow-always memory", "id", id, "command", e.Request.Command)
		return e, "", nil
	}
	m.order = append(m.order, id)
	e.timer = time.AfterFunc(timeout, func() {
		if m.finish(id, None, nil) {
			m.log.Info("exec approval expired", "id", id)
		}
	})
	gw := m.gw
	m.mu.Unlock()

	delivered := 0
	if gw != nil && !opt.suppressDelivery {
		ev := protocol.ExecApprovalRequestedEvent{ApprovalKind: "exec", ID: id, Request: e.Request, CreatedAtMs: e.CreatedAtMs, ExpiresAtMs: e.ExpiresAtMs}
		delivered = gw.Broadcast(EventRequested, ev, gateway.BroadcastOptions{DropIfSlow: true,
			Filter: func(c *gateway.Conn) bool { return requester == "" || c.ID() != requester }})
	}
	if delivered == 0 && !opt.keepWithoutRoute {
		m.finish(id, None, nil)
		m.log.Info("exec approval has no route", "id", id)
		return e, "", nil
	}
	m.log.Info("exec approval requested", "id", id, "recipients", delivered, "command", e.Request.Command)
	if delivered == 0 {
		return e, "none", nil
	}
	return e, "approval-client", nil
}

// finish decides a pending entry; false when it was not pending.
func (m *Manager) finish(id string, d Decision, by *string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[id]
	if e == nil || e.resolved {
		return false
	}
	m.finishLocked(e, d, by)
	return true
}

func (m *Manager) finishLocked(e *entry, d Decision, by *string) {
	e.resolved, e.decision, e.resolvedBy = true, d, by
	if e.timer != nil {
		e.timer.Stop()
	}
	if d == AllowAlways && e.memKey != "" {
		m.always[e.memKey] = true
	}
	if i := slices.Index(m.order, e.ID); i >= 0 {
		m.order = slices.Delete(m.order, i, i+1)
	}
	close(e.done)
	time.AfterFunc(m.grace, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.entries[e.ID] == e {
			delete(m.entries, e.ID)
		}
	})
}

// lookupLocked finds an approval by exact id, else by a unique prefix of a
// pending id (the CLI's short ids).
func (m *Manager) lookupLocked(id string) (*entry, *protocol.Error) {
	if e := m.entries[id]; e != nil {
		return e, nil
	}
	var found *entry
	for _, pid := range m.order {
		if strings.HasPrefix(pid, id) {
			if found != nil {
				return nil, protocol.InvalidRequest("ambiguous approval id prefix; use the full id")
			}
			found = m.entries[pid]
		}
	}
	if found == nil {
		return nil, errNotFound()
	}
	return found, nil
}

// resolve applies an operator decision and broadcasts it.
func (m *Manager) resolve(id string, d Decision, by *string) error {
	if !d.valid() {
		return protocol.InvalidRequest("invalid decision")
	}
	m.mu.Lock()
	e, perr := m.lookupLocked(strings.TrimSpace(id))
	if perr != nil {
		m.mu.Unlock()
		return perr
	}
	if e.resolved {
		defer m.mu.Unlock()
		switch e.decision {
		case None: // expired: gone as far as reviewers are concerned
			return errNotFound()
		case d: // identical retries are idempotent
			return nil
		}
		return &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "approval already resolved",
			Details: protocol.Details{"code": protocol.DetailApprovalAlreadyResolved, "reason": protocol.DetailApprovalAlreadyResolved}}
	}
	if !slices.Contains(e.Request.AllowedDecisions, string(d)) {
		m.mu.Unlock()
		return &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "allow-always is unavailable for this command",
			Details: protocol.Details{"code": protocol.DetailApprovalAllowAlwaysUnavailable, "reason": protocol.DetailApprovalAllowAlwaysUnavailable}}
	}
	m.finishLocked(e, d, by)
	gw := m.gw
	m.mu.Unlock()
	m.log.Info("exec approval resolved", "id", e.ID, "decision", string(d), "by", deref(by))
	if gw != nil {
		gw.Broadcast(EventResolved, protocol.ExecApprovalResolvedEvent{
			ID: e.ID, Decision: string(d), ResolvedBy: by, Ts: time.Now().UnixMilli(), Request: e.Request,
		}, gateway.BroadcastOptions{DropIfSlow: true})
	}
	return nil
}

// errNotFound is the reference's answer for an unknown or expired approval:
// INVALID_REQUEST with details.reason APPROVAL_NOT_FOUND (mirrored in
// details.code for Pincer's clients).
func errNotFound() *protocol.Error {
	return &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "unknown or expired approval id",
		Details: protocol.Details{
			"code": protocol.DetailApprovalNotFound, "reason": protocol.DetailApprovalNotFound,
			"remediation": "Re-request the action; pending approvals are cleared after expiry or restart.",
		}}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
