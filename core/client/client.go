// Package client is the Go client of the OpenClaw Gateway protocol v4: it
// dials a gateway, answers the connect challenge, keeps any number of
// requests in flight, delivers events in order with per-socket seq-gap
// detection, and watches the tick. Session adds reconnection with backoff.
// The CLI, the node host, the app and the tests all use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/protocol"
)

// Close codes the client itself uses (spec §1.6).
const (
	CloseTickTimeout    = 4000 // "tick timeout", "connect timeout"
	closeAbnormal       = 1006 // reported when the socket dropped without a close frame
	closeGrace          = 2 * time.Second
	writeTimeout        = 10 * time.Second
	reasonTickTimeout   = "tick timeout"
	reasonChallengeWait = "connect challenge timeout"
	reasonConnectWait   = "connect timeout"
)

// ErrClosed is the error of a connection the caller closed with Close.
var ErrClosed = errors.New("client: connection closed")

// ErrTimeout is wrapped by the error of a request that got no response in
// time.
var ErrTimeout = errors.New("request timed out")

// CloseError reports how the connection ended: the close code and reason
// the gateway sent, the ones the client sent itself (4000 "tick timeout",
// 1008 "connect challenge timeout"), or 1006 when the socket dropped without
// a close frame.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("gateway connection closed (%d)", e.Code)
	}
	return fmt.Sprintf("gateway connection closed (%d %s)", e.Code, e.Reason)
}

// UpgradeError is a WebSocket upgrade the server refused with an HTTP
// response (403 proxy attribution, 503 too many unauthenticated sockets …).
type UpgradeError struct {
	StatusCode int
	Body       string // at most the first KiB
	Err        error
}

func (e *UpgradeError) Error() string {
	msg := fmt.Sprintf("gateway refused the WebSocket upgrade: HTTP %d", e.StatusCode)
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + b
	}
	return msg
}

func (e *UpgradeError) Unwrap() error { return e.Err }

// CallOptions tune one request.
type CallOptions struct {
	// ExpectFinal treats a payload with status "accepted" as an interim ack
	// and keeps waiting for the final res on the same id (agent, two-phase
	// approvals).
	ExpectFinal bool
	// Timeout overrides Options.RequestTimeout; negative: no timeout besides
	// the context.
	Timeout time.Duration
	// OnAccepted receives the interim payload (on the read loop).
	OnAccepted func(json.RawMessage)
}

// Client is one authenticated connection to a gateway. Its methods are safe
// for concurrent use.
type Client struct {
	opt  Options
	log  *slog.Logger
	conn *websocket.Conn
	raw  *rawConn

	nextID     atomic.Int64
	hello      atomic.Pointer[protocol.HelloOk]
	helloDone  atomic.Bool
	maxPayload atomic.Int64
	lastSeq    atomic.Int64
	lastFrame  atomic.Int64 // unix nanos of the last inbound frame

	challenge chan json.RawMessage // the first connect.challenge payload

	mu      sync.Mutex
	pending map[string]*pendingCall
	err     error // why the connection ended; set once

	done chan struct{}
}

type pendingCall struct {
	ch          chan callResult // buffered 1
	expectFinal bool
	onAccepted  func(json.RawMessage)
	onFinal     func(*protocol.ResponseFrame) // runs on the read loop before delivery
}

type callResult struct {
	payload json.RawMessage
	err     error
}

// rawConn remembers the TCP connection under the WebSocket so a close
// handshake with a dead peer can be cut short.
type rawConn struct {
	mu   sync.Mutex
	conn net.Conn
}

func (r *rawConn) set(c net.Conn) {
	r.mu.Lock()
	r.conn = c
	r.mu.Unlock()
}

func (r *rawConn) close() {
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// Dial opens one connection: WebSocket upgrade without compression, wait for
// connect.challenge, send connect built from opt, wait for hello-ok. A
// refused connect returns the gateway's *protocol.Error (Details decoded as
// map[string]any); a socket closed during the handshake returns *CloseError.
func Dial(ctx context.Context, opt Options) (*Client, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	raw := &rawConn{}
	dialer := &net.Dialer{Timeout: opt.RequestTimeout, KeepAlive: 30 * time.Second}
	httpClient := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err == nil {
				raw.set(c)
			}
			return c, err
		},
		TLSHandshakeTimeout: opt.RequestTimeout,
	}}
	upgradeCtx, cancel := context.WithTimeout(ctx, opt.RequestTimeout)
	conn, resp, err := websocket.Dial(upgradeCtx, opt.URL, &websocket.DialOptions{
		HTTPClient:      httpClient,
		HTTPHeader:      opt.Header.Clone(),
		CompressionMode: websocket.CompressionDisabled,
	})
	cancel()
	if err != nil {
		// A refused upgrade leaves a kept-alive connection in this
		// one-off transport's pool.
		httpClient.CloseIdleConnections()
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			return nil, &UpgradeError{StatusCode: resp.StatusCode, Body: string(body), Err: err}
		}
		return nil, fmt.Errorf("client: cannot connect to %s: %w", opt.URL, err)
	}
	// The official client accepts 25 MiB for the whole connection; hello-ok
	// alone can exceed the library's 32 KiB default.
	conn.SetReadLimit(protocol.MaxPayloadBytes)

	c := &Client{
		opt:       opt,
		log:       opt.Logger.With("gateway", opt.URL),
		conn:      conn,
		raw:       raw,
		pending:   make(map[string]*pendingCall),
		challenge: make(chan json.RawMessage, 1),
		done:      make(chan struct{}),
	}
	c.lastFrame.Store(time.Now().UnixNano())
	go c.readLoop()

	if err := c.handshake(ctx); err != nil {
		return nil, err
	}
	c.startWatchdog()
	return c, nil
}

func (c *Client) handshake(ctx context.Context) error {
	timer := time.NewTimer(c.opt.ChallengeTimeout)
	defer timer.Stop()
	var payload json.RawMessage
	select {
	case payload = <-c.challenge:
	case <-timer.C:
		err := &CloseError{Code: int(websocket.StatusPolicyViolation), Reason: reasonChallengeWait}
		c.shutdown(err, websocket.StatusPolicyViolation, reasonChallengeWait)
		return err
	case <-c.done:
		return c.Err()
	case <-ctx.Done():
		c.shutdown(ctx.Err(), CloseTickTimeout, reasonConnectWait)
		return fmt.Errorf("client: connect to %s: %w", c.opt.URL, ctx.Err())
	}

	challenge, err := parseChallenge(payload)
	if err != nil {
		c.shutdown(err, websocket.StatusPolicyViolation, "invalid connect challenge")
		return err
	}

	params := c.opt.connectParams()
	if c.opt.ConnectParamsHook != nil {
		c.opt.ConnectParamsHook(&params, challenge)
	}
	rawParams, err := marshalConnectParams(&params)
	if err != nil {
		c.shutdown(err, websocket.StatusInternalError, "")
		return fmt.Errorf("client: encode connect params: %w", err)
	}

	var hello *protocol.HelloOk
	var helloErr error
	onFinal := func(res *protocol.ResponseFrame) {
		if !res.OK {
			return
		}
		h := new(protocol.HelloOk)
		if err := json.Unmarshal(res.Payload, h); err != nil {
			helloErr = fmt.Errorf("client: decode hello-ok: %w", err)
			return
		}
		// Runs on the read loop, so hello is in place and OnHello has run
		// before any event that followed hello-ok is delivered.
		hello = h
		c.hello.Store(h)
		if h.Policy.MaxPayload > 0 {
			c.maxPayload.Store(h.Policy.MaxPayload)
		}
		c.lastFrame.Store(time.Now().UnixNano())
		c.helloDone.Store(true)
		if c.opt.OnHello != nil {
			c.opt.OnHello(h)
		}
	}
	_, err = c.call(ctx, "connect", rawParams, CallOptions{}, onFinal)
	if err == nil && helloErr != nil {
		err = helloErr
	}
	if err != nil {
		var pe *protocol.Error
		var ce *CloseError
		switch {
		case errors.As(err, &ce):
			// The socket is already gone.
		case errors.As(err, &pe):
			// The gateway closes right after the error res; close our side
			// too without waiting for it.
			c.shutdown(err, websocket.StatusNormalClosure, "")
		case errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			c.shutdown(err, CloseTickTimeout, reasonConnectWait)
		default:
			c.shutdown(err, websocket.StatusNormalClosure, "")
		}
		return err
	}
	if hello == nil {
		err := errors.New("client: connect returned no hello-ok")
		c.shutdown(err, websocket.StatusNormalClosure, "")
		return err
	}
	return nil
}

// parseChallenge requires a non-empty nonce and a non-negative integer ts,
// as the official clients do.
func parseChallenge(payload json.RawMessage) (protocol.ChallengeEvent, error) {
	var raw struct {
		Nonce        string          `json:"nonce"`
		Ts           json.RawMessage `json:"ts"`
		Capabilities []string        `json:"capabilities"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return protocol.ChallengeEvent{}, fmt.Errorf("client: invalid connect challenge: %w", err)
	}
	if strings.TrimSpace(raw.Nonce) == "" {
		return protocol.ChallengeEvent{}, errors.New("client: invalid connect challenge: missing nonce")
	}
	ts, err := strconv.ParseInt(string(raw.Ts), 10, 64)
	if err != nil || ts < 0 {
		return protocol.ChallengeEvent{}, errors.New("client: invalid connect challenge: ts is not a non-negative integer")
	}
	return protocol.ChallengeEvent{Nonce: raw.Nonce, Ts: ts, Capabilities: raw.Capabilities}, nil
}

// Hello returns the hello-ok of this connection.
func (c *Client) Hello() *protocol.HelloOk { return c.hello.Load() }

// LastSeq returns the seq of the last event received on this socket (0 before
// the first).
func (c *Client) LastSeq() int64 { return c.lastSeq.Load() }

// Done is closed when the connection has ended and OnDisconnect has run.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err reports why the connection ended (nil while it is open): a
// *CloseError, ErrClosed after Close, or another error.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection normally (1000). Pending calls fail with
// ErrClosed.
func (c *Client) Close() error {
	if !c.finish(ErrClosed) {
		return nil
	}
	t := time.AfterFunc(closeGrace, c.raw.close)
	defer t.Stop()
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
	return nil
}

// Call sends a request and decodes the final payload into out (which may
// be nil). An ok:false res returns *protocol.Error.
func (c *Client) Call(ctx context.Context, method string, params any, out any) error {
	payload, err := c.CallRaw(ctx, method, params, CallOptions{})
	if err != nil {
		return err
	}
	if out != nil && len(payload) > 0 {
		if err := json.Unmarshal(payload, out); err != nil {
			return fmt.Errorf("client: decode %s result: %w", method, err)
		}
	}
	return nil
}

// CallRaw sends a request and returns the raw final payload. params nil
// omits "params". On an ok:false res the error is *protocol.Error and the
// payload, if the res carried one (agent runs do), is returned with it.
func (c *Client) CallRaw(ctx context.Context, method string, params any, opt CallOptions) (json.RawMessage, error) {
	if method == "" {
		return nil, errors.New("client: empty method")
	}
	if method == "connect" {
		return nil, errors.New("client: connect is only valid as the first request")
	}
	raw, err := encodeParams(params)
	if err != nil {
		return nil, fmt.Errorf("client: encode %s params: %w", method, err)
	}
	return c.call(ctx, method, raw, opt, nil)
}

func encodeParams(params any) (json.RawMessage, error) {
	if params == nil {
		return nil, nil
	}
	var b []byte
	switch p := params.(type) {
	case json.RawMessage:
		b = p
	case []byte:
		b = p
	default:
		var err error
		if b, err = json.Marshal(params); err != nil {
			return nil, err
		}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, errors.New("params are not valid JSON")
	}
	return b, nil
}

func (c *Client) call(ctx context.Context, method string, params json.RawMessage, opt CallOptions, onFinal func(*protocol.ResponseFrame)) (json.RawMessage, error) {
	id := strconv.FormatInt(c.nextID.Add(1), 10) + ":" + uuid.NewString()
	frame, err := json.Marshal(protocol.RequestFrame{Type: protocol.FrameReq, ID: id, Method: method, Params: params})
	if err != nil {
		return nil, err
	}
	if limit := c.maxPayload.Load(); limit > 0 && int64(len(frame)) > limit {
		return nil, fmt.Errorf("client: %s request is %d bytes, over the gateway's %d byte limit", method, len(frame), limit)
	}

	p := &pendingCall{ch: make(chan callResult, 1), expectFinal: opt.ExpectFinal, onAccepted: opt.OnAccepted, onFinal: onFinal}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.pending[id] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, id)
		}
		c.mu.Unlock()
	}()

	timeout := opt.Timeout
	if timeout == 0 {
		timeout = c.opt.RequestTimeout
	}
	var timeoutC <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timeoutC = t.C
	}

	c.log.Debug("send", "id", id, "method", method)
	if err := c.write(frame); err != nil {
		if cerr := c.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("client: send %s: %w", method, err)
	}

	select {
	case r := <-p.ch:
		return r.payload, r.err
	case <-timeoutC:
		return nil, fmt.Errorf("client: %s: %w after %s", method, ErrTimeout, timeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("client: %s: %w", method, ctx.Err())
	}
}

// write sends one text frame. A cancelled write context closes the
// connection in the WebSocket library, so callers' contexts are not used.
func (c *Client) write(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// finish records why the connection ended and fails every pending call. It
// reports whether this call was the first.
func (c *Client) finish(err error) bool {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return false
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range pending {
		p.ch <- callResult{err: err}
	}
	return true
}

func (c *Client) finished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil
}

// shutdown ends the connection with err and closes the socket with code in
// the background; the TCP connection is cut if the peer does not complete
// the close handshake within closeGrace.
func (c *Client) shutdown(err error, code websocket.StatusCode, reason string) {
	if !c.finish(err) {
		return
	}
	go func() {
		t := time.AfterFunc(closeGrace, c.raw.close)
		defer t.Stop()
		_ = c.conn.Close(code, reason)
	}()
}

func (c *Client) readLoop() {
	for {
		typ, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.finish(readError(err))
			break
		}
		c.lastFrame.Store(time.Now().UnixNano())
		if c.finished() {
			continue // drain until the close handshake completes
		}
		if typ != websocket.MessageText {
			c.log.Debug("ignoring binary frame", "bytes", len(data))
			continue
		}
		c.handleFrame(data)
	}
	_ = c.conn.CloseNow()
	if c.helloDone.Load() && c.opt.OnDisconnect != nil {
		c.opt.OnDisconnect(c.Err())
	}
	close(c.done)
}

func readError(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return &CloseError{Code: int(websocket.StatusMessageTooBig), Reason: "message too big"}
	}
	reason := "connection lost"
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "connection lost: EOF"
	} else if errors.Is(err, net.ErrClosed) {
		reason = "connection lost: closed"
	}
	return &CloseError{Code: closeAbnormal, Reason: reason}
}

func (c *Client) handleFrame(data []byte) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		c.log.Warn("ignoring non-JSON frame", "err", err)
		return
	}
	switch head.Type {
	case protocol.FrameEvent:
		var ev protocol.EventFrame
		if err := json.Unmarshal(data, &ev); err != nil {
			c.log.Warn("ignoring malformed event frame", "err", err)
			return
		}
		c.handleEvent(ev)
	case protocol.FrameRes:
		var res protocol.ResponseFrame
		if err := json.Unmarshal(data, &res); err != nil {
			c.log.Warn("ignoring malformed res frame", "err", err)
			return
		}
		c.handleResponse(&res)
	default:
		c.log.Debug("ignoring frame", "type", head.Type)
	}
}

func (c *Client) handleEvent(ev protocol.EventFrame) {
	if ev.Event == protocol.EventConnectChallenge {
		select {
		case c.challenge <- ev.Payload:
		default: // only the first challenge of a socket counts
		}
		return
	}
	if ev.Seq != nil {
		seq := *ev.Seq
		last := c.lastSeq.Load()
		if seq > last+1 && c.opt.OnGap != nil {
			c.opt.OnGap(last+1, seq)
		}
		c.lastSeq.Store(seq)
	}
	if c.opt.OnEvent != nil {
		c.opt.OnEvent(ev)
	}
}

func (c *Client) handleResponse(res *protocol.ResponseFrame) {
	c.mu.Lock()
	p := c.pending[res.ID]
	if p == nil {
		c.mu.Unlock()
		c.log.Debug("response for an unknown request", "id", res.ID)
		return
	}
	if res.OK && p.expectFinal && isAccepted(res.Payload) {
		c.mu.Unlock()
		if p.onAccepted != nil {
			p.onAccepted(res.Payload)
		}
		return
	}
	delete(c.pending, res.ID)
	c.mu.Unlock()

	if p.onFinal != nil {
		p.onFinal(res)
	}
	if res.OK {
		p.ch <- callResult{payload: res.Payload}
		return
	}
	perr := res.Error.AsError()
	if perr == nil {
		perr = &protocol.Error{Code: protocol.CodeUnavailable, Message: "request failed without an error"}
	}
	p.ch <- callResult{payload: res.Payload, err: perr}
}

func isAccepted(payload json.RawMessage) bool {
	var s struct {
		Status string `json:"status"`
	}
	if len(payload) == 0 || payload[0] != '{' {
		return false
	}
	return json.Unmarshal(payload, &s) == nil && s.Status == "accepted"
}

// startWatchdog closes the connection with 4000 "tick timeout" when no
// frame arrived for the watchdog interval.
func (c *Client) startWatchdog() {
	interval := c.opt.TickWatchdog
	if interval < 0 {
		return
	}
	if interval == 0 {
		tick := int64(protocol.TickIntervalMs)
		if h := c.Hello(); h != nil && h.Policy.TickIntervalMs > 0 {
			tick = h.Policy.TickIntervalMs
		}
		interval = 2 * time.Duration(tick) * time.Millisecond
	}
	go func() {
		t := time.NewTimer(interval)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-t.C:
			}
			idle := time.Since(time.Unix(0, c.lastFrame.Load()))
			if idle >= interval {
				c.log.Warn("no frame from the gateway, closing", "idle", idle.Round(time.Millisecond))
				c.shutdown(&CloseError{Code: CloseTickTimeout, Reason: reasonTickTimeout}, CloseTickTimeout, reasonTickTimeout)
				return
			}
			t.Reset(interval - idle)
		}
	}()
}
