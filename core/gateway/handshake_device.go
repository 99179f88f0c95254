package gateway

import (
	"time"

	"github.com/coder/websocket"

	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/protocol"
)

// admitDevice runs the device half of the handshake (spec §2.3, §3): the
// proof, then device or bootstrap credentials when the shared secret did not
// authenticate, then pairing. It answers and closes on failure.
func (c *Conn) admitDevice(reqID string, p *protocol.ConnectParams, role string, scopes []string,
	auth *authOutcome, deviceCandidate string, skipPairing bool) (*DeviceGrant, bool) {
	v, perr := identity.VerifyConnect(p, c.nonce, time.Now())
	if perr != nil {
		c.settleAuthFailure(auth)
		e := &protocol.Error{Code: protocol.CodeInvalidRequest, Message: perr.Message, Details: protocol.Details{
			"code": perr.DetailCode(), "reason": perr.Reason,
		}}
		c.failHandshake(reqID, e, websocket.StatusPolicyViolation, perr.Message)
		return nil, false
	}
	devs := c.s.opt.Devices
	ctx := c.Context()
	authOK := auth.err == nil && (auth.sharedOK || auth.method == AuthNone)
	method := auth.method
	credential := ""
	failReason := auth.reason
	if p.Auth != nil && p.Auth.BootstrapToken != nil && *p.Auth.BootstrapToken != "" {
		tok := *p.Auth.BootstrapToken
		if ok, reason := devs.VerifyCredential(ctx, "bootstrap-token", v.DeviceID, v.PublicKey, tok, role, scopes); ok {
			authOK, method, credential = true, "bootstrap-token", tok
		} else if !authOK {
			failReason = reason
		}
	}
	if !authOK && deviceCandidate != "" {
		ok, reason := devs.VerifyCredential(ctx, "device-token", v.DeviceID, v.PublicKey, deviceCandidate, role, scopes)
		switch {
		case ok:
			authOK, method, credential = true, "device-token", deviceCandidate
			auth.pendingFailure = false
		case reason == "scope_mismatch":
			failReason = reason
		case p.Auth.DeviceToken != nil && *p.Auth.DeviceToken != "":
			failReason = "device_token_mismatch"
		}
	}
	if !authOK {
		if failReason == "" {
			failReason = "device_token_mismatch"
		}
		out := *auth
		out.reason = failReason
		c.rejectAuth(reqID, p, out)
		return nil, false
	}
	auth.pendingFailure = false // a device credential passed: the shared-secret miss is not counted
	adm := &DeviceAdmission{
		Conn: c, Params: p, DeviceID: v.DeviceID, PublicKey: v.PublicKey, Role: role, Scopes: scopes,
		AuthMethod: method, SharedOK: auth.sharedOK, Local: c.local, BrowserOrigin: c.origin,
		SkipPairing: skipPairing, ClientIP: c.clientIP, Credential: credential,
	}
	grant, denial := devs.Admit(ctx, adm)
	if denial != nil {
		c.failHandshake(reqID, denial.Err, websocket.StatusPolicyViolation, denial.CloseReason)
		return nil, false
	}
	if grant.AuthMethod == "" {
		grant.AuthMethod = method
	}
	c.authMethod = grant.AuthMethod
	return grant, true
}
