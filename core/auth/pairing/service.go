// Package pairing is the gateway's device registry (spec §3.3–3.7): paired
// devices, pending pairing requests, device tokens (hashed at rest),
// setup-code bootstrap tokens, and the pairing decision applied to every
// device connect. It implements gateway.DeviceAuthority and registers the
// device.pair.* / device.token.* methods and events.
package pairing

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/store"
)

// Timings of spec §3.3 and §3.7.
const (
	PendingTTL   = 5 * time.Minute
	BootstrapTTL = 10 * time.Minute
)

// CloseDeviceRevoked is the close code for connections whose credential was
// revoked or rotated, or whose device was removed.
const CloseDeviceRevoked = 4001

// Config is the pairing policy (gateway.nodes.pairing.*).
type Config struct {
	AutoApproveLocal bool
	AutoApproveCIDRs []string
	// GatewayURL is the ws URL a setup code points at when the request
	// names none; "" or a loopback URL refuses setup codes without publicUrl.
	GatewayURL string
	// AuthMode labels setup-code results (token | password | none).
	AuthMode string
}

type tokenKey struct{ device, role string }

// pendingReq is a device pairing request.
type pendingReq struct {
	protocol.PendingDevice
	BootstrapProfile string `json:"bootstrapProfile,omitempty"`
}

// Service is the device registry.
type Service struct {
	db  db
	log *slog.Logger
	cfg func() Config
	gw  *gateway.Server
	now func() time.Time

	mu      sync.Mutex
	paired  map[string]*paired
	pending map[string]*pendingReq
	tokens  map[tokenKey]*tokenRow
	// live holds the plaintext of tokens issued or presented since start,
	// so a reconnect gets the same token back; only hashes are stored.
	live map[tokenKey]string

	removeHooks []RemoveHook
}

// New loads the registry from the store.
func New(ctx context.Context, st *store.DB, log *slog.Logger, cfg func() Config) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db{st}, log: log, cfg: cfg, now: time.Now, live: map[tokenKey]string{}}
	var err error
	if s.paired, err = s.db.loadPaired(ctx); err != nil {
		return nil, fmt.Errorf("pairing: load paired devices: %w", err)
	}
	if s.pending, err = s.db.loadPending(ctx); err != nil {
		return nil, fmt.Errorf("pairing: load pending requests: %w", err)
	}
	if s.tokens, err = s.db.loadTokens(ctx); err != nil {
		return nil, fmt.Errorf("pairing: load device tokens: %w", err)
	}
	return s, nil
}

// Attach registers the methods and events with the gateway. Call it before
// the gateway serves; the gateway must have been created with this service
// as Options.Devices.
func (s *Service) Attach(gw *gateway.Server) {
	s.gw = gw
	s.register(gw)
}

func (s *Service) nowMs() int64 { return s.now().UnixMilli() }

func (s *Service) broadcast(event string, payload any) {
	if s.gw != nil {
		s.gw.Broadcast(event, payload, gateway.BroadcastOptions{DropIfSlow: true})
	}
}

// prunePendingLocked drops expired requests.
func (s *Service) prunePendingLocked(ctx context.Context) {
	cutoff := s.nowMs() - PendingTTL.Milliseconds()
	for id, r := range s.pending {
		if r.Ts < cutoff {
			if err := s.db.deletePending(ctx, id); err == nil {
				delete(s.pending, id)
			}
		}
	}
}

// scopesAllow reports whether every requested scope is covered by allowed.
func scopesAllow(requested, allowed []string) bool {
	for _, r := range requested {
		if !protocol.ScopeSatisfied(allowed, r) {
			return false
		}
	}
	return true
}

func union(a, b []string) []string {
	out := append([]string{}, a...)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// VerifyCredential implements gateway.DeviceAuthority.
func (s *Service) VerifyCredential(ctx context.Context, kind, deviceID, publicKey, token, role string, scopes []string) (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case "device-token":
		t := s.tokens[tokenKey{deviceID, role}]
		p := s.paired[deviceID]
		if t == nil || p == nil || p.PublicKey != publicKey ||
			subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hashToken(token))) != 1 {
			return false, "device_token_mismatch"
		}
		if !scopesAllow(scopes, t.Scopes) {
			return false, "scope_mismatch"
		}
		s.live[tokenKey{deviceID, role}] = token
		t.LastUsedAtMs = s.nowMs()
		_ = s.db.saveToken(ctx, t)
		return true, ""
	case "bootstrap-token":
		b, err := s.db.getBootstrap(ctx, "token_hash", hashToken(token))
		if err != nil || b == nil || b.ExpiresAtMs < s.nowMs() {
			return false, "bootstrap_token_invalid"
		}
		// Single use: a used code still admits the device it paired (its
		// reconnect after approval), nobody else.
		if b.UsedAtMs != 0 && b.DeviceID != deviceID {
			return false, "bootstrap_token_invalid"
		}
		if !slices.Contains(profileRoles(b.Profile), role) {
			return false, "bootstrap_token_invalid"
		}
		return true, ""
	}
	return false, "unauthorized"
}

// Admit implements gateway.DeviceAuthority: the pairing decision of §3.3.
func (s *Service) Admit(ctx context.Context, a *gateway.DeviceAdmission) (*gateway.DeviceGrant, *gateway.DeviceDenial) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunePendingLocked(ctx)
	p := s.paired[a.DeviceID]
	isPaired := p != nil && p.PublicKey == a.PublicKey
	if a.SkipPairing {
		g := &gateway.DeviceGrant{Scopes: a.Scopes}
		if isPaired {
			s.touchLocked(ctx, p, a)
			if slices.Contains(p.Roles, a.Role) {
				s.issueLocked(ctx, g, p, a.Role)
			}
		}
		return g, nil
	}
	if a.AuthMethod == "bootstrap-token" {
		return s.admitBootstrapLocked(ctx, a, p, isPaired)
	}
	var reason string
	switch {
	case !isPaired:
		reason = "not-paired"
	case metadataChanged(p, a.Params):
		reason = "metadata-upgrade"
	case !slices.Contains(p.Roles, a.Role):
		reason = "role-upgrade"
	case len(a.Scopes) > 0 && !scopesAllow(a.Scopes, p.Scopes):
		reason = "scope-upgrade"
	}
	if reason != "" {
		var existing *paired
		if isPaired {
			existing = p
		}
		np, denial := s.requirePairingLocked(ctx, a, reason, existing)
		if denial != nil {
			return nil, denial
		}
		p = np
	} else {
		s.touchLocked(ctx, p, a)
	}
	g := &gateway.DeviceGrant{Scopes: a.Scopes}
	s.issueLocked(ctx, g, p, a.Role)
	return g, nil
}

// metadataChanged: platform/deviceFamily are pinned at pairing.
func metadataChanged(p *paired, params *protocol.ConnectParams) bool {
	norm := func(v string) string { return lowerASCII(v) }
	if p.Platform != "" && norm(p.Platform) != norm(params.Client.Platform) {
		return true
	}
	return p.DeviceFamily != "" && norm(p.DeviceFamily) != norm(params.Client.DeviceFamily)
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func (s *Service) touchLocked(ctx context.Context, p *paired, a *gateway.DeviceAdmission) {
	p.LastSeenAtMs, p.LastSeenReason = s.nowMs(), "connect"
	if a.Params.Client.DisplayName != "" {
		p.DisplayName = a.Params.Client.DisplayName
	}
	p.RemoteIP = a.ClientIP
	if err := s.db.savePaired(ctx, p); err != nil {
		s.log.Warn("device last-seen not saved", "device", p.DeviceID, "err", err)
	}
}

// silentApproval decides whether a local request is approved inline.
func (s *Service) silentApproval(a *gateway.DeviceAdmission, reason string, existing *paired) string {
	cfg := s.cfg()
	cl := a.Params.Client
	browser := a.BrowserOrigin != ""
	ui := cl.ID == protocol.ClientControlUI || cl.ID == protocol.ClientWebchatUI || cl.Mode == protocol.ModeWebchat
	local := a.Local && !(browser && !ui)
	if local && !(existing != nil && a.Role != protocol.RoleOperator) {
		switch reason {
		case "metadata-upgrade":
			if !browser && (a.AuthMethod == "token" || a.AuthMethod == "password") {
				return "silent"
			}
		case "scope-upgrade":
			if cfg.AutoApproveLocal && (a.AuthMethod == "none" || a.AuthMethod == "token" || a.AuthMethod == "password") {
				return "silent"
			}
		default:
			if cfg.AutoApproveLocal {
				return "silent"
			}
		}
	}
	if existing == nil && a.Role == protocol.RoleNode && len(a.Scopes) == 0 && !browser && inCIDRs(a.ClientIP, cfg.AutoApproveCIDRs) {
		return "trusted-cidr"
	}
	return ""
}

func inCIDRs(ip string, cidrs []string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, c := range cidrs {
		if pfx, err := netip.ParsePrefix(c); err == nil && pfx.Contains(addr.Unmap()) {
			return true
		}
		if one, err := netip.ParseAddr(c); err == nil && one == addr.Unmap() {
			return true
		}
	}
	return false
}

var reasonText = map[string]string{
	"not-paired":       "device is not approved yet",
	"role-upgrade":     "device is asking for a higher role than currently approved",
	"scope-upgrade":    "device is asking for more scopes than currently approved",
	"metadata-upgrade": "device identity changed and must be re-approved",
}

var reasonHint = map[string]string{
	"not-paired":       "Approve this device from the pending pairing requests.",
	"role-upgrade":     "Review the requested role upgrade, then approve the pending request.",
	"scope-upgrade":    "Review the requested scopes, then approve the pending upgrade.",
	"metadata-upgrade": "Review the refreshed device details, then approve the pending request.",
}

// newPendingLocked records a request, superseding older ones of the device.
func (s *Service) newPendingLocked(ctx context.Context, a *gateway.DeviceAdmission, reason string, existing *paired, silent bool) (*pendingReq, error) {
	cl := a.Params.Client
	roles := []string{a.Role}
	if existing != nil {
		roles = union(existing.Roles, roles)
	}
	r := &pendingReq{PendingDevice: protocol.PendingDevice{
		RequestID: uuid.NewString(), DeviceID: a.DeviceID, PublicKey: a.PublicKey, DisplayName: cl.DisplayName,
		Platform: cl.Platform, DeviceFamily: cl.DeviceFamily, ClientID: cl.ID, ClientMode: cl.Mode, Role: a.Role,
		Roles: roles, Scopes: append([]string{}, a.Scopes...), RemoteIP: a.ClientIP, Silent: silent,
		IsRepair: existing != nil, Reason: reason, Ts: s.nowMs(),
	}}
	if err := s.db.savePending(ctx, r); err != nil {
		return nil, err
	}
	for id, old := range s.pending {
		if old.DeviceID == a.DeviceID {
			if err := s.db.deletePending(ctx, id); err == nil {
				delete(s.pending, id)
				s.broadcast("device.pair.resolved", protocol.DevicePairResolvedEvent{RequestID: id, DeviceID: old.DeviceID, Decision: "rejected", Ts: s.nowMs()})
			}
		}
	}
	s.pending[r.RequestID] = r
	return r, nil
}

func unavailable(err error) *gateway.DeviceDenial {
	e := protocol.Unavailable("pairing store unavailable: "+err.Error(), 1000)
	return &gateway.DeviceDenial{Err: e, CloseReason: "pairing store unavailable"}
}

// requirePairingLocked creates a request and approves it inline when the
// policy allows, else denies the connect with PAIRING_REQUIRED.
func (s *Service) requirePairingLocked(ctx context.Context, a *gateway.DeviceAdmission, reason string, existing *paired) (*paired, *gateway.DeviceDenial) {
	via := s.silentApproval(a, reason, existing)
	r, err := s.newPendingLocked(ctx, a, reason, existing, via != "")
	if err != nil {
		return nil, unavailable(err)
	}
	if via != "" {
		p, err := s.approveLocked(ctx, r, via)
		if err != nil {
			return nil, unavailable(err)
		}
		s.log.Info("device pairing auto-approved", "device", p.DeviceID, "role", a.Role, "via", via)
		return p, nil
	}
	s.broadcast("device.pair.requested", r.PendingDevice)
	s.log.Info("device pairing requested", "device", a.DeviceID, "requestId", r.RequestID, "reason", reason, "remote", a.ClientIP)
	msg := "pairing required: " + reasonText[reason]
	d := protocol.Details{
		"code": protocol.DetailPairingRequired, "reason": reason, "requestId": r.RequestID,
		"remediationHint": reasonHint[reason], "deviceId": a.DeviceID, "requestedRole": a.Role,
		"requestedScopes": nonNil(a.Scopes),
	}
	if existing != nil {
		if len(existing.Roles) > 0 {
			d["approvedRoles"] = existing.Roles
		}
		if len(existing.Scopes) > 0 {
			d["approvedScopes"] = existing.Scopes
		}
	}
	return nil, &gateway.DeviceDenial{
		Err:         &protocol.Error{Code: protocol.CodeNotPaired, Message: msg, Details: d},
		CloseReason: msg + " (requestId: " + r.RequestID + ")",
	}
}

// approveLocked turns a request into (or merges it into) a pairing record.
func (s *Service) approveLocked(ctx context.Context, r *pendingReq, via string) (*paired, error) {
	now := s.nowMs()
	p := s.paired[r.DeviceID]
	np := &paired{}
	if p != nil && p.PublicKey == r.PublicKey {
		*np = *p
		np.Roles = union(p.Roles, r.Roles)
		np.Scopes = union(p.Scopes, r.Scopes)
	} else {
		np.CreatedAtMs = now
		np.Roles = append([]string{}, r.Roles...)
		np.Scopes = append([]string{}, r.Scopes...)
	}
	np.DeviceID, np.PublicKey = r.DeviceID, r.PublicKey
	np.DisplayName, np.Platform, np.DeviceFamily = r.DisplayName, r.Platform, r.DeviceFamily
	np.ClientID, np.ClientMode, np.Role, np.RemoteIP = r.ClientID, r.ClientMode, r.Role, r.RemoteIP
	np.ApprovedVia, np.ApprovedAtMs, np.LastSeenAtMs, np.LastSeenReason = via, now, now, "connect"
	if err := s.db.savePaired(ctx, np); err != nil {
		return nil, err
	}
	if p != nil && p.PublicKey != r.PublicKey {
		// A new key for the same id cannot happen (id = hash of key); keep
		// the old tokens out anyway.
		_ = s.db.deleteTokens(ctx, r.DeviceID, "")
	}
	if err := s.db.deletePending(ctx, r.RequestID); err != nil {
		return nil, err
	}
	delete(s.pending, r.RequestID)
	s.paired[np.DeviceID] = np
	s.broadcast("device.pair.resolved", protocol.DevicePairResolvedEvent{RequestID: r.RequestID, DeviceID: r.DeviceID, Decision: "approved", Ts: now})
	s.broadcast("device.pair.changed", struct{}{})
	return np, nil
}

// roleScopes is what a token of role carries.
func roleScopes(p *paired, role string) []string {
	if role != protocol.RoleOperator {
		return []string{}
	}
	return append([]string{}, p.Scopes...)
}

// issueLocked puts the device's token for role into the grant: the same
// token while this process knows it, else a fresh one.
func (s *Service) issueLocked(ctx context.Context, g *gateway.DeviceGrant, p *paired, role string) {
	tok, at, err := s.ensureTokenLocked(ctx, p, role, roleScopes(p, role))
	if err != nil {
		s.log.Warn("device token not issued", "device", p.DeviceID, "role", role, "err", err)
		return
	}
	g.Token, g.IssuedAtMs, g.Credential = tok, at, hashToken(tok)
}

func (s *Service) ensureTokenLocked(ctx context.Context, p *paired, role string, scopes []string) (string, int64, error) {
	k := tokenKey{p.DeviceID, role}
	t := s.tokens[k]
	if plain, ok := s.live[k]; ok && t != nil && t.Hash == hashToken(plain) {
		if !slices.Equal(t.Scopes, scopes) {
			nt := *t
			nt.Scopes = scopes
			if err := s.db.saveToken(ctx, &nt); err != nil {
				return "", 0, err
			}
			s.tokens[k] = &nt
		}
		return plain, t.CreatedAtMs, nil
	}
	plain := newToken()
	now := s.nowMs()
	nt := &tokenRow{DeviceID: p.DeviceID, Role: role, Hash: hashToken(plain), Scopes: scopes, CreatedAtMs: now}
	if err := s.db.saveToken(ctx, nt); err != nil {
		return "", 0, err
	}
	s.tokens[k] = nt
	s.live[k] = plain
	return plain, now, nil
}

// connected reports the devices with a live connection.
func (s *Service) connected() map[string]bool {
	out := map[string]bool{}
	if s.gw == nil {
		return out
	}
	for _, c := range s.gw.Conns() {
		if id := c.DeviceID(); id != "" {
			out[id] = true
		}
	}
	return out
}

// List is device.pair.list.
func (s *Service) List(ctx context.Context) protocol.DevicePairListResult {
	conn := s.connected()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunePendingLocked(ctx)
	res := protocol.DevicePairListResult{Pending: []protocol.PendingDevice{}, Paired: []protocol.PairedDevice{}}
	for _, r := range s.pending {
		res.Pending = append(res.Pending, r.PendingDevice)
	}
	sort.Slice(res.Pending, func(i, j int) bool { return res.Pending[i].Ts < res.Pending[j].Ts })
	for _, p := range s.paired {
		res.Paired = append(res.Paired, s.pairedViewLocked(p, conn[p.DeviceID]))
	}
	sort.Slice(res.Paired, func(i, j int) bool { return res.Paired[i].ApprovedAtMs < res.Paired[j].ApprovedAtMs })
	return res
}

func (s *Service) pairedViewLocked(p *paired, connected bool) protocol.PairedDevice {
	v := protocol.PairedDevice{
		DeviceID: p.DeviceID, PublicKey: p.PublicKey, DisplayName: p.DisplayName, Label: p.Label, Platform: p.Platform,
		DeviceFamily: p.DeviceFamily, ClientID: p.ClientID, ClientMode: p.ClientMode, Role: p.Role, Roles: nonNil(p.Roles),
		Scopes: nonNil(p.Scopes), RemoteIP: p.RemoteIP, ApprovedVia: p.ApprovedVia, CreatedAtMs: p.CreatedAtMs,
		ApprovedAtMs: p.ApprovedAtMs, LastSeenAtMs: p.LastSeenAtMs, LastSeenReason: p.LastSeenReason, Connected: connected,
		Tokens: []protocol.DeviceTokenInfo{},
	}
	for _, role := range p.Roles {
		if t := s.tokens[tokenKey{p.DeviceID, role}]; t != nil {
			v.Tokens = append(v.Tokens, protocol.DeviceTokenInfo{Role: role, Scopes: nonNil(t.Scopes), CreatedAtMs: t.CreatedAtMs,
				RotatedAtMs: t.RotatedAtMs, LastUsedAt: t.LastUsedAtMs})
		}
	}
	return v
}

// Paired reports a paired device's public key and roles (for other domains,
// e.g. nodes, that need to know a device was removed).
func (s *Service) Paired(deviceID string) (roles []string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.paired[deviceID]
	if p == nil {
		return nil, false
	}
	return append([]string{}, p.Roles...), true
}
