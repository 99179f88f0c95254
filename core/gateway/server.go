package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/pincerhq/pincer/core/protocol"
)

// Auth modes.
const (
	AuthToken    = "token"
	AuthPassword = "password"
	AuthNone     = "none"
)

// AuthOptions configure shared-secret authentication.
type AuthOptions struct {
	Mode     string // token | password | none
	Token    string
	Password string
	// Rate limit of shared-secret failures per client IP.
	MaxAttempts    int           // 10
	Window         time.Duration // 60 s
	Lockout        time.Duration // 5 min
	ExemptLoopback bool          // loopback gets exponential delays instead of lockout
}

// Validator checks params against the generated JSON Schema. Reasons are
// formatted like the reference ("at /client/id: must be …").
type Validator interface {
	ValidateConnect(params []byte) error
	ValidateParams(method string, params []byte) error
}

// Options configure a Server. Zero durations take the protocol defaults.
type Options struct {
	Version        string
	BuildID        string
	Auth           AuthOptions
	TrustedProxies []string // IPs or CIDRs of reverse proxies
	AllowedOrigins []string // browser origins allowed besides loopback (gateway.controlUi.allowedOrigins)
	Validator      Validator
	// Devices verifies device credentials and applies pairing; nil: device
	// proofs are ignored and nodes cannot connect.
	Devices DeviceAuthority
	Logger  *slog.Logger

	HandshakeTimeout time.Duration // 15 s (OPENCLAW_HANDSHAKE_TIMEOUT_MS / PINCER_HANDSHAKE_TIMEOUT_MS)
	TickInterval     time.Duration // 30 s
	PingInterval     time.Duration // 25 s
	HealthRefresh    time.Duration // 60 s
	MaxBufferedBytes int64         // 50 MiB
	MaxPayload       int64         // 25 MiB
	MaxPreauthPerIP  int           // 32 unauthenticated sockets per client IP (PINCER_MAX_PREAUTH_CONNECTIONS_PER_IP)
	DedupeTTL        time.Duration // 5 min
	DedupeMax        int           // 1000

	// Host facts for the gateway's own presence entry.
	Host     string
	HostIP   string
	Platform string
	Family   string

	// Snapshot extras for hello-ok.
	SessionDefaults func() *protocol.SessionDefaults
	ConfigInfo      func() (configPath, stateDir, appliedHash string)
}

// Server is a running gateway transport.
type Server struct {
	opt     Options
	log     *slog.Logger
	bootID  string
	started time.Time
	mux     *http.ServeMux
	nets    []*net.IPNet

	regMu       sync.RWMutex
	methods     map[string]*Method
	methodOrder []string
	events      map[string]*EventGuard
	eventOrder  []string

	connsMu sync.RWMutex
	conns   map[*Conn]struct{}
	nconn   atomic.Int64

	preauthMu sync.Mutex
	preauth   map[string]int

	presence *presenceStore
	health   *healthCache
	dedupe   *dedupeCache
	limiter  *authLimiter
	cpw      *actorLimiter

	hookMu   sync.RWMutex
	onHello  []func(*Conn)
	onAdmit  []func(*Conn)
	onClose  []func(*Conn)
	surfaces func(*Conn) map[string]string

	lifeMu   sync.Mutex // orders Serve's start against Shutdown
	ready    atomic.Bool
	draining atomic.Bool
	httpSrv  *http.Server
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	inflight inflightTracker
}

// New creates a server; register methods and events, then Serve.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Version == "" {
		opt.Version = protocol.CompatVersion
	}
	if opt.Auth.Mode == "" {
		opt.Auth.Mode = AuthToken
	}
	if opt.Auth.MaxAttempts == 0 {
		opt.Auth.MaxAttempts = 10
	}
	if opt.Auth.Window == 0 {
		opt.Auth.Window = time.Minute
	}
	if opt.Auth.Lockout == 0 {
		opt.Auth.Lockout = 5 * time.Minute
	}
	if opt.HandshakeTimeout == 0 {
		opt.HandshakeTimeout = envDuration(protocol.HandshakeTimeoutMs*time.Millisecond,
			"PINCER_HANDSHAKE_TIMEOUT_MS", "OPENCLAW_HANDSHAKE_TIMEOUT_MS")
	}
	if opt.TickInterval == 0 {
		opt.TickInterval = protocol.TickIntervalMs * time.Millisecond
	}
	if opt.PingInterval == 0 {
		opt.PingInterval = protocol.PingIntervalMs * time.Millisecond
	}
	if opt.HealthRefresh == 0 {
		opt.HealthRefresh = protocol.HealthRefreshMs * time.Millisecond
	}
	if opt.MaxBufferedBytes == 0 {
		opt.MaxBufferedBytes = protocol.MaxBufferedBytes
	}
	if opt.MaxPayload == 0 {
		opt.MaxPayload = protocol.MaxPayloadBytes
	}
	if opt.MaxPreauthPerIP == 0 {
		opt.MaxPreauthPerIP = envInt(32, "PINCER_MAX_PREAUTH_CONNECTIONS_PER_IP", "OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP")
	}
	if opt.DedupeTTL == 0 {
		opt.DedupeTTL = protocol.DedupeTTLMs * time.Millisecond
	}
	if opt.DedupeMax == 0 {
		opt.DedupeMax = protocol.DedupeMaxEntries
	}
	if opt.Host == "" {
		opt.Host, _ = os.Hostname()
	}
	s := &Server{
		opt:     opt,
		log:     opt.Logger,
		bootID:  uuid.NewString(),
		started: time.Now(),
		mux:     http.NewServeMux(),
		methods: map[string]*Method{},
		events:  map[string]*EventGuard{},
		conns:   map[*Conn]struct{}{},
		preauth: map[string]int{},
		stop:    make(chan struct{}),
	}
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.nets = parseTrustedProxies(opt.TrustedProxies, s.log)
	s.presence = newPresenceStore(s)
	s.health = newHealthCache(s)
	s.dedupe = newDedupeCache(opt.DedupeTTL, opt.DedupeMax)
	s.limiter = newAuthLimiter(opt.Auth)
	s.cpw = newActorLimiter(30, time.Minute)
	s.registerCore()
	return s
}

func envDuration(def time.Duration, names ...string) time.Duration {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	return def
}

func envInt(def int, names ...string) int {
	for _, n := range names {
		if v, err := strconv.Atoi(os.Getenv(n)); err == nil && v > 0 {
			return v
		}
	}
	return def
}

// acquirePreauth admits one more unauthenticated socket for ip.
func (s *Server) acquirePreauth(ip string) bool {
	s.preauthMu.Lock()
	defer s.preauthMu.Unlock()
	if s.preauth[ip] >= s.opt.MaxPreauthPerIP {
		return false
	}
	s.preauth[ip]++
	return true
}

func (s *Server) releasePreauth(ip string) {
	s.preauthMu.Lock()
	defer s.preauthMu.Unlock()
	if s.preauth[ip] <= 1 {
		delete(s.preauth, ip)
		return
	}
	s.preauth[ip]--
}

// registerCore declares the events the transport itself emits and the
// hidden connect method (a repeated connect after hello).
func (s *Server) registerCore() {
	s.RegisterEvent(protocol.EventConnectChallenge, EventGuard{All: true})
	s.RegisterEvent(protocol.EventPresence, EventGuard{AnyOf: []string{protocol.ScopeRead}})
	s.RegisterEvent(protocol.EventTick, EventGuard{All: true})
	s.RegisterEvent(protocol.EventShutdown, EventGuard{All: true})
	s.RegisterEvent(protocol.EventHealth, EventGuard{All: true})
	s.Register(Method{
		Name: "connect", Scope: protocol.ScopeAdmin, Hidden: true,
		Handler: func(ctx context.Context, call *Call) (any, error) {
			return nil, protocol.InvalidRequest("connect is only valid as the first request")
		},
	})
}

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Options returns the options the server runs with.
func (s *Server) Options() Options { return s.opt }

// BootID identifies this process run.
func (s *Server) BootID() string { return s.bootID }

// StartedAt is when the server was created.
func (s *Server) StartedAt() time.Time { return s.started }

// Uptime since New.
func (s *Server) Uptime() time.Duration { return time.Since(s.started) }

// Handle adds an HTTP route on the gateway port (health probes, APIs, UI).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Ready reports whether the server accepts connections (startupz/readyz).
func (s *Server) Ready() bool { return s.ready.Load() && !s.draining.Load() }

// Draining reports whether a shutdown is in progress.
func (s *Server) Draining() bool { return s.draining.Load() }

// ConnCount is the number of open WebSocket connections.
func (s *Server) ConnCount() int { return int(s.nconn.Load()) }

// ServeHTTP routes WebSocket upgrades (any path) to the protocol and other
// requests to the registered HTTP handlers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isUpgrade(r) {
		s.serveWS(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.lifeMu.Lock()
	select {
	case <-s.stop:
		s.lifeMu.Unlock()
		return nil // shut down before it started
	default:
	}
	s.startTimers()
	s.ready.Store(true)
	s.lifeMu.Unlock()
	err := s.httpSrv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) startTimers() {
	s.wg.Add(3)
	go s.loop(s.opt.TickInterval, func() {
		s.Broadcast(protocol.EventTick, protocol.TickEvent{Ts: nowMs()}, BroadcastOptions{DropIfSlow: true})
	})
	go s.loop(s.opt.HealthRefresh, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = s.RefreshHealth(ctx, false)
	})
	go s.loop(time.Minute, func() {
		s.dedupe.sweep()
		s.limiter.prune()
		s.presence.prune()
	})
}

func (s *Server) loop(every time.Duration, f func()) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			f()
		}
	}
}

// Shutdown broadcasts shutdown, waits (bounded by ctx) for in-flight
// requests to be answered, then closes every socket with 1012 and stops.
func (s *Server) Shutdown(ctx context.Context, reason string, restartExpectedMs int64) error {
	if reason == "" {
		reason = "gateway stopping"
	}
	s.draining.Store(true)
	ev := protocol.ShutdownEvent{Reason: reason}
	if restartExpectedMs > 0 {
		ev.RestartExpectedMs = &restartExpectedMs
	}
	s.Broadcast(protocol.EventShutdown, ev, BroadcastOptions{})
	s.inflight.wait(ctx)
	for _, c := range s.snapshotConns() {
		c.closeAfterFlush(1012, "service restart")
	}
	s.lifeMu.Lock()
	s.stopOnce.Do(func() { close(s.stop) })
	s.lifeMu.Unlock()
	err := s.httpSrv.Shutdown(ctx)
	s.wg.Wait()
	return err
}

func (s *Server) snapshotConns() []*Conn {
	s.connsMu.RLock()
	defer s.connsMu.RUnlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Conns lists the authenticated connections.
func (s *Server) Conns() []*Conn {
	all := s.snapshotConns()
	out := all[:0]
	for _, c := range all {
		if c.Authenticated() {
			out = append(out, c)
		}
	}
	return out
}

func nowMs() int64 { return time.Now().UnixMilli() }

func mustJSON(v any) json.RawMessage {
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// inflightTracker counts requests being handled so a shutdown can wait for
// them (bounded by its context). Unlike a WaitGroup it tolerates requests
// starting while someone waits.
type inflightTracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero; nil when nobody waits
}

func (t *inflightTracker) add() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *inflightTracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
	t.mu.Unlock()
}

func (t *inflightTracker) wait(ctx context.Context) {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	ch := t.idle
	t.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}
