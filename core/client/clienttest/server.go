// Package clienttest is a tiny in-process gateway for tests of protocol
// clients: it speaks the handshake (connect.challenge → connect → hello-ok),
// checks a shared secret, records exactly what each client sent, and answers
// the methods a test registers. It is not the gateway; it only has what
// client tests need.
package clienttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/protocol"
)

// Handler answers one request. A returned *protocol.Error becomes an error
// res; any other error becomes UNAVAILABLE. Handlers run concurrently.
type Handler func(req *Request) (any, error)

// Request is one request a client sent after hello.
type Request struct {
	ID     string
	Method string
	Params json.RawMessage // nil when the client omitted params
	Frame  json.RawMessage // the whole req frame as sent
	Conn   *Conn
}

// Ack sends an interim res {"status":"accepted",…} on the request's id, as
// two-phase methods (agent) do before their final result.
func (r *Request) Ack(payload any) error {
	return r.Conn.respond(r.ID, payload, nil)
}

// Config shapes the fake gateway.
type Config struct {
	// Token / Password, when set, must match connect auth.token /
	// auth.password (the first set one is checked); otherwise auth is "none".
	Token, Password string
	// TickIntervalMs is hello-ok policy.tickIntervalMs (default 30000).
	TickIntervalMs int64
	// Tick, when > 0, sends a tick event at this interval after hello.
	Tick time.Duration
	// NoChallenge suppresses connect.challenge.
	NoChallenge bool
	// Challenge, when set, replaces the challenge payload.
	Challenge func() any
	// Methods answered after hello; others get "unknown method".
	Methods map[string]Handler
	// OnHello runs after hello-ok was sent on a connection.
	OnHello func(c *Conn)
	// RefuseUpgrade, when it returns a non-zero HTTP status for the n-th
	// upgrade attempt (1-based), refuses that attempt with the status.
	RefuseUpgrade func(attempt int) int
}

// Connect is one connect request as the server received it.
type Connect struct {
	Frame  json.RawMessage // the whole req frame
	Params json.RawMessage // params exactly as sent
	Parsed protocol.ConnectParams
	Header http.Header // upgrade request headers
}

// Server is a running fake gateway.
type Server struct {
	URL  string // ws://127.0.0.1:port
	HTTP *httptest.Server

	cfg    Config
	connCh chan *Conn

	mu       sync.Mutex
	conns    []*Conn
	connects []Connect
	attempts []time.Time
	sockets  []*Conn
}

// NewServer starts a fake gateway; it stops when the test ends.
func NewServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.TickIntervalMs == 0 {
		cfg.TickIntervalMs = protocol.TickIntervalMs
	}
	s := &Server{cfg: cfg, connCh: make(chan *Conn, 64)}
	s.HTTP = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = "ws" + strings.TrimPrefix(s.HTTP.URL, "http")
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.mu.Lock()
	conns := append([]*Conn(nil), s.sockets...)
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.CloseNow()
	}
	s.HTTP.CloseClientConnections()
	s.HTTP.Close()
}

// Connects returns every connect request received so far.
func (s *Server) Connects() []Connect {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Connect(nil), s.connects...)
}

// Sockets returns every accepted WebSocket, including those that never
// completed hello, oldest first.
func (s *Server) Sockets() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Conn(nil), s.sockets...)
}

// Attempts returns the time of every upgrade request, refused or not.
func (s *Server) Attempts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.attempts...)
}

// Conns returns every connection that completed hello, oldest first.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Conn(nil), s.conns...)
}

// NextConn waits for the next connection to complete hello.
func (s *Server) NextConn(ctx context.Context) (*Conn, error) {
	select {
	case c := <-s.connCh:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WaitConn is NextConn for tests: it fails the test after timeout.
func (s *Server) WaitConn(t testing.TB, timeout time.Duration) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.NextConn(ctx)
	if err != nil {
		t.Fatalf("clienttest: no connection completed hello within %s", timeout)
	}
	return c
}

// Broadcast sends an event with the next seq to every connection.
func (s *Server) Broadcast(event string, payload any) {
	for _, c := range s.Conns() {
		_ = c.Event(event, payload)
	}
}

// Conn is one client connection on the fake gateway.
type Conn struct {
	Header http.Header
	Params protocol.ConnectParams // after hello

	srv  *Server
	ws   *websocket.Conn
	done chan struct{}

	mu          sync.Mutex
	seq         int64
	closeCode   int
	closeReason string
}

// Event sends an event carrying the connection's next seq.
func (c *Conn) Event(event string, payload any) error {
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	return c.EventSeq(event, payload, seq)
}

// EventSeq sends an event with an explicit seq (0: none) without touching
// the counter; use SkipSeq to simulate dropped events.
func (c *Conn) EventSeq(event string, payload any, seq int64) error {
	f := map[string]any{"type": "event", "event": event}
	if payload != nil {
		f["payload"] = payload
	}
	if seq > 0 {
		f["seq"] = seq
	}
	return c.Send(f)
}

// SkipSeq consumes n seq numbers, as the gateway does when it drops events
// for a slow consumer.
func (c *Conn) SkipSeq(n int64) {
	c.mu.Lock()
	c.seq += n
	c.mu.Unlock()
}

// Send writes any value as one JSON text frame.
func (c *Conn) Send(frame any) error {
	b, err := json.Marshal(frame)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// SendRaw writes one text frame as is.
func (c *Conn) SendRaw(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// Close closes the connection with a code and reason.
func (c *Conn) Close(code int, reason string) {
	_ = c.ws.Close(websocket.StatusCode(code), reason)
}

// Drop cuts the connection without a close handshake.
func (c *Conn) Drop() { _ = c.ws.CloseNow() }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseStatus is the close code and reason the client sent (-1 if it sent
// none); valid once Done is closed.
func (c *Conn) CloseStatus() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeReason
}

func (c *Conn) respond(id string, payload any, perr *protocol.Error) error {
	res := map[string]any{"type": "res", "id": id, "ok": perr == nil}
	if payload != nil {
		res["payload"] = payload
	}
	if perr != nil {
		res["error"] = perr.Shape()
	}
	return c.Send(res)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.attempts = append(s.attempts, time.Now())
	attempt := len(s.attempts)
	s.mu.Unlock()
	if s.cfg.RefuseUpgrade != nil {
		if status := s.cfg.RefuseUpgrade(attempt); status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	ws.SetReadLimit(protocol.MaxPayloadBytes)
	c := &Conn{Header: r.Header.Clone(), srv: s, ws: ws, done: make(chan struct{}), closeCode: -1}
	s.mu.Lock()
	s.sockets = append(s.sockets, c)
	s.mu.Unlock()
	defer close(c.done)
	defer func() { _ = ws.CloseNow() }()

	nonce := uuid.NewString()
	if !s.cfg.NoChallenge {
		var payload any = protocol.ChallengeEvent{Nonce: nonce, Ts: time.Now().UnixMilli(), Capabilities: []string{"model-catalog-snapshot"}}
		if s.cfg.Challenge != nil {
			payload = s.cfg.Challenge()
		}
		_ = c.Send(map[string]any{"type": "event", "event": protocol.EventConnectChallenge, "payload": payload})
	}

	helloDone := false
	stopTick := make(chan struct{})
	defer close(stopTick)
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				c.mu.Lock()
				c.closeCode, c.closeReason = int(ce.Code), ce.Reason
				c.mu.Unlock()
			}
			return
		}
		var req protocol.RequestFrame
		if err := json.Unmarshal(data, &req); err != nil || req.Type != protocol.FrameReq {
			if !helloDone {
				c.Close(int(websocket.StatusPolicyViolation), "invalid request frame")
				return
			}
			continue
		}
		if !helloDone {
			if req.Method != "connect" {
				_ = c.respond(req.ID, nil, protocol.InvalidRequest("invalid handshake: first request must be connect"))
				c.Close(int(websocket.StatusPolicyViolation), "invalid handshake: first request must be connect")
				return
			}
			if !s.handleConnect(c, &req, data, r.Header) {
				return
			}
			helloDone = true
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			if s.cfg.Tick > 0 {
				go c.tick(s.cfg.Tick, stopTick)
			}
			if s.cfg.OnHello != nil {
				s.cfg.OnHello(c)
			}
			select {
			case s.connCh <- c:
			default:
			}
			continue
		}
		go s.dispatch(c, &req, data)
	}
}

func (c *Conn) tick(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			_ = c.Event(protocol.EventTick, protocol.TickEvent{Ts: time.Now().UnixMilli()})
		}
	}
}

func (s *Server) handleConnect(c *Conn, req *protocol.RequestFrame, frame []byte, header http.Header) bool {
	var p protocol.ConnectParams
	_ = json.Unmarshal(req.Params, &p)
	s.mu.Lock()
	s.connects = append(s.connects, Connect{
		Frame:  append(json.RawMessage(nil), frame...),
		Params: append(json.RawMessage(nil), req.Params...),
		Parsed: p,
		Header: header.Clone(),
	})
	s.mu.Unlock()

	fail := func(e *protocol.Error, code websocket.StatusCode) bool {
		_ = c.respond(req.ID, nil, e)
		reason := e.Message
		if len(reason) > 123 {
			reason = reason[:123]
		}
		c.Close(int(code), reason)
		return false
	}
	if p.MinProtocol > protocol.Version || p.MaxProtocol < protocol.Version {
		return fail(&protocol.Error{Code: protocol.CodeInvalidRequest, Message: "protocol mismatch", Details: map[string]any{
			"code": protocol.DetailProtocolMismatch, "clientMinProtocol": p.MinProtocol, "clientMaxProtocol": p.MaxProtocol,
			"expectedProtocol": protocol.Version, "minimumProbeProtocol": protocol.MinProbeProtocol,
		}}, websocket.StatusProtocolError)
	}
	method := "none"
	switch {
	case s.cfg.Token != "":
		method = "token"
		if p.Auth == nil || p.Auth.Token == nil || *p.Auth.Token == "" {
			return fail(authError("unauthorized: gateway token missing (set gateway.auth.token or pass --token)", protocol.DetailAuthTokenMissing, "token_missing"), websocket.StatusPolicyViolation)
		}
		if *p.Auth.Token != s.cfg.Token {
			return fail(authError("unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)", protocol.DetailAuthTokenMismatch, "token_mismatch"), websocket.StatusPolicyViolation)
		}
	case s.cfg.Password != "":
		method = "password"
		if p.Auth == nil || p.Auth.Password == nil || *p.Auth.Password == "" {
			return fail(authError("unauthorized: gateway password missing", protocol.DetailAuthPasswordMissing, "password_missing"), websocket.StatusPolicyViolation)
		}
		if *p.Auth.Password != s.cfg.Password {
			return fail(authError("unauthorized: gateway password mismatch", protocol.DetailAuthPasswordMismatch, "password_mismatch"), websocket.StatusPolicyViolation)
		}
	}
	c.Params = p
	role := p.Role
	if role == "" {
		role = protocol.RoleOperator
	}
	scopes := p.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	methods := make([]string, 0, len(s.cfg.Methods))
	for m := range s.cfg.Methods {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	hello := protocol.HelloOk{
		Type:     "hello-ok",
		Protocol: protocol.Version,
		Server:   protocol.HelloServer{Version: protocol.CompatVersion, ConnID: uuid.NewString()},
		Features: protocol.HelloFeatures{Methods: methods, Events: []string{protocol.EventConnectChallenge, protocol.EventTick, protocol.EventHealth, protocol.EventPresence}},
		Snapshot: protocol.Snapshot{
			Presence:     []protocol.PresenceEntry{},
			Health:       json.RawMessage(`{"ok":true,"ts":0}`),
			StateVersion: protocol.StateVersion{},
			UptimeMs:     1234,
		},
		Auth:   protocol.HelloAuth{Method: method, Role: role, Scopes: scopes},
		Policy: protocol.HelloPolicy{MaxPayload: protocol.MaxPayloadBytes, MaxBufferedBytes: protocol.MaxBufferedBytes, TickIntervalMs: s.cfg.TickIntervalMs},
	}
	return c.respond(req.ID, hello, nil) == nil
}

func authError(msg, code, reason string) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeInvalidRequest, Message: msg, Details: map[string]any{
		"code": code, "authReason": reason, "canRetryWithDeviceToken": false, "recommendedNextStep": "update_auth_credentials",
	}}
}

func (s *Server) dispatch(c *Conn, req *protocol.RequestFrame, frame []byte) {
	h := s.cfg.Methods[req.Method]
	if h == nil {
		_ = c.respond(req.ID, nil, protocol.UnknownMethod(req.Method))
		return
	}
	payload, err := h(&Request{ID: req.ID, Method: req.Method, Params: req.Params, Frame: append(json.RawMessage(nil), frame...), Conn: c})
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			pe = protocol.Unavailable(fmt.Sprint(err), 0)
		}
		_ = c.respond(req.ID, nil, pe)
		return
	}
	_ = c.respond(req.ID, payload, nil)
}
