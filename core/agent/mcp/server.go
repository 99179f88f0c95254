package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/protocol"
)

// handshakeVersion is the protocol version the client asks for: the
// classic initialize handshake every server implements (newer servers
// accept it; the SDK's default first tries server/discover, which servers
// on older SDKs may not tolerate before initialize).
const handshakeVersion = "2025-11-25"

// server is one configured MCP server and its (re)connections.
type server struct {
	m      *Manager
	name   string
	kind   string // TransportStdio | TransportStreamableHTTP | TransportSSE
	fp     string // connection settings (a change reconnects)
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	cfg      config.MCPServer
	conn     *conn       // nil while down
	list     []*sdk.Tool // conn's tools
	lastErr  string
	failures int       // consecutive failed attempts
	retryAt  time.Time // no new attempt before
	pending  chan struct{}
	closed   bool
}

// conn is one live connection to a server.
type conn struct {
	sess   *sdk.ClientSession
	proc   *proc              // stdio
	cancel context.CancelFunc // remote: ends the connection's streams
	httpTr *http.Transport    // remote
	stale  atomic.Bool        // the server said its tool list changed
	dead   chan struct{}      // closed when the session ends
	since  time.Time          // connected at
}

// close ends the session and, for stdio, stops the process.
func (c *conn) close(grace time.Duration) error {
	var err error
	if c.sess != nil {
		err = c.sess.Close()
	}
	if c.cancel != nil {
		c.cancel()
	}
	if c.httpTr != nil {
		c.httpTr.CloseIdleConnections()
	}
	if c.proc != nil {
		c.proc.stop(grace)
		err = nil // closing stdin of an exiting process is no failure
	}
	return quietExit(err)
}

func (m *Manager) newServer(name string, cfg config.MCPServer) *server {
	ctx, cancel := context.WithCancel(m.ctx)
	return &server{m: m, name: name, kind: transportOf(cfg), fp: fingerprint(cfg), cfg: cfg, ctx: ctx, cancel: cancel}
}

// transportOf is the transport a server's settings select.
func transportOf(cfg config.MCPServer) string {
	switch strings.ToLower(cfg.Transport) {
	case "stdio":
		return TransportStdio
	case "sse":
		return TransportSSE
	case "streamable-http", "http":
		return TransportStreamableHTTP
	}
	if cfg.Command == "" && cfg.URL != "" {
		return TransportStreamableHTTP
	}
	return TransportStdio
}

// fingerprint covers the settings a live connection depends on.
func fingerprint(cfg config.MCPServer) string {
	b, _ := json.Marshal(struct {
		Kind, Command string
		Args          []string
		Env           map[string]string
		Cwd, URL      string
		Headers       map[string]string
	}{transportOf(cfg), cfg.Command, cfg.Args, cfg.Env, cfg.Cwd, cfg.URL, cfg.Headers})
	return string(b)
}

// update takes settings that need no reconnection (toolFilter, timeouts).
func (s *server) update(cfg config.MCPServer) {
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
}

func millis(ms int64, def time.Duration) time.Duration {
	if ms <= 0 {
		return def
	}
	return time.Duration(ms) * time.Millisecond
}

func (s *server) requestTimeout() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return millis(s.cfg.RequestTimeoutMs, defaultRequestTimeout)
}

// kick starts a connection attempt if the server is down and due for one;
// it returns a channel closed when the attempt in flight ends, or nil.
func (s *server) kick() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed || s.conn != nil:
		return nil
	case s.pending != nil:
		return s.pending
	case time.Now().Before(s.retryAt):
		return nil
	}
	ch := make(chan struct{})
	s.pending = ch
	go s.connect(ch, s.cfg)
	return ch
}

// connect makes one connection attempt.
func (s *server) connect(done chan struct{}, cfg config.MCPServer) {
	defer close(done)
	timeout := millis(cfg.ConnectionTimeoutMs, defaultConnectTimeout)
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	c, list, err := s.dial(ctx, cfg)
	if err != nil && ctx.Err() == context.DeadlineExceeded && s.ctx.Err() == nil {
		err = fmt.Errorf("timed out after %s connecting: %w", timeout, err)
	}
	cancel()

	s.mu.Lock()
	s.pending = nil
	if s.closed {
		s.mu.Unlock()
		if c != nil {
			_ = c.close(s.m.stopGrace)
		}
		return
	}
	if err != nil {
		s.failures++
		wait := s.m.backoff(s.failures)
		s.retryAt = time.Now().Add(wait)
		s.lastErr = err.Error()
		s.mu.Unlock()
		s.m.log.Warn("mcp server unavailable", "server", s.name, "transport", s.kind,
			"error", err.Error(), "retryIn", wait.String())
		return
	}
	// failures is reset once the connection proves stable (see lost).
	s.conn, s.list = c, list
	s.lastErr = ""
	s.mu.Unlock()
	s.m.log.Info("mcp server connected", "server", s.name, "transport", s.kind, "tools", len(list))
	go s.watch(c)
}

// watch notices a connection ending on the server's side.
func (s *server) watch(c *conn) {
	var exited <-chan struct{}
	if c.proc != nil {
		exited = c.proc.exited
	}
	select {
	case <-c.dead:
	case <-exited:
	}
	s.mu.Lock()
	current := s.conn == c
	s.mu.Unlock()
	if !current {
		return // closed or replaced by us
	}
	msg := "connection closed by the server"
	if c.proc != nil {
		msg = c.proc.describe("server process ended")
	}
	if s.lost(c, msg) {
		_ = c.close(s.m.stopGrace)
	}
}

// drop closes a connection found broken while in use.
func (s *server) drop(c *conn, err error) {
	if s.lost(c, err.Error()) {
		go func() { _ = c.close(s.m.stopGrace) }()
	}
}

// stableAfter is how long a connection must last for its loss to count
// as an accident rather than another failure (a crash-looping server backs
// off like one that cannot be reached).
const stableAfter = 30 * time.Second

// lost takes c, if still current, out of service; the caller closes it.
func (s *server) lost(c *conn, msg string) bool {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return false
	}
	s.conn, s.list = nil, nil
	s.lastErr = msg
	wait := time.Duration(0) // reconnect on next use
	if time.Since(c.since) >= stableAfter {
		s.failures = 0
	} else {
		s.failures++
		wait = s.m.backoff(s.failures)
	}
	s.retryAt = time.Now().Add(wait)
	s.mu.Unlock()
	s.m.log.Warn("mcp server disconnected", "server", s.name, "error", msg, "retryIn", wait.String())
	return true
}

// close disconnects the server for good, waiting for an attempt in flight.
func (s *server) close() error {
	s.mu.Lock()
	s.closed = true
	c, pending := s.conn, s.pending
	s.conn, s.list = nil, nil
	s.mu.Unlock()
	s.cancel()
	var err error
	if c != nil {
		err = c.close(s.m.stopGrace)
	}
	if pending != nil {
		<-pending
	}
	return err
}

// live returns the server's connection, connecting when it is down and due
// for a retry.
func (s *server) live(ctx context.Context) (*conn, error) {
	for range 2 {
		s.mu.Lock()
		closed, c, lastErr, retryAt := s.closed, s.conn, s.lastErr, s.retryAt
		s.mu.Unlock()
		switch {
		case closed:
			return nil, fmt.Errorf("MCP server %q is no longer configured", s.name)
		case c != nil:
			return c, nil
		}
		ch := s.kick()
		if ch == nil {
			wait := time.Until(retryAt)
			if wait < time.Second {
				wait = wait.Round(100 * time.Millisecond)
			} else {
				wait = wait.Round(time.Second)
			}
			return nil, fmt.Errorf("MCP server %q is unavailable (%s); next retry in %s", s.name, lastErr, wait)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("MCP server %q: %w while connecting", s.name, ctx.Err())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	return nil, fmt.Errorf("MCP server %q is unavailable: %s", s.name, s.lastErr)
}

// entries is the server's tool list after its toolFilter, fetched again
// when the server announced a change.
func (s *server) entries(ctx context.Context) []*toolEntry {
	s.mu.Lock()
	c, list, cfg := s.conn, s.list, s.cfg
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	if c.stale.Swap(false) {
		rctx, cancel := context.WithTimeout(ctx, millis(cfg.RequestTimeoutMs, defaultRequestTimeout))
		fresh, err := listTools(rctx, c.sess)
		cancel()
		switch {
		case err == nil:
			s.mu.Lock()
			if s.conn == c {
				s.list = fresh
			}
			s.mu.Unlock()
			list = fresh
			s.m.log.Info("mcp server tools changed", "server", s.name, "tools", len(fresh))
		case isConnError(err):
			s.drop(c, err)
			return nil
		default:
			c.stale.Store(true) // try again next time
			s.m.log.Warn("mcp server tool list refresh failed", "server", s.name, "error", err.Error())
		}
	}
	var out []*toolEntry
	for _, t := range list {
		if admitted(cfg.ToolFilter, t.Name) {
			out = append(out, &toolEntry{tool: t})
		}
	}
	return out
}

func (s *server) status() ServerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServerStatus{Name: s.name, Transport: s.kind, Connected: s.conn != nil, Error: s.lastErr}
	for _, t := range s.list {
		if admitted(s.cfg.ToolFilter, t.Name) {
			st.Tools++
		}
	}
	return st
}

// dial connects and lists the tools.
func (s *server) dial(ctx context.Context, cfg config.MCPServer) (*conn, []*sdk.Tool, error) {
	c := &conn{dead: make(chan struct{})}
	client := sdk.NewClient(&sdk.Implementation{Name: "pincer", Version: protocol.CompatVersion}, &sdk.ClientOptions{
		Capabilities:           &sdk.ClientCapabilities{},
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) { c.stale.Store(true) },
	})
	var t sdk.Transport
	switch s.kind {
	case TransportStdio:
		if cfg.Command == "" {
			return nil, nil, errors.New("stdio transport needs a command")
		}
		p, tr, err := startProc(cfg, s.m.log.With("server", s.name))
		if err != nil {
			return nil, nil, err
		}
		c.proc, t = p, tr
	default:
		if cfg.URL == "" {
			return nil, nil, fmt.Errorf("%s transport needs a url", s.kind)
		}
		headers := map[string]string{}
		for k, v := range cfg.Headers {
			headers[k] = expandEnv(v)
		}
		c.httpTr = http.DefaultTransport.(*http.Transport).Clone()
		hc := &http.Client{Transport: headerTransport{base: c.httpTr, headers: headers}}
		if s.kind == TransportSSE {
			t = &detached{t: &sdk.SSEClientTransport{Endpoint: cfg.URL, HTTPClient: hc}, c: c}
		} else {
			t = &sdk.StreamableClientTransport{Endpoint: cfg.URL, HTTPClient: hc}
		}
	}
	sess, err := client.Connect(ctx, t, &sdk.ClientSessionOptions{ProtocolVersion: handshakeVersion})
	if err != nil {
		if c.proc != nil {
			if c.proc.exitedWithin(100 * time.Millisecond) {
				err = errors.New(c.proc.describe("server process exited during startup"))
			} else {
				err = errors.New(c.proc.describe(err.Error()))
			}
		}
		_ = c.close(s.m.stopGrace)
		return nil, nil, err
	}
	c.sess, c.since = sess, time.Now()
	go func() {
		_ = sess.Wait()
		close(c.dead)
	}()
	list, err := listTools(ctx, sess)
	if err != nil {
		_ = c.close(s.m.stopGrace)
		return nil, nil, fmt.Errorf("listing tools: %w", err)
	}
	return c, list, nil
}

// listTools fetches every page of the server's tool list.
func listTools(ctx context.Context, sess *sdk.ClientSession) ([]*sdk.Tool, error) {
	var out []*sdk.Tool
	for t, err := range sess.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		if t != nil && t.Name != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// isConnError reports an error that means the session is gone.
func isConnError(err error) bool {
	return errors.Is(err, sdk.ErrConnectionClosed) || errors.Is(err, sdk.ErrSessionMissing) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces "${NAME}" with the gateway's environment variable
// (empty when unset).
func expandEnv(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return envRef.ReplaceAllStringFunc(s, func(ref string) string {
		return os.Getenv(ref[2 : len(ref)-1])
	})
}

// headerTransport adds the configured headers to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (h headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(h.headers) > 0 {
		req = req.Clone(req.Context())
		for k, v := range h.headers {
			req.Header.Set(k, v)
		}
	}
	return h.base.RoundTrip(req)
}

// detached connects a transport whose streams live on the connect context
// (SSE) with a context of their own: ctx bounds the connect only.
type detached struct {
	t sdk.Transport
	c *conn
}

func (d *detached) Connect(ctx context.Context) (sdk.Connection, error) {
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	conn, err := d.t.Connect(connCtx)
	if !stop() {
		// ctx ended during the connect: the streams are cancelled.
		if err == nil {
			_ = conn.Close()
			err = ctx.Err()
		}
		return nil, err
	}
	if err != nil {
		cancel()
		return nil, err
	}
	d.c.cancel = cancel
	return conn, nil
}
