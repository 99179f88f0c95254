// Package identity is the device identity of the protocol (spec §3.1–3.2):
// ed25519 keys, device ids, the signed connect payloads, and the lenient
// decoding the gateway applies to what clients send. Both sides use it: the
// gateway to verify connect proofs, the CLI and node host to sign them.
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pincerhq/pincer/core/protocol"
)

// Identity is a device key pair.
type Identity struct {
	DeviceID   string
	PublicKey  ed25519.PublicKey
	PrivateKey ed25519.PrivateKey
}

// Generate makes a fresh identity.
func Generate() (*Identity, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return &Identity{DeviceID: DeviceID(pub), PublicKey: pub, PrivateKey: priv}, nil
}

// DeviceID is the lowercase hex sha256 of the raw public key.
func DeviceID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// EncodePublicKey is the wire form: raw key, base64url without padding.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(pub)
}

// PublicKeyBase64URL is the identity's public key in wire form.
func (id *Identity) PublicKeyBase64URL() string { return EncodePublicKey(id.PublicKey) }

// Sign signs a payload string; the signature is base64url without padding.
func (id *Identity) Sign(payload string) string {
	return base64.RawURLEncoding.EncodeToString(ed25519.Sign(id.PrivateKey, []byte(payload)))
}

// decodeB64 accepts base64url or standard base64, padded or not.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	s = strings.TrimRight(s, "=")
	if m := len(s) % 4; m != 0 {
		s += strings.Repeat("=", 4-m)
	}
	return base64.StdEncoding.DecodeString(s)
}

// ErrInvalidPublicKey is returned for key material that is not an ed25519
// public key.
var ErrInvalidPublicKey = errors.New("identity: invalid ed25519 public key")

// ParsePublicKey accepts a PEM SPKI block or the raw 32-byte key in
// base64/base64url, padded or not.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-----BEGIN") {
		block, _ := pem.Decode([]byte(t))
		if block == nil {
			return nil, ErrInvalidPublicKey
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, ErrInvalidPublicKey
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, ErrInvalidPublicKey
		}
		return pub, nil
	}
	raw, err := decodeB64(t)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		// A base64 SPKI DER (12-byte prefix + key) is accepted too.
		if err == nil && len(raw) == 44 {
			if k, perr := x509.ParsePKIXPublicKey(raw); perr == nil {
				if pub, ok := k.(ed25519.PublicKey); ok {
					return pub, nil
				}
			}
		}
		return nil, ErrInvalidPublicKey
	}
	return ed25519.PublicKey(raw), nil
}

// NormalizePublicKey returns the canonical wire form of any accepted input.
func NormalizePublicKey(s string) (string, error) {
	pub, err := ParsePublicKey(s)
	if err != nil {
		return "", err
	}
	return EncodePublicKey(pub), nil
}

// VerifySignature checks a base64/base64url signature over payload.
func VerifySignature(pub ed25519.PublicKey, payload, signature string) bool {
	sig, err := decodeB64(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, []byte(payload), sig)
}

// PayloadFields are the values bound into a connect signature.
type PayloadFields struct {
	DeviceID, ClientID, ClientMode, Role string
	Scopes                               []string // in the order sent
	SignedAtMs                           int64
	Token, Nonce                         string
	Platform, DeviceFamily               string // v3 only
}

// NormalizeMeta trims and lower-cases ASCII A–Z only, as the reference does
// for the platform and device family of v3 payloads.
func NormalizeMeta(s string) string {
	s = strings.TrimSpace(s)
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// PayloadV2 is the legacy signed payload.
func PayloadV2(f PayloadFields) string {
	return strings.Join([]string{"v2", f.DeviceID, f.ClientID, f.ClientMode, f.Role,
		strings.Join(f.Scopes, ","), strconv.FormatInt(f.SignedAtMs, 10), f.Token, f.Nonce}, "|")
}

// PayloadV3 is the current signed payload (v2 plus platform and family).
func PayloadV3(f PayloadFields) string {
	return "v3" + PayloadV2(f)[len("v2"):] + "|" + NormalizeMeta(f.Platform) + "|" + NormalizeMeta(f.DeviceFamily)
}

// SignatureToken is the token bound into the signature: the shared token,
// else the device token, else the bootstrap token (first present wins).
func SignatureToken(a *protocol.ConnectAuth) string {
	if a == nil {
		return ""
	}
	for _, p := range []*string{a.Token, a.DeviceToken, a.BootstrapToken} {
		if p != nil {
			return *p
		}
	}
	return ""
}

// FieldsFor derives the payload fields of a connect from its params.
func FieldsFor(p *protocol.ConnectParams, deviceID string, signedAt int64, nonce string) PayloadFields {
	role := p.Role
	if role == "" {
		role = protocol.RoleOperator
	}
	return PayloadFields{
		DeviceID: deviceID, ClientID: p.Client.ID, ClientMode: p.Client.Mode, Role: role,
		Scopes: p.Scopes, SignedAtMs: signedAt, Token: SignatureToken(p.Auth), Nonce: nonce,
		Platform: p.Client.Platform, DeviceFamily: p.Client.DeviceFamily,
	}
}

// SignConnect attaches a v3 device proof to connect params, signed at the
// challenge's ts with its nonce, as the official clients do.
func (id *Identity) SignConnect(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
	f := FieldsFor(p, id.DeviceID, ch.Ts, ch.Nonce)
	p.Device = &protocol.DeviceProof{
		ID: id.DeviceID, PublicKey: id.PublicKeyBase64URL(), Signature: id.Sign(PayloadV3(f)),
		SignedAt: ch.Ts, Nonce: ch.Nonce,
	}
}

// MarshalPrivateKeyPEM encodes the private key as PKCS#8 PEM (the form the
// official clients store).
func (id *Identity) MarshalPrivateKeyPEM() (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(id.PrivateKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// ParsePrivateKeyPEM restores an identity from PKCS#8 PEM.
func ParsePrivateKeyPEM(s string) (*Identity, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("identity: no PEM block in private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: parse private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("identity: private key is not ed25519")
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &Identity{DeviceID: DeviceID(pub), PublicKey: pub, PrivateKey: priv}, nil
}
