package deviceauth_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/protocol"
)

// deviceGateway is a minimal gateway with the device rules of spec §2.3 and
// §3: it verifies device proofs, pairs a device that connects with the
// shared token (as a local gateway does silently), issues one token per
// device and role in hello-ok, accepts those tokens back, and asks unknown
// devices to pair. clienttest has no device support, and the real gateway's
// is being written, so this stands in for it here.
type deviceGateway struct {
	URL    string
	shared string

	mu     sync.Mutex
	tokens map[string]map[string]issued // deviceID -> role -> token
	seen   []string
}

type issued struct {
	token  string
	scopes []string
	at     int64
}

func newDeviceGateway(t *testing.T, shared string) *deviceGateway {
	g := &deviceGateway{shared: shared, tokens: map[string]map[string]issued{}}
	srv := httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	g.URL = "ws" + strings.TrimPrefix(srv.URL, "http")
	return g
}

// reset forgets every pairing, as if the gateway's store were wiped.
func (g *deviceGateway) reset() {
	g.mu.Lock()
	g.tokens = map[string]map[string]issued{}
	g.mu.Unlock()
}

func (g *deviceGateway) deviceIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.seen)
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (g *deviceGateway) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	defer func() { _ = ws.CloseNow() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	send := func(v any) {
		b, _ := json.Marshal(v)
		_ = ws.Write(ctx, websocket.MessageText, b)
	}
	nonce := uuid.NewString()
	send(map[string]any{"type": "event", "event": protocol.EventConnectChallenge,
		"payload": protocol.ChallengeEvent{Nonce: nonce, Ts: time.Now().UnixMilli()}})

	_, data, err := ws.Read(ctx)
	if err != nil {
		return
	}
	var req protocol.RequestFrame
	var p protocol.ConnectParams
	if json.Unmarshal(data, &req) != nil || req.Method != "connect" || json.Unmarshal(req.Params, &p) != nil {
		return
	}
	fail := func(e *protocol.Error) {
		send(map[string]any{"type": "res", "id": req.ID, "ok": false, "error": e.Shape()})
		_ = ws.Close(websocket.StatusPolicyViolation, e.Message)
	}
	hello, perr := g.admit(&p, nonce)
	if perr != nil {
		fail(perr)
		return
	}
	send(map[string]any{"type": "res", "id": req.ID, "ok": true, "payload": hello})
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return
		}
	}
}

func (g *deviceGateway) admit(p *protocol.ConnectParams, nonce string) (*protocol.HelloOk, *protocol.Error) {
	role := p.Role
	if role == "" {
		role = protocol.RoleOperator
	}
	auth := p.Auth
	if auth == nil {
		auth = &protocol.ConnectAuth{}
	}
	deviceID := ""
	if p.Device != nil {
		v, perr := identity.VerifyConnect(p, nonce, time.Now())
		if perr != nil {
			return nil, &protocol.Error{Code: protocol.CodeInvalidRequest, Message: perr.Message,
				Details: map[string]any{"code": perr.DetailCode(), "reason": perr.Reason}}
		}
		deviceID = v.DeviceID
		g.mu.Lock()
		g.seen = append(g.seen, deviceID)
		g.mu.Unlock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	method := ""
	switch {
	case auth.Token != nil && *auth.Token == g.shared:
		method = "token"
		if deviceID != "" {
			if g.tokens[deviceID] == nil {
				g.tokens[deviceID] = map[string]issued{}
			}
			if _, ok := g.tokens[deviceID][role]; !ok {
				g.tokens[deviceID][role] = issued{token: newToken(), scopes: slices.Clone(p.Scopes), at: time.Now().UnixMilli()}
			}
		}
	case auth.DeviceToken != nil && deviceID != "":
		t, ok := g.tokens[deviceID][role]
		if !ok || t.token != *auth.DeviceToken {
			return nil, &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "unauthorized: device token mismatch (rotate/reissue device token)",
				Details: map[string]any{"code": protocol.DetailAuthDeviceTokenMismatch}}
		}
		for _, s := range p.Scopes {
			if !slices.Contains(t.scopes, s) {
				return nil, &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "unauthorized: device token scope mismatch (re-pair or approve scope upgrade)",
					Details: map[string]any{"code": protocol.DetailAuthScopeMismatch}}
			}
		}
		method = "device-token"
	case deviceID != "":
		return nil, &protocol.Error{Code: protocol.CodeNotPaired, Message: "pairing required: device is not approved yet",
			Details: map[string]any{"code": protocol.DetailPairingRequired, "reason": "not-paired", "requestId": uuid.NewString(), "deviceId": deviceID}}
	default:
		return nil, &protocol.Error{Code: protocol.CodeNotPaired, Message: "device identity required",
			Details: map[string]any{"code": protocol.DetailDeviceIdentityRequired}}
	}
	h := &protocol.HelloOk{
		Type: "hello-ok", Protocol: protocol.Version,
		Server:   protocol.HelloServer{Version: protocol.CompatVersion, ConnID: uuid.NewString()},
		Snapshot: protocol.Snapshot{Presence: []protocol.PresenceEntry{}, Health: json.RawMessage(`{}`)},
		Auth:     protocol.HelloAuth{Method: method, Role: role, Scopes: p.Scopes},
		Policy:   protocol.HelloPolicy{MaxPayload: protocol.MaxPayloadBytes, MaxBufferedBytes: protocol.MaxBufferedBytes, TickIntervalMs: protocol.TickIntervalMs},
	}
	if deviceID != "" {
		t := g.tokens[deviceID][role]
		h.Auth.DeviceToken, h.Auth.IssuedAtMs, h.Auth.Scopes = t.token, t.at, t.scopes
		// A handoff token for another role, to exercise deviceTokens.
		h.Auth.DeviceTokens = []protocol.IssuedDeviceToken{{DeviceToken: "node-" + t.token, Role: protocol.RoleNode, Scopes: []string{}, IssuedAtMs: t.at}}
	}
	return h, nil
}
