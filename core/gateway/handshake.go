package gateway

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/pincerhq/pincer/core/protocol"
)

// handshake processes the first frame. Frames arriving meanwhile queue
// behind it (at most 15).
func (c *Conn) handshake(data []byte) {
	ok := c.runHandshake(data)
	c.handshakeDone(ok)
}

func (c *Conn) failHandshake(id string, e *protocol.Error, code websocket.StatusCode, reason string) bool {
	attrs := []any{"conn", c.id, "remote", c.clientIP, "closeCode", int(code), "reason", reason}
	if e != nil {
		attrs = append(attrs, "errorCode", e.Code, "detailCode", e.DetailCode())
	}
	c.s.log.Warn("handshake rejected", attrs...)
	if id != "" && e != nil {
		c.sendError(id, e)
	}
	c.closeAfterFlush(code, reason)
	return false
}

func (c *Conn) runHandshake(data []byte) bool {
	var probe struct {
		Params *struct {
			Role   json.RawMessage `json:"role"`
			Client *struct {
				ID   json.RawMessage `json:"id"`
				Mode json.RawMessage `json:"mode"`
			} `json:"client"`
		} `json:"params"`
	}
	if !json.Valid(data) {
		// The live gateway closes normally, with no res, on non-JSON.
		return c.failHandshake("", nil, websocket.StatusNormalClosure, "")
	}
	if json.Unmarshal(data, &probe) == nil && probe.Params != nil && claimsWorker(probe.Params.Role, probe.Params.Client) {
		return c.failHandshake("", nil, websocket.StatusPolicyViolation, "invalid-handshake")
	}
	req, perr := parseRequest(data)
	if perr != nil {
		return c.failHandshake("", nil, websocket.StatusPolicyViolation, "invalid request frame")
	}
	if req.Method != "connect" {
		msg := "invalid handshake: first request must be connect"
		return c.failHandshake(req.ID, protocol.InvalidRequest(msg), websocket.StatusPolicyViolation, msg)
	}
	params := req.Params
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	if v := c.s.opt.Validator; v != nil {
		if err := v.ValidateConnect(params); err != nil {
			msg := "invalid connect params: " + err.Error()
			return c.failHandshake(req.ID, protocol.InvalidRequest(msg), websocket.StatusPolicyViolation, msg)
		}
	}
	var p protocol.ConnectParams
	if err := json.Unmarshal(params, &p); err != nil {
		msg := "invalid connect params: " + err.Error()
		return c.failHandshake(req.ID, protocol.InvalidRequest(msg), websocket.StatusPolicyViolation, msg)
	}
	if !protocolAccepted(&p) {
		e := &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "protocol mismatch", Details: protocol.Details{
			"code": protocol.DetailProtocolMismatch, "clientMinProtocol": p.MinProtocol, "clientMaxProtocol": p.MaxProtocol,
			"expectedProtocol": protocol.Version, "minimumProbeProtocol": protocol.MinProbeProtocol,
		}}
		return c.failHandshake(req.ID, e, websocket.StatusProtocolError, "protocol mismatch")
	}
	role := p.Role
	if role == "" {
		role = protocol.RoleOperator
	}
	if role != protocol.RoleOperator && role != protocol.RoleNode {
		return c.failHandshake(req.ID, protocol.InvalidRequest("invalid role"), websocket.StatusPolicyViolation, "invalid role")
	}
	// Browsers always send Origin: a page of another site is refused
	// whatever client it claims to be (cross-site WebSocket hijacking; the
	// reference only checks the UI ids and would queue a pairing request).
	// Native clients send no Origin.
	browserElsewhere := c.origin != "" && !c.s.originAllowed(c.origin, c.local)
	if (needsBrowserOrigin(&p.Client) || browserElsewhere) && !c.s.originAllowed(c.origin, c.local) {
		msg := "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)"
		reason := "origin not allowed"
		if c.origin == "" {
			reason = "origin missing"
		}
		e := &protocol.Error{Code: protocol.CodeInvalidRequest, Message: msg, Details: protocol.Details{
			"code": protocol.DetailControlUIOriginNotAllowed, "reason": reason,
		}}
		return c.failHandshake(req.ID, e, websocket.StatusPolicyViolation, msg)
	}

	withDevice := p.Device != nil && c.s.opt.Devices != nil
	deviceCandidate := ""
	if withDevice && p.Auth != nil {
		switch {
		case p.Auth.DeviceToken != nil && *p.Auth.DeviceToken != "":
			deviceCandidate = *p.Auth.DeviceToken
		case p.Auth.Token != nil && *p.Auth.Token != "":
			deviceCandidate = *p.Auth.Token // a device may send its token in auth.token
		}
	}
	// A shared-secret failure is only counted once the device credential
	// has failed too.
	auth := c.s.authenticate(c, &p, deviceCandidate != "")
	isControlUI := isOperatorUI(p.Client.ID)
	noOrigin := c.origin == ""
	localBackend := p.Client.ID == protocol.ClientGatewayClient && p.Client.Mode == protocol.ModeBackend &&
		c.local && noOrigin && (auth.method == AuthNone || auth.sharedOK)
	preserveCLI := p.Client.ID == protocol.ClientCLI && p.Client.Mode == protocol.ModeCLI &&
		c.local && noOrigin && auth.sharedOK

	if auth.err != nil && auth.rateLimited {
		return c.rejectAuth(req.ID, &p, auth)
	}
	scopes := grantScopes(p.Scopes, c.scopeCap)
	if role == protocol.RoleNode {
		scopes = []string{}
	}
	if withDevice {
		grant, ok := c.admitDevice(req.ID, &p, role, scopes, &auth, deviceCandidate, localBackend || preserveCLI)
		if !ok {
			return false
		}
		scopes = grant.Scopes
		if role == protocol.RoleNode {
			scopes = []string{}
		}
		c.deviceID = p.Device.ID
		c.credential = grant.Credential
		c.grant = grant
	} else {
		allowed := false
		switch {
		case localBackend && role == protocol.RoleOperator:
			allowed = true
		case isControlUI:
			msg := "control ui requires device identity (use HTTPS or localhost secure context)"
			e := &protocol.Error{Code: protocol.CodeInvalidRequest, Message: msg, Details: protocol.Details{"code": protocol.DetailControlUIDeviceIdentityRequired}}
			return c.failHandshake(req.ID, e, websocket.StatusPolicyViolation, msg)
		case role == protocol.RoleOperator && auth.sharedOK:
			allowed = true
		case auth.err != nil && auth.provided:
			return c.rejectAuth(req.ID, &p, auth)
		}
		if !allowed {
			e := &protocol.Error{Code: protocol.CodeNotPaired, Message: "device identity required", Details: protocol.Details{"code": protocol.DetailDeviceIdentityRequired}}
			return c.failHandshake(req.ID, e, websocket.StatusPolicyViolation, "device identity required")
		}
		if auth.err != nil {
			return c.rejectAuth(req.ID, &p, auth)
		}
		if role != protocol.RoleNode && !localBackend && !preserveCLI {
			// Device-less operators keep no scopes, except the local CLI and
			// local backend helpers authenticated with the shared secret.
			scopes = []string{}
		}
	}
	c.params = &p
	c.role = role
	c.scopes = scopes
	if !withDevice {
		c.authMethod = auth.method
	}
	if len(p.Caps) > 0 {
		c.caps = make(map[string]bool, len(p.Caps))
		for _, cp := range p.Caps {
			c.caps[cp] = true
		}
	}
	c.releasePreauth() // authenticated: no longer counts against its IP
	c.s.admit(c)
	c.sendHello(req.ID, c.s.buildHello(c))
	c.mu.Lock()
	if c.hsTimer != nil {
		c.hsTimer.Stop()
		c.hsTimer = nil
	}
	c.nonce = "" // single use; the device layer has checked it by now
	c.mu.Unlock()
	c.s.limiter.reset(c.clientIP)
	c.s.afterHello(c)
	return true
}

func claimsWorker(role json.RawMessage, client *struct {
	ID   json.RawMessage `json:"id"`
	Mode json.RawMessage `json:"mode"`
}) bool {
	var s string
	if json.Unmarshal(role, &s) == nil && s == "worker" {
		return true
	}
	if client == nil {
		return false
	}
	if json.Unmarshal(client.ID, &s) == nil && s == protocol.ClientWorker {
		return true
	}
	return json.Unmarshal(client.Mode, &s) == nil && s == protocol.ModeWorker
}

// protocolAccepted applies the version window: 4 for everyone, 3–4 for
// probes, 3 for legacy node envelopes.
func protocolAccepted(p *protocol.ConnectParams) bool {
	v := protocol.Version
	if p.MinProtocol <= v && v <= p.MaxProtocol {
		return true
	}
	if p.Client.Mode == protocol.ModeProbe && p.MinProtocol <= v && p.MaxProtocol >= protocol.MinProbeProtocol {
		return true
	}
	return p.Role == protocol.RoleNode && p.Client.Mode == protocol.ModeNode &&
		p.MinProtocol <= protocol.MinNodeProtocol && protocol.MinNodeProtocol <= p.MaxProtocol
}

func isOperatorUI(id string) bool {
	return id == protocol.ClientControlUI || id == protocol.ClientBrowserCopilot || id == protocol.ClientTUI
}

func needsBrowserOrigin(cl *protocol.ClientInfo) bool {
	return cl.ID == protocol.ClientControlUI || cl.ID == protocol.ClientBrowserCopilot ||
		cl.Mode == protocol.ModeWebchat || cl.ID == protocol.ClientWebchatUI
}

// originAllowed accepts configured origins, and loopback origins for local
// clients.
func (s *Server) originAllowed(origin string, local bool) bool {
	if origin == "" {
		return false
	}
	for _, o := range s.opt.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), strings.TrimRight(origin, "/")) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	h := u.Hostname()
	return local && (h == "localhost" || isLoopbackIP(h))
}

// grantScopes keeps the known requested scopes, capped by the
// X-OpenClaw-Scopes header when present.
func grantScopes(requested, capList []string) []string {
	out := []string{}
	for _, s := range requested {
		if !protocol.IsKnownScope(s) || slices.Contains(out, s) {
			continue
		}
		if capList != nil && !protocol.ScopeSatisfied(capList, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

type authOutcome struct {
	method      string // none | token | password
	sharedOK    bool
	provided    bool // a shared secret was sent
	reason      string
	err         *protocol.Error
	rateLimited bool
	retryAfter  time.Duration
	// pendingFailure: a shared-secret mismatch not yet counted, because a
	// device credential may still authenticate the connect.
	pendingFailure bool
}

// recordAuthFailure counts a shared-secret failure and waits out the delay
// the limiter imposes (loopback peers).
func (c *Conn) recordAuthFailure() {
	delay := c.s.limiter.failure(c.clientIP)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-c.closedCh:
		}
	}
}

// settleAuthFailure counts a deferred shared-secret failure.
func (c *Conn) settleAuthFailure(a *authOutcome) {
	if a.pendingFailure {
		a.pendingFailure = false
		c.recordAuthFailure()
	}
}

// authenticate checks the shared secret. Failures are rate limited per
// client IP; loopback peers are delayed instead of locked out.
func (s *Server) authenticate(c *Conn, p *protocol.ConnectParams, deferFailure bool) authOutcome {
	mode := s.opt.Auth.Mode
	var token, password string
	if p.Auth != nil {
		if p.Auth.Token != nil {
			token = *p.Auth.Token
		}
		if p.Auth.Password != nil {
			password = *p.Auth.Password
		}
	}
	if mode == AuthNone {
		return authOutcome{method: AuthNone}
	}
	provided := token != "" || password != ""
	if ok, retry := s.limiter.check(c.clientIP); !ok {
		return authOutcome{provided: provided, reason: "rate_limited", rateLimited: true, retryAfter: retry,
			err: &protocol.Error{Code: protocol.CodeInvalidRequest}}
	}
	// The mode picks which configured secret is compared, not which wire
	// field carries it.
	secret, other := token, password
	configured := s.opt.Auth.Token
	if mode == AuthPassword {
		secret, other = password, token
		configured = s.opt.Auth.Password
	}
	if secret == "" {
		secret = other
	}
	switch {
	case configured == "":
		return authOutcome{provided: provided, reason: mode + "_missing_config", err: &protocol.Error{}}
	case secret == "":
		return authOutcome{provided: provided, reason: mode + "_missing", err: &protocol.Error{}}
	case !secretEqual(secret, configured):
		out := authOutcome{provided: provided, reason: mode + "_mismatch", err: &protocol.Error{}}
		if deferFailure {
			out.pendingFailure = true
		} else {
			c.recordAuthFailure()
		}
		return out
	}
	return authOutcome{method: mode, sharedOK: true, provided: true}
}

var authDetailCodes = map[string]string{
	"token_missing":           protocol.DetailAuthTokenMissing,
	"token_mismatch":          protocol.DetailAuthTokenMismatch,
	"token_missing_config":    protocol.DetailAuthTokenNotConfigured,
	"password_missing":        protocol.DetailAuthPasswordMissing,
	"password_mismatch":       protocol.DetailAuthPasswordMismatch,
	"password_missing_config": protocol.DetailAuthPasswordNotConfigured,
	"rate_limited":            protocol.DetailAuthRateLimited,
	"device_token_mismatch":   protocol.DetailAuthDeviceTokenMismatch,
	"scope_mismatch":          protocol.DetailAuthScopeMismatch,
	"bootstrap_token_invalid": protocol.DetailAuthBootstrapTokenInvalid,
}

var nextSteps = map[string]string{
	"token_missing": "update_auth_configuration", "token_missing_config": "update_auth_configuration",
	"password_missing": "update_auth_configuration", "password_missing_config": "update_auth_configuration",
	"token_mismatch": "update_auth_credentials", "password_mismatch": "update_auth_credentials",
	"rate_limited":          "wait_then_retry",
	"device_token_mismatch": "update_auth_credentials",
}

// authMessage words the failure for the kind of client, as the reference does.
func authMessage(reason string, cl *protocol.ClientInfo, local bool) string {
	isCLI := cl.ID == protocol.ClientCLI
	ui := isOperatorUI(cl.ID) || cl.Mode == protocol.ModeWebchat || cl.ID == protocol.ClientWebchatUI
	tokenHint, passwordHint := "provide gateway auth token", "provide gateway auth password"
	switch {
	case isCLI && local:
		tokenHint, passwordHint = "use this gateway's gateway.auth.token or pair the device", "use this gateway's gateway.auth.password"
	case isCLI:
		tokenHint, passwordHint = "set gateway.remote.token to match gateway.auth.token", "set gateway.remote.password to match gateway.auth.password"
	case ui:
		tokenHint, passwordHint = "open the dashboard URL and paste the token in Control UI settings", "enter the password in Control UI settings"
	}
	switch reason {
	case "token_missing":
		if ui {
			return "unauthorized: gateway token missing (paste in Control UI settings or pincer config get gateway.auth.token; restart)"
		}
		return "unauthorized: gateway token missing (" + tokenHint + ")"
	case "token_mismatch":
		return "unauthorized: gateway token mismatch (" + tokenHint + ")"
	case "token_missing_config":
		return "unauthorized: gateway token not configured on gateway (set gateway.auth.token)"
	case "password_missing":
		return "unauthorized: gateway password missing (" + passwordHint + ")"
	case "password_mismatch":
		return "unauthorized: gateway password mismatch (" + passwordHint + ")"
	case "password_missing_config":
		return "unauthorized: gateway password not configured on gateway (set gateway.auth.password)"
	case "rate_limited":
		return "unauthorized: too many failed authentication attempts (retry later)"
	case "device_token_mismatch":
		return "unauthorized: device token mismatch (rotate/reissue device token)"
	case "scope_mismatch":
		return "unauthorized: device token scope mismatch (re-pair or approve scope upgrade)"
	case "bootstrap_token_invalid":
		return "unauthorized: setup code invalid, expired, revoked, or already used (create a new code; review `pincer devices list`)"
	}
	return "unauthorized"
}

func (c *Conn) rejectAuth(id string, p *protocol.ConnectParams, a authOutcome) bool {
	c.settleAuthFailure(&a)
	msg := authMessage(a.reason, &p.Client, c.local)
	code := authDetailCodes[a.reason]
	if code == "" {
		code = protocol.DetailAuthUnauthorized
	}
	step := nextSteps[a.reason]
	if step == "" {
		step = "review_auth_configuration"
	}
	canRetry := a.reason == "token_mismatch" && p.Device != nil && p.Auth != nil && p.Auth.Token != nil &&
		p.Auth.Password == nil && p.Auth.DeviceToken == nil
	if canRetry {
		step = "retry_with_device_token"
	}
	e := &protocol.Error{Code: protocol.CodeInvalidRequest, Message: msg, Details: protocol.Details{
		"code": code, "authReason": a.reason, "canRetryWithDeviceToken": canRetry, "recommendedNextStep": step,
	}}
	if a.rateLimited {
		e.Retryable = true
		e.RetryAfterMs = a.retryAfter.Milliseconds()
	}
	return c.failHandshake(id, e, websocket.StatusPolicyViolation, msg)
}
