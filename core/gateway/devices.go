package gateway

import (
	"context"

	"github.com/pincerhq/pincer/core/protocol"
)

// DeviceAdmission describes a connect whose device proof verified. The
// device authority decides whether the device may in (pairing) and which
// token it gets.
type DeviceAdmission struct {
	Conn      *Conn
	Params    *protocol.ConnectParams
	DeviceID  string
	PublicKey string // canonical base64url
	Role      string
	Scopes    []string // requested, known and capped
	// AuthMethod is what authenticated the connect: none, token, password,
	// device-token or bootstrap-token.
	AuthMethod string
	SharedOK   bool
	// Local: a direct loopback socket without proxy evidence.
	Local bool
	// BrowserOrigin is the Origin header, when a browser sent one.
	BrowserOrigin string
	// SkipPairing: local CLI/backend helpers authenticated with the shared
	// secret need no pairing (they keep their scopes without it).
	SkipPairing bool
	ClientIP    string
	// Credential is the device or bootstrap token that authenticated.
	Credential string
}

// DeviceGrant is an admitted device connection.
type DeviceGrant struct {
	Scopes     []string
	Token      string // hello-ok auth.deviceToken ("" for none)
	IssuedAtMs int64
	Handoff    []protocol.IssuedDeviceToken
	AuthMethod string // overrides the method reported in hello-ok when set
	Credential string // identifies the credential for revocation (e.g. a token hash)
}

// DeviceDenial refuses a device connect: the error res, then close 1008
// with CloseReason.
type DeviceDenial struct {
	Err         *protocol.Error
	CloseReason string
}

// DeviceAuthority is the device layer: credential checks and pairing.
type DeviceAuthority interface {
	// VerifyCredential checks a device token (kind "device-token") or a
	// bootstrap token (kind "bootstrap-token") presented by a proven device.
	// On failure reason is one of device_token_mismatch, scope_mismatch,
	// bootstrap_token_invalid.
	VerifyCredential(ctx context.Context, kind, deviceID, publicKey, token, role string, scopes []string) (ok bool, reason string)
	// Admit applies pairing to an authenticated device connect.
	Admit(ctx context.Context, a *DeviceAdmission) (*DeviceGrant, *DeviceDenial)
}

// DeviceID is the proven device id of the connection ("" without one).
func (c *Conn) DeviceID() string { return c.deviceID }

// Credential identifies the device credential the connection authenticated
// with ("" for shared-secret or device-less connections).
func (c *Conn) Credential() string { return c.credential }

// AuthMethod is how the connection authenticated.
func (c *Conn) AuthMethod() string { return c.authMethod }

// CloseWhere closes every authenticated connection matching f with code and
// reason, and reports how many it closed.
func (s *Server) CloseWhere(f func(*Conn) bool, code int, reason string) int {
	n := 0
	for _, c := range s.Conns() {
		if f(c) {
			c.Close(code, reason)
			n++
		}
	}
	return n
}
