// Package nodes is the node registry (spec §3.5, §5.5, §8): the capability
// approval layer on top of device pairing, the command policy, node.list /
// node.describe, and node.invoke routing with timeouts.
package nodes

import (
	"context"

	"encoding/json"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/store"
)

// Domain is the store migration domain of this package.
const Domain = "nodes"

func init() {
	store.Register(store.Migration{Domain: Domain, Version: 1, SQL: `
CREATE TABLE node_paired (
	node_id     TEXT PRIMARY KEY,
	record_json TEXT NOT NULL
);
CREATE TABLE node_pending (
	request_id  TEXT PRIMARY KEY,
	node_id     TEXT NOT NULL,
	record_json TEXT NOT NULL
);`})
}

// DefaultInvokeTimeout applies when node.invoke has no timeoutMs.
const DefaultInvokeTimeout = 30 * time.Second

// pairedNode is an approved capability surface.
type pairedNode struct {
	protocol.PairedNode
	HostStats json.RawMessage `json:"hostStats,omitempty"`
}

// liveNode is a connected node.
type liveNode struct {
	conn              *gateway.Conn
	params            *protocol.ConnectParams
	declaredCaps      []string
	declaredCommands  []string
	connectedAtMs     int64
	skills, plugTools []json.RawMessage
}

type invokeWait struct {
	nodeID string
	conn   *gateway.Conn
	done   chan protocol.NodeInvokeResultParams
}

// Service is the node registry.
type Service struct {
	st     *store.DB
	log    *slog.Logger
	policy func() Policy
	gw     *gateway.Server
	now    func() time.Time

	mu      sync.Mutex
	paired  map[string]*pairedNode
	pending map[string]*protocol.PendingNode
	live    map[string]*liveNode
	waits   map[string]*invokeWait
	// surfaces answers node.pluginSurface.refresh (the canvas host).
	surfaces func(c *gateway.Conn, surface string) (string, error)
}

// SetSurfaceProvider makes node.pluginSurface.refresh hand out URLs from f
// (it returns the surface's fresh scoped URL for the calling node).
func (s *Service) SetSurfaceProvider(f func(c *gateway.Conn, surface string) (string, error)) {
	s.mu.Lock()
	s.surfaces = f
	s.mu.Unlock()
}

// New loads the registry.
func New(ctx context.Context, st *store.DB, log *slog.Logger, policy func() Policy) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{st: st, log: log, policy: policy, now: time.Now, paired: map[string]*pairedNode{},
		pending: map[string]*protocol.PendingNode{}, live: map[string]*liveNode{}, waits: map[string]*invokeWait{}}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) load(ctx context.Context) error {
	rows, err := s.st.QueryContext(ctx, `SELECT record_json FROM node_paired`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var raw string
		var p pairedNode
		if rows.Scan(&raw) == nil && json.Unmarshal([]byte(raw), &p) == nil {
			s.paired[p.NodeID] = &p
		}
	}
	rows.Close()
	rows, err = s.st.QueryContext(ctx, `SELECT record_json FROM node_pending`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var raw string
		var p protocol.PendingNode
		if rows.Scan(&raw) == nil && json.Unmarshal([]byte(raw), &p) == nil {
			s.pending[p.RequestID] = &p
		}
	}
	return rows.Err()
}

func (s *Service) savePaired(ctx context.Context, p *pairedNode) error {
	b, _ := json.Marshal(p)
	_, err := s.st.ExecContext(ctx, `INSERT OR REPLACE INTO node_paired (node_id, record_json) VALUES (?, ?)`, p.NodeID, string(b))
	return err
}

func (s *Service) exec(ctx context.Context, q string, args ...any) error {
	_, err := s.st.ExecContext(ctx, q, args...)
	return err
}

func (s *Service) nowMs() int64 { return s.now().UnixMilli() }

func (s *Service) broadcast(event string, payload any) {
	if s.gw != nil {
		s.gw.Broadcast(event, payload, gateway.BroadcastOptions{DropIfSlow: true})
	}
}

// Attach registers methods, events and connection hooks.
func (s *Service) Attach(gw *gateway.Server) {
	s.gw = gw
	s.register(gw)
	gw.OnAdmit(s.onHello)
	gw.OnDisconnect(s.onDisconnect)
}

// nodeID is the node's identity: its device id.
func nodeID(c *gateway.Conn) string {
	if id := c.DeviceID(); id != "" {
		return id
	}
	return c.Params().Client.ID
}

// onHello (an OnAdmit hook, so a node is listed once its hello-ok is out)
// registers a node connection and reconciles its declared surface
// with the approved one; anything new becomes a pending request.
func (s *Service) onHello(c *gateway.Conn) {
	if c.Role() != protocol.RoleNode {
		return
	}
	p := c.Params()
	id := nodeID(c)
	caps, cmds, withheld := s.policy().declaredSurface(p.Client.Platform, p.Client.DeviceFamily, p.Caps, p.Commands)
	if len(withheld) > 0 {
		s.log.Warn("node command surface withheld", "node", id, "commands", withheld)
	}
	ctx := context.Background()
	s.mu.Lock()
	old := s.live[id]
	s.live[id] = &liveNode{conn: c, params: p, declaredCaps: caps, declaredCommands: cmds, connectedAtMs: s.nowMs()}
	var requested *protocol.PendingNode
	pn := s.paired[id]
	if pn == nil || !subset(cmds, pn.Commands) || !subset(caps, pn.Caps) || permissionUpgrade(p.Permissions, pn.Permissions) {
		requested = s.requestLocked(ctx, id, p, caps, cmds, c.ClientIP())
	}
	if pn != nil {
		pn.LastSeenAtMs, pn.LastSeenReason = s.nowMs(), "connect"
		_ = s.savePaired(ctx, pn)
	}
	s.mu.Unlock()
	if old != nil && old.conn != c {
		old.conn.Close(1008, "replaced by a newer node connection")
	}
	select {
	case <-c.Done():
		// Dropped while registering: its disconnect hook may have run first.
		s.onDisconnect(c)
	default:
	}
	if requested != nil {
		s.broadcast("node.pair.requested", requested)
	}
}

func subset(a, b []string) bool {
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}

func permissionUpgrade(declared, approved map[string]bool) bool {
	for k, v := range declared {
		if v && !approved[k] {
			return true
		}
	}
	return false
}

// requestLocked records a capability request, replacing an older one of
// the node; it returns nil when an identical request is already pending.
func (s *Service) requestLocked(ctx context.Context, id string, p *protocol.ConnectParams, caps, cmds []string, ip string) *protocol.PendingNode {
	for rid, old := range s.pending {
		if old.NodeID == id {
			if slices.Equal(old.Caps, caps) && slices.Equal(old.Commands, cmds) {
				return nil
			}
			if s.exec(ctx, `DELETE FROM node_pending WHERE request_id = ?`, rid) == nil {
				delete(s.pending, rid)
			}
		}
	}
	r := &protocol.PendingNode{
		RequestID: uuid.NewString(), NodeID: id, ClientID: p.Client.ID, ClientMode: p.Client.Mode,
		DisplayName: p.Client.DisplayName, Platform: p.Client.Platform, Version: p.Client.Version,
		DeviceFamily: p.Client.DeviceFamily, ModelIdentifier: p.Client.ModelIdentifier, Caps: caps, Commands: cmds,
		Permissions: p.Permissions, RemoteIP: ip, RequiredApproveScopes: requiredApproveScopes(cmds), Silent: false, Ts: s.nowMs(),
	}
	b, _ := json.Marshal(r)
	if err := s.exec(ctx, `INSERT INTO node_pending (request_id, node_id, record_json) VALUES (?,?,?)`, r.RequestID, id, string(b)); err != nil {
		s.log.Warn("node pairing request not saved", "node", id, "err", err)
		return nil
	}
	s.pending[r.RequestID] = r
	return r
}

// onDisconnect drops the live node and fails its pending invokes.
func (s *Service) onDisconnect(c *gateway.Conn) {
	if c.Role() != protocol.RoleNode {
		return
	}
	id := nodeID(c)
	s.mu.Lock()
	if ln := s.live[id]; ln != nil && ln.conn == c {
		delete(s.live, id)
	}
	if pn := s.paired[id]; pn != nil {
		pn.LastSeenAtMs, pn.LastSeenReason = s.nowMs(), "disconnect"
		_ = s.savePaired(context.Background(), pn)
	}
	var failed []*invokeWait
	for wid, w := range s.waits {
		if w.conn == c {
			failed = append(failed, w)
			delete(s.waits, wid)
		}
	}
	s.mu.Unlock()
	for _, w := range failed {
		w.done <- protocol.NodeInvokeResultParams{NodeID: id, OK: false, Error: &protocol.NodeError{Code: "NOT_CONNECTED", Message: "node disconnected"}}
	}
}

// RemoveNode forgets a node's surface (the device was unpaired).
func (s *Service) RemoveNode(id string) {
	ctx := context.Background()
	s.mu.Lock()
	delete(s.paired, id)
	_ = s.exec(ctx, `DELETE FROM node_paired WHERE node_id = ?`, id)
	for rid, r := range s.pending {
		if r.NodeID == id {
			delete(s.pending, rid)
			_ = s.exec(ctx, `DELETE FROM node_pending WHERE request_id = ?`, rid)
		}
	}
	s.mu.Unlock()
}

// rowLocked builds the NodeRow of §5.5.
func (s *Service) rowLocked(id string) (protocol.NodeRow, bool) {
	pn, ln := s.paired[id], s.live[id]
	if pn == nil && ln == nil {
		return protocol.NodeRow{}, false
	}
	r := protocol.NodeRow{NodeID: id, Caps: []string{}, Commands: []string{}, NodePluginTools: []string{}}
	if pn != nil {
		r.DisplayName, r.Platform, r.Version, r.ClientID, r.ClientMode, r.DeviceFamily =
			pn.DisplayName, pn.Platform, pn.Version, pn.ClientID, pn.ClientMode, pn.DeviceFamily
		r.ApprovedAtMs, r.LastSeenAtMs, r.LastSeenReason, r.Paired = pn.ApprovedAtMs, pn.LastSeenAtMs, pn.LastSeenReason, true
		r.HostStats = pn.HostStats
		r.Permissions = pn.Permissions
	}
	if ln != nil {
		p := ln.params
		if r.DisplayName == "" {
			r.DisplayName = p.Client.DisplayName
		}
		r.Platform, r.Version, r.ClientID, r.ClientMode, r.DeviceFamily = p.Client.Platform, p.Client.Version, p.Client.ID, p.Client.Mode, p.Client.DeviceFamily
		r.ModelIdentifier, r.RemoteIP = p.Client.ModelIdentifier, ln.conn.ClientIP()
		if p.PathEnv != nil {
			r.PathEnv = *p.PathEnv
		}
		r.Connected, r.ConnectedAtMs, r.LastConnectedAtMs = true, ln.connectedAtMs, ln.connectedAtMs
		if pn != nil {
			r.Caps = intersect(ln.declaredCaps, pn.Caps)
			r.Commands = intersect(ln.declaredCommands, pn.Commands)
		}
	} else if pn != nil {
		r.Caps, r.Commands = append([]string{}, pn.Caps...), append([]string{}, pn.Commands...)
	}
	r.ApprovalState = "approved"
	for _, pr := range s.pending {
		if pr.NodeID == id {
			r.ApprovalState = "pending-approval"
			r.PendingRequestID, r.PendingDeclaredCaps, r.PendingDeclaredCommands = pr.RequestID, pr.Caps, pr.Commands
		}
	}
	if pn == nil && r.ApprovalState == "approved" {
		r.ApprovalState = "unapproved"
	}
	return r, true
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, v := range a {
		if slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

// List is node.list.
func (s *Service) List() protocol.NodeListResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[string]bool{}
	for id := range s.paired {
		ids[id] = true
	}
	for id := range s.live {
		ids[id] = true
	}
	res := protocol.NodeListResult{Ts: s.nowMs(), Nodes: []protocol.NodeRow{}}
	for id := range ids {
		if r, ok := s.rowLocked(id); ok {
			res.Nodes = append(res.Nodes, r)
		}
	}
	sort.Slice(res.Nodes, func(i, j int) bool {
		if res.Nodes[i].Connected != res.Nodes[j].Connected {
			return res.Nodes[i].Connected
		}
		return res.Nodes[i].NodeID < res.Nodes[j].NodeID
	})
	return res
}

// Describe is node.describe for in-process callers.
func (s *Service) Describe(id string) (protocol.NodeRow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rowLocked(id)
}
