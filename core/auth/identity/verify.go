package identity

import (
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

// MaxSkew is how far signedAt may be from the server clock.
const MaxSkew = 120 * time.Second

// ProofError is a rejected device proof: the detail code and reason of
// spec §3.2. The connect fails INVALID_REQUEST and the socket closes 1008.
type ProofError struct {
	Reason, Message string
}

func (e *ProofError) Error() string { return e.Message }

// DetailCode maps the reason to the protocol's detail code.
func (e *ProofError) DetailCode() string {
	switch e.Reason {
	case "device-id-mismatch":
		return protocol.DetailDeviceAuthDeviceIDMismatch
	case "device-signature-stale":
		return protocol.DetailDeviceAuthSignatureExpired
	case "device-nonce-missing":
		return protocol.DetailDeviceAuthNonceRequired
	case "device-nonce-mismatch":
		return protocol.DetailDeviceAuthNonceMismatch
	case "device-signature":
		return protocol.DetailDeviceAuthSignatureInvalid
	case "device-public-key":
		return protocol.DetailDeviceAuthPublicKeyInvalid
	}
	return protocol.DetailDeviceAuthInvalid
}

// Verified is an accepted proof.
type Verified struct {
	DeviceID       string
	PublicKey      string // canonical base64url
	PayloadVersion string // "v3" or "v2"
}

// VerifyConnect checks a connect's device proof against the socket's
// challenge nonce, in the reference's order: id, skew, nonce, signature.
func VerifyConnect(p *protocol.ConnectParams, challengeNonce string, now time.Time) (*Verified, *ProofError) {
	d := p.Device
	pub, kerr := ParsePublicKey(d.PublicKey)
	if kerr != nil || DeviceID(pub) != d.ID {
		return nil, &ProofError{"device-id-mismatch", "device identity mismatch"}
	}
	skew := now.UnixMilli() - d.SignedAt
	if skew < 0 {
		skew = -skew
	}
	if skew > MaxSkew.Milliseconds() {
		return nil, &ProofError{"device-signature-stale", "device signature expired"}
	}
	nonce := strings.TrimSpace(d.Nonce)
	if nonce == "" {
		return nil, &ProofError{"device-nonce-missing", "device nonce required"}
	}
	if challengeNonce == "" || nonce != challengeNonce {
		return nil, &ProofError{"device-nonce-mismatch", "device nonce mismatch"}
	}
	f := FieldsFor(p, d.ID, d.SignedAt, nonce)
	version := ""
	switch {
	case VerifySignature(pub, PayloadV3(f), d.Signature):
		version = "v3"
	case VerifySignature(pub, PayloadV2(f), d.Signature):
		version = "v2"
	default:
		return nil, &ProofError{"device-signature", "device signature invalid"}
	}
	return &Verified{DeviceID: d.ID, PublicKey: EncodePublicKey(pub), PayloadVersion: version}, nil
}
