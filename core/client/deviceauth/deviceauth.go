// Package deviceauth is a client's device identity and device-token cache
// (spec §3.4, §3.6): one ed25519 key per client install, and the tokens
// gateways issue in hello-ok, kept per gateway origin and role like the
// official clients do. Attach wires both into client.Options: the connect is
// signed with the identity, a stored token is offered when there is no
// shared secret, and a token from hello-ok is saved for the next connect.
package deviceauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/secrets"
)

// Keys in the secret store.
const (
	// IdentityKey holds the device private key, PKCS#8 PEM.
	IdentityKey = "device.identity"
	// tokenKeyPrefix + origin + "|" + role holds a tokenRecord as JSON.
	tokenKeyPrefix = "device.token|"
)

// Token is a device token a gateway issued for this device and a role.
type Token struct {
	Value      string
	Scopes     []string
	IssuedAtMs int64
}

// tokenRecord is the stored form. The device id ties the token to the key
// it was issued to: after the identity is replaced, old tokens are useless.
type tokenRecord struct {
	DeviceID    string   `json:"deviceId"`
	Origin      string   `json:"origin"`
	Role        string   `json:"role"`
	Token       string   `json:"token"`
	Scopes      []string `json:"scopes"`
	IssuedAtMs  int64    `json:"issuedAtMs,omitempty"`
	UpdatedAtMs int64    `json:"updatedAtMs"`
}

// Keyring is the device identity and token cache over a secrets.Store. It is
// safe for concurrent use; the identity is read once and kept.
type Keyring struct {
	store secrets.Store

	// OnError, when set, receives failures to save a token from hello-ok
	// (OnHello cannot return them). Without it they are logged at Warn on
	// the options' Logger.
	OnError func(error)

	mu sync.Mutex
	id *identity.Identity
}

// New returns a Keyring over store.
func New(store secrets.Store) *Keyring { return &Keyring{store: store} }

// Identity returns the device identity, creating and storing one on first
// use. A stored key that cannot be parsed is an error, never silently
// replaced: the gateway knows this device by that key.
func (k *Keyring) Identity() (*identity.Identity, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.id != nil {
		return k.id, nil
	}
	pemText, err := k.store.Get(IdentityKey)
	switch {
	case err == nil:
		id, perr := identity.ParsePrivateKeyPEM(pemText)
		if perr != nil {
			return nil, fmt.Errorf("deviceauth: the stored device key (%s in the %s store) is unreadable; delete it to create a new identity (the device must then be paired again): %w",
				IdentityKey, k.store.Backend(), perr)
		}
		k.id = id
		return id, nil
	case !errors.Is(err, secrets.ErrNotFound):
		return nil, fmt.Errorf("deviceauth: read the device key: %w", err)
	}
	id, err := identity.Generate()
	if err != nil {
		return nil, err
	}
	pemText, err = id.MarshalPrivateKeyPEM()
	if err != nil {
		return nil, fmt.Errorf("deviceauth: encode the device key: %w", err)
	}
	if err := k.store.Set(IdentityKey, pemText); err != nil {
		return nil, fmt.Errorf("deviceauth: store the device key: %w", err)
	}
	// Another process may have created one at the same moment; whichever
	// landed is the identity of this install.
	if back, err := k.store.Get(IdentityKey); err == nil && back != pemText {
		if other, perr := identity.ParsePrivateKeyPEM(back); perr == nil {
			id = other
		}
	}
	k.id = id
	return id, nil
}

// Origin normalises a gateway URL to the key its tokens are stored under:
// scheme ws or wss (http → ws, https → wss), lower-cased host, explicit port
// (80/443 filled in), no path. A bare host:port is taken as ws. It returns
// "" for a URL it cannot parse.
func Origin(gatewayURL string) string {
	s := strings.TrimSpace(gatewayURL)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	var scheme, port string
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
		scheme, port = "ws", "80"
	case "wss", "https":
		scheme, port = "wss", "443"
	default:
		return ""
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return ""
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return ""
		}
		port = p
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func effectiveRole(role string) string {
	if role == "" {
		return protocol.RoleOperator
	}
	return role
}

func tokenKey(origin, role string) string {
	return tokenKeyPrefix + origin + "|" + role
}

// Token returns the stored token for a gateway and role, if there is one
// issued to the current identity.
func (k *Keyring) Token(gatewayURL, role string) (Token, bool) {
	origin := Origin(gatewayURL)
	if origin == "" {
		return Token{}, false
	}
	raw, err := k.store.Get(tokenKey(origin, effectiveRole(role)))
	if err != nil {
		return Token{}, false
	}
	var rec tokenRecord
	if json.Unmarshal([]byte(raw), &rec) != nil || rec.Token == "" {
		return Token{}, false
	}
	id, err := k.Identity()
	if err != nil || rec.DeviceID != id.DeviceID {
		return Token{}, false
	}
	return Token{Value: rec.Token, Scopes: slices.Clone(rec.Scopes), IssuedAtMs: rec.IssuedAtMs}, true
}

// SaveToken stores a token for a gateway and role, bound to the current
// identity. Saving what is already stored writes nothing.
func (k *Keyring) SaveToken(gatewayURL, role string, t Token) error {
	origin := Origin(gatewayURL)
	if origin == "" {
		return fmt.Errorf("deviceauth: invalid gateway URL %q", gatewayURL)
	}
	if t.Value == "" {
		return errors.New("deviceauth: empty device token")
	}
	id, err := k.Identity()
	if err != nil {
		return err
	}
	role = effectiveRole(role)
	if old, ok := k.Token(gatewayURL, role); ok && old.Value == t.Value && slices.Equal(old.Scopes, t.Scopes) && old.IssuedAtMs == t.IssuedAtMs {
		return nil
	}
	scopes := slices.Clone(t.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	b, err := json.Marshal(tokenRecord{
		DeviceID: id.DeviceID, Origin: origin, Role: role, Token: t.Value, Scopes: scopes,
		IssuedAtMs: t.IssuedAtMs, UpdatedAtMs: time.Now().UnixMilli(),
	})
	if err != nil {
		return err
	}
	if err := k.store.Set(tokenKey(origin, role), string(b)); err != nil {
		return fmt.Errorf("deviceauth: save the device token: %w", err)
	}
	return nil
}

// ForgetToken removes the stored token for a gateway and role.
func (k *Keyring) ForgetToken(gatewayURL, role string) error {
	origin := Origin(gatewayURL)
	if origin == "" {
		return fmt.Errorf("deviceauth: invalid gateway URL %q", gatewayURL)
	}
	if err := k.store.Delete(tokenKey(origin, effectiveRole(role))); err != nil {
		return fmt.Errorf("deviceauth: forget the device token: %w", err)
	}
	return nil
}

// Attach returns opt with the device identity wired in:
//
//   - ConnectParamsHook (after any hook opt already had) offers the stored
//     device token for (origin, role) in auth.deviceToken when the connect
//     carries no shared token, password, device or bootstrap token; with
//     useStoredScopes it also requests the token's scopes. It then signs the
//     connect (v3). Auth is settled before signing because the signature
//     binds the token (identity.SignatureToken). The token is looked up at
//     every connect, so a client.Session picks up a token saved or
//     forgotten since the last one.
//   - OnHello saves hello-ok's deviceToken (and a bootstrap handoff's
//     deviceTokens) for the origin, then calls any OnHello opt already had.
//
// The identity is loaded (or created) now, so a broken store fails here
// rather than inside the handshake.
func (k *Keyring) Attach(opt client.Options, useStoredScopes bool) (client.Options, error) {
	id, err := k.Identity()
	if err != nil {
		return opt, err
	}
	gatewayURL := opt.URL
	if gatewayURL == "" {
		gatewayURL = client.DefaultURL
	}
	if Origin(gatewayURL) == "" {
		return opt, fmt.Errorf("deviceauth: invalid gateway URL %q", gatewayURL)
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	prevHook := opt.ConnectParamsHook
	opt.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
		if prevHook != nil {
			prevHook(p, ch)
		}
		if !hasCredential(p.Auth) {
			if t, ok := k.Token(gatewayURL, p.Role); ok {
				if p.Auth == nil {
					p.Auth = &protocol.ConnectAuth{}
				}
				v := t.Value
				p.Auth.DeviceToken = &v
				if useStoredScopes && t.Scopes != nil {
					p.Scopes = slices.Clone(t.Scopes)
				}
			}
		}
		id.SignConnect(p, ch)
	}

	requestedRole := effectiveRole(opt.Role)
	prevHello := opt.OnHello
	opt.OnHello = func(h *protocol.HelloOk) {
		if err := k.saveHello(gatewayURL, requestedRole, h); err != nil {
			if k.OnError != nil {
				k.OnError(err)
			} else {
				logger.Warn("could not save the device token", "err", err)
			}
		}
		if prevHello != nil {
			prevHello(h)
		}
	}
	return opt, nil
}

// hasCredential reports whether the caller already chose how the connect
// authenticates.
func hasCredential(a *protocol.ConnectAuth) bool {
	if a == nil {
		return false
	}
	for _, p := range []*string{a.Token, a.Password, a.DeviceToken, a.BootstrapToken} {
		if p != nil && *p != "" {
			return true
		}
	}
	return false
}

func (k *Keyring) saveHello(gatewayURL, requestedRole string, h *protocol.HelloOk) error {
	var errs []error
	if h.Auth.DeviceToken != "" {
		role := h.Auth.Role
		if role == "" {
			role = requestedRole
		}
		errs = append(errs, k.SaveToken(gatewayURL, role, Token{Value: h.Auth.DeviceToken, Scopes: h.Auth.Scopes, IssuedAtMs: h.Auth.IssuedAtMs}))
	}
	for _, t := range h.Auth.DeviceTokens {
		if t.DeviceToken == "" || t.Role == "" {
			continue
		}
		errs = append(errs, k.SaveToken(gatewayURL, t.Role, Token{Value: t.DeviceToken, Scopes: t.Scopes, IssuedAtMs: t.IssuedAtMs}))
	}
	return errors.Join(errs...)
}

// HandleConnectError looks at an error from client.Dial (or a Session) and,
// when the gateway rejected the stored device token
// (AUTH_DEVICE_TOKEN_MISMATCH: revoked, rotated, or the gateway's pairing
// store was reset), forgets it so the next attempt connects without it. It
// reports whether it forgot one, i.e. whether retrying can go differently.
func (k *Keyring) HandleConnectError(gatewayURL, role string, err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.DetailCode() != protocol.DetailAuthDeviceTokenMismatch {
		return false
	}
	if _, ok := k.Token(gatewayURL, role); !ok {
		return false
	}
	return k.ForgetToken(gatewayURL, role) == nil
}
