package pairing

import (
	"context"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
	"rsc.io/qr"

	"github.com/pincerhq/pincer/core/auth/setupcode"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

func (s *Service) register(gw *gateway.Server) {
	for _, ev := range []string{"device.pair.requested", "device.pair.resolved", "device.pair.changed",
		"device.pair.setup.completed", "device.pair.setup.deliveryUncertain"} {
		gw.RegisterEvent(ev, gateway.EventGuard{AnyOf: []string{protocol.ScopePairing}})
	}
	pairing := func(name string, h gateway.Handler) {
		gw.Register(gateway.Method{Name: name, Scope: protocol.ScopePairing, Handler: h})
	}
	pairing("device.pair.list", func(ctx context.Context, _ *gateway.Call) (any, error) { return s.List(ctx), nil })
	pairing("device.pair.approve", s.handleApprove)
	pairing("device.pair.reject", s.handleReject)
	pairing("device.pair.remove", s.handleRemove)
	pairing("device.pair.rename", s.handleRename)
	pairing("device.token.rotate", s.handleRotate)
	pairing("device.token.revoke", s.handleRevoke)
	gw.Register(gateway.Method{Name: "device.pair.setupCode", Scope: protocol.ScopeAdmin, Hidden: true, Handler: s.handleSetupCode})
	gw.Register(gateway.Method{Name: "device.pair.setupStatus", Scope: protocol.ScopeAdmin, Hidden: true, Handler: s.handleSetupStatus})
}

func (s *Service) handleApprove(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DevicePairRequestParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunePendingLocked(ctx)
	r := s.pending[p.RequestID]
	if r == nil {
		return nil, protocol.InvalidRequest("unknown requestId")
	}
	// An approver can grant no more than it holds.
	if r.Role == protocol.RoleOperator && !scopesAllow(r.Scopes, call.Conn.Scopes()) {
		return nil, &protocol.Error{Code: protocol.CodeForbidden, Message: "cannot approve scopes the approver does not hold",
			Details: protocol.Details{"code": protocol.DetailMissingScope, "requiredScopes": r.Scopes}}
	}
	np, err := s.approveLocked(ctx, r, "owner")
	if err != nil {
		return nil, err
	}
	return map[string]any{"requestId": r.RequestID, "device": s.pairedViewLocked(np, false)}, nil
}

func (s *Service) handleReject(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DevicePairRequestParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunePendingLocked(ctx)
	r := s.pending[p.RequestID]
	if r == nil {
		return nil, protocol.InvalidRequest("unknown requestId")
	}
	if err := s.db.deletePending(ctx, r.RequestID); err != nil {
		return nil, err
	}
	delete(s.pending, r.RequestID)
	s.broadcast("device.pair.resolved", protocol.DevicePairResolvedEvent{RequestID: r.RequestID, DeviceID: r.DeviceID, Decision: "rejected", Ts: s.nowMs()})
	return map[string]any{"requestId": r.RequestID, "deviceId": r.DeviceID}, nil
}

// RemoveHook runs after a device was unpaired (nodes drop their surface).
type RemoveHook func(deviceID string)

// OnRemove registers a hook run after device.pair.remove.
func (s *Service) OnRemove(h RemoveHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeHooks = append(s.removeHooks, h)
}

func (s *Service) handleRemove(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DevicePairRemoveParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.paired[p.DeviceID] == nil {
		s.mu.Unlock()
		return nil, protocol.InvalidRequest("unknown deviceId")
	}
	if err := s.db.deleteDevice(ctx, p.DeviceID); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	delete(s.paired, p.DeviceID)
	for k := range s.tokens {
		if k.device == p.DeviceID {
			delete(s.tokens, k)
			delete(s.live, k)
		}
	}
	for id, r := range s.pending {
		if r.DeviceID == p.DeviceID {
			delete(s.pending, id)
		}
	}
	hooks := append([]RemoveHook{}, s.removeHooks...)
	s.mu.Unlock()
	s.broadcast("device.pair.changed", struct{}{})
	for _, h := range hooks {
		h(p.DeviceID)
	}
	if s.gw != nil {
		s.gw.CloseWhere(func(c *gateway.Conn) bool { return c.DeviceID() == p.DeviceID }, CloseDeviceRevoked, "device removed")
	}
	return map[string]any{"deviceId": p.DeviceID}, nil
}

func (s *Service) handleRename(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DevicePairRenameParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	label := strings.TrimSpace(p.Label)
	if label == "" {
		return nil, protocol.InvalidParams(call.Method, "label must not be blank")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.paired[p.DeviceID]
	if d == nil {
		return nil, protocol.InvalidRequest("unknown deviceId")
	}
	nd := *d
	nd.Label = label
	if err := s.db.savePaired(ctx, &nd); err != nil {
		return nil, err
	}
	s.paired[p.DeviceID] = &nd
	s.broadcast("device.pair.changed", struct{}{})
	return map[string]any{"deviceId": p.DeviceID, "label": label}, nil
}

// tokenTarget checks a token method's target and the caller's authority:
// roles other than operator need admin.
func (s *Service) tokenTargetLocked(call *gateway.Call, deviceID, role string) (*paired, error) {
	d := s.paired[deviceID]
	if d == nil {
		return nil, protocol.InvalidRequest("unknown deviceId")
	}
	if role != protocol.RoleOperator && !call.Conn.HasScope(protocol.ScopeAdmin) {
		return nil, protocol.MissingScope(protocol.ScopeAdmin)
	}
	if !slices.Contains(d.Roles, role) {
		return nil, protocol.InvalidRequest("device is not paired for role " + role)
	}
	return d, nil
}

func (s *Service) closeCredential(deviceID, role, reason string) {
	if s.gw == nil {
		return
	}
	s.gw.CloseWhere(func(c *gateway.Conn) bool {
		return c.DeviceID() == deviceID && c.Role() == role && c.AuthMethod() == "device-token"
	}, CloseDeviceRevoked, reason)
}

func (s *Service) handleRotate(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DeviceTokenRotateParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	d, err := s.tokenTargetLocked(call, p.DeviceID, p.Role)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	scopes := roleScopes(d, p.Role)
	if p.Scopes != nil {
		if p.Role != protocol.RoleOperator && len(p.Scopes) > 0 {
			s.mu.Unlock()
			return nil, protocol.InvalidRequest("only operator tokens carry scopes")
		}
		if !scopesAllow(p.Scopes, d.Scopes) {
			s.mu.Unlock()
			return nil, protocol.InvalidRequest("requested scopes exceed the device's approved scopes")
		}
		scopes = append([]string{}, p.Scopes...)
	}
	k := tokenKey{p.DeviceID, p.Role}
	delete(s.live, k)
	plain := newToken()
	now := s.nowMs()
	created := now
	if old := s.tokens[k]; old != nil {
		created = old.CreatedAtMs
	}
	nt := &tokenRow{DeviceID: p.DeviceID, Role: p.Role, Hash: hashToken(plain), Scopes: scopes, CreatedAtMs: created, RotatedAtMs: now}
	if err := s.db.saveToken(ctx, nt); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.tokens[k] = nt
	s.live[k] = plain
	s.mu.Unlock()
	s.closeCredential(p.DeviceID, p.Role, "device token rotated")
	res := protocol.DeviceTokenRotateResult{DeviceID: p.DeviceID, Role: p.Role, Scopes: nonNil(scopes), RotatedAtMs: now}
	if call.Conn.DeviceID() == p.DeviceID {
		res.TokenDelivery, res.Token = "direct", plain
	} else {
		res.TokenDelivery = "withheld-cross-device"
	}
	s.broadcast("device.pair.changed", struct{}{})
	return res, nil
}

func (s *Service) handleRevoke(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DeviceTokenRevokeParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if _, err := s.tokenTargetLocked(call, p.DeviceID, p.Role); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := s.db.deleteTokens(ctx, p.DeviceID, p.Role); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	k := tokenKey{p.DeviceID, p.Role}
	delete(s.tokens, k)
	delete(s.live, k)
	s.mu.Unlock()
	s.closeCredential(p.DeviceID, p.Role, "device token revoked")
	s.broadcast("device.pair.changed", struct{}{})
	return map[string]any{"deviceId": p.DeviceID, "role": p.Role, "revokedAtMs": s.nowMs()}, nil
}

// Bootstrap profiles (spec §3.7): which roles a setup code admits and the
// operator scopes it hands off.
var handoffOperatorScopes = []string{protocol.ScopeApprovals, protocol.ScopeQuestions, protocol.ScopeRead, protocol.ScopeTalkSecrets, protocol.ScopeWrite}

func profileRoles(profile string) []string {
	if profile == "node" {
		return []string{protocol.RoleNode}
	}
	return []string{protocol.RoleNode, protocol.RoleOperator}
}

func profileOperatorScopes(profile string) []string {
	switch profile {
	case "node":
		return nil
	case "voice-node":
		return []string{protocol.ScopeRead, protocol.ScopeTalk}
	}
	return handoffOperatorScopes
}

func profileAccess(profile string) string {
	if profile == "node" {
		return "node"
	}
	return "limited"
}

func (s *Service) handleSetupCode(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DevicePairSetupCodeParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	if p.JoinURL != nil && *p.JoinURL {
		return nil, protocol.InvalidRequest("join URLs are not supported by this gateway; use the setup code")
	}
	cfg := s.cfg()
	gwURL, source := cfg.GatewayURL, "gateway.bind"
	if p.PublicURL != "" {
		gwURL, source = p.PublicURL, "request.publicUrl"
	}
	u, err := url.Parse(gwURL)
	if gwURL == "" || err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		if p.PublicURL != "" {
			return nil, protocol.InvalidRequest("publicUrl must be a ws:// or wss:// URL")
		}
		return nil, protocol.InvalidRequest("gateway is only reachable on loopback; set gateway.bind to lan (or pass publicUrl) so a device can reach it")
	}
	if p.PublicURL == "" && isLoopbackHost(u.Hostname()) {
		return nil, protocol.InvalidRequest("gateway is only reachable on loopback; set gateway.bind to lan (or pass publicUrl) so a device can reach it")
	}
	profile := p.BootstrapProfile
	if profile == "" {
		profile = "limited"
	}
	tok := newToken()
	now := s.nowMs()
	b := &bootstrapRow{Hash: hashToken(tok), SetupID: uuid.NewString(), Profile: profile, CreatedAtMs: now, ExpiresAtMs: now + BootstrapTTL.Milliseconds()}
	if err := s.db.pruneBootstrap(ctx, now-BootstrapTTL.Milliseconds()); err != nil {
		s.log.Warn("setup codes not pruned", "err", err)
	}
	if err := s.db.saveBootstrap(ctx, b); err != nil {
		return nil, err
	}
	code := setupcode.Encode(protocol.SetupCodePayload{URL: gwURL, BootstrapToken: tok, ExpiresAtMs: b.ExpiresAtMs})
	res := protocol.DevicePairSetupCodeResult{
		SetupID: b.SetupID, ExpiresAtMs: b.ExpiresAtMs, SetupCode: code, GatewayURL: gwURL,
		Auth: cfg.AuthMode, URLSource: source, Access: profileAccess(profile),
	}
	if p.IncludeQR == nil || *p.IncludeQR {
		if q, err := qr.Encode(code, qr.M); err == nil {
			res.QRDataURL = "data:image/png;base64," + base64.StdEncoding.EncodeToString(q.PNG())
		}
	}
	return res, nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}

func (s *Service) handleSetupStatus(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.DevicePairSetupStatusParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	b, err := s.db.getBootstrap(ctx, "setup_id", p.SetupID)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, protocol.InvalidRequest("unknown setupId")
	}
	if b.UsedAtMs == 0 {
		return map[string]any{}, nil
	}
	c := map[string]any{"setupId": b.SetupID, "deviceId": b.DeviceID, "access": profileAccess(b.Profile), "ts": b.UsedAtMs}
	if b.DeviceName != "" {
		c["deviceName"] = b.DeviceName
	}
	return map[string]any{"completion": c}, nil
}

// admitBootstrapLocked pairs a device that presented a valid setup-code
// token: the code is the operator's approval. The code is consumed; the
// hello carries the node token and the bounded operator handoff.
func (s *Service) admitBootstrapLocked(ctx context.Context, a *gateway.DeviceAdmission, p *paired, isPaired bool) (*gateway.DeviceGrant, *gateway.DeviceDenial) {
	b, err := s.db.getBootstrap(ctx, "token_hash", hashToken(a.Credential))
	if err != nil || b == nil {
		return nil, &gateway.DeviceDenial{Err: protocol.InvalidRequest("setup code invalid"), CloseReason: "setup code invalid"}
	}
	roles := profileRoles(b.Profile)
	opScopes := profileOperatorScopes(b.Profile)
	if !isPaired || !slices.Contains(p.Roles, a.Role) || (a.Role == protocol.RoleOperator && !scopesAllow(a.Scopes, union(p.Scopes, opScopes))) {
		r, err := s.newPendingLocked(ctx, a, "not-paired", nil, true)
		if err != nil {
			return nil, unavailable(err)
		}
		r.Roles = roles
		r.Scopes = append([]string{}, opScopes...)
		if p, err = s.approveLocked(ctx, r, "bootstrap"); err != nil {
			return nil, unavailable(err)
		}
	} else {
		s.touchLocked(ctx, p, a)
	}
	first := b.UsedAtMs == 0
	if first {
		b.UsedAtMs, b.DeviceID, b.DeviceName = s.nowMs(), a.DeviceID, a.Params.Client.DisplayName
		if err := s.db.saveBootstrap(ctx, b); err != nil {
			return nil, unavailable(err)
		}
	}
	g := &gateway.DeviceGrant{Scopes: a.Scopes, AuthMethod: "bootstrap-token"}
	s.issueLocked(ctx, g, p, a.Role)
	if a.Role == protocol.RoleNode && slices.Contains(p.Roles, protocol.RoleOperator) {
		if tok, at, err := s.ensureTokenLocked(ctx, p, protocol.RoleOperator, roleScopes(p, protocol.RoleOperator)); err == nil {
			g.Handoff = []protocol.IssuedDeviceToken{{DeviceToken: tok, Role: protocol.RoleOperator, Scopes: roleScopes(p, protocol.RoleOperator), IssuedAtMs: at}}
		}
	}
	if first {
		ev := map[string]any{"setupId": b.SetupID, "deviceId": a.DeviceID, "access": profileAccess(b.Profile), "ts": b.UsedAtMs}
		if b.DeviceName != "" {
			ev["deviceName"] = b.DeviceName
		}
		s.broadcast("device.pair.setup.completed", ev)
	}
	return g, nil
}
