// Package bench is Pincer's load and footprint benchmark. It drives a
// gateway over the OpenClaw Gateway WebSocket protocol (v4) on loopback and
// measures startup time, idle memory, handshake latency, RPC throughput,
// broadcast fan-out latency and the memory cost of idle connections.
//
// It speaks the wire protocol with raw github.com/coder/websocket
// connections (not core/client) and decodes only the bytes it needs, so
// that its own overhead stays small next to the gateway's. Every loop is
// bounded both in iterations and in time.
//
// The command is core/bench/cmd/pincer-bench; `make bench` runs it against
// a freshly built gateway.
package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Section names accepted by Options.Only.
const (
	SectionStartup   = "startup"
	SectionIdle      = "idle"
	SectionHandshake = "handshake"
	SectionRPC       = "rpc"
	SectionFanout    = "fanout"
	SectionConns     = "conns"
)

// Fan-out listener implementations (Options.Listener).
const (
	ListenerGo    = "go"
	ListenerEpoll = "epoll"
)

// AllSections in the order they run.
var AllSections = []string{SectionStartup, SectionIdle, SectionHandshake, SectionRPC, SectionFanout, SectionConns}

// Options configure one benchmark run. Zero values take the defaults
// documented on each field (see Defaults).
type Options struct {
	// URL of an existing gateway (ws://host:port) and its shared token.
	// Ignored when GatewayBin is set.
	URL   string
	Token string
	// GatewayBin launches this pincer binary (`gateway run --port P
	// --token T`, PINCER_STATE_DIR in a temp dir) instead of using URL.
	GatewayBin string
	// GatewayEnv are extra KEY=VALUE variables for launched gateways
	// (e.g. GODEBUG=gctrace=1 or GOGC=50 for an analysis run).
	GatewayEnv []string
	// GatewayArgs are extra arguments after `gateway run` (e.g. --verbose).
	GatewayArgs []string
	// KeepLogs keeps the launched gateways' temp dirs (logs, state).
	KeepLogs bool

	// Only runs these sections (nil: all).
	Only []string

	StartupRuns    int           // launches for the startup figure (5)
	IdleSettle     time.Duration // wait before reading idle RSS (2 s)
	HandshakeCount int           // sequential handshakes (2000)
	Duration       time.Duration // measured time per RPC row (5 s)
	Warmup         time.Duration // unmeasured lead-in per RPC row (500 ms)
	Clients        []int         // RPC concurrency levels (1,16,64)
	Pipeline       int           // extra RPC rows with this many requests in flight per client (8; <0 disables)
	Listeners      []int         // fan-out listener counts (1,100,1000,5000)
	FanoutTrials   int           // trials per listener count (20)
	FanoutTrialsXL int           // trials when listeners ≥ 5000 (20, at least 5, at most FanoutTrials)
	FanoutTimeout  time.Duration // per trial (10 s)
	// Listener selects how the fan-out listeners read after their
	// handshake: ListenerEpoll (the default on Linux; plain ws:// only)
	// or ListenerGo (a goroutine per listener; the default elsewhere).
	Listener string
	// ListenerThreads is the number of epoll loops, each on its own
	// locked OS thread (1).
	ListenerThreads int
	Conns           []int         // idle connection levels (1000,5000,10000)
	ConnsSettle     time.Duration // wait before reading RSS at each level (2 s)
	OpenParallel    int           // connections opened concurrently (32)

	// JSON prints the report as JSON at the end instead of tables.
	JSON bool
	// Progress receives progress lines (nil: none).
	Progress io.Writer
}

// Defaults fills the zero fields.
func (o *Options) Defaults() {
	if o.StartupRuns <= 0 {
		o.StartupRuns = 5
	}
	if o.IdleSettle <= 0 {
		o.IdleSettle = 2 * time.Second
	}
	if o.HandshakeCount <= 0 {
		o.HandshakeCount = 2000
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Warmup <= 0 {
		o.Warmup = 500 * time.Millisecond
	}
	if len(o.Clients) == 0 {
		o.Clients = []int{1, 16, 64}
	}
	if o.Pipeline == 0 {
		o.Pipeline = 8
	}
	if len(o.Listeners) == 0 {
		o.Listeners = []int{1, 100, 1000, 5000}
	}
	if o.FanoutTrials <= 0 {
		o.FanoutTrials = 20
	}
	if o.FanoutTrialsXL <= 0 {
		o.FanoutTrialsXL = 20
	}
	if o.FanoutTrialsXL < 5 {
		o.FanoutTrialsXL = 5
	}
	if o.FanoutTrialsXL > o.FanoutTrials {
		o.FanoutTrialsXL = o.FanoutTrials
	}
	if o.FanoutTimeout <= 0 {
		o.FanoutTimeout = 10 * time.Second
	}
	if o.Listener == "" {
		o.Listener = ListenerGo
		if epollSupported {
			o.Listener = ListenerEpoll
		}
	}
	if o.ListenerThreads <= 0 {
		o.ListenerThreads = 1
	}
	if len(o.Conns) == 0 {
		o.Conns = []int{1000, 5000, 10000}
	}
	if o.ConnsSettle <= 0 {
		o.ConnsSettle = 2 * time.Second
	}
	if o.OpenParallel <= 0 {
		// The reference admits at most 32 unauthenticated sockets per
		// client IP (spec §1.1); stay within it.
		o.OpenParallel = 32
	}
}

func (o *Options) validate() error {
	if o.GatewayBin == "" && o.URL == "" {
		return fmt.Errorf("bench: set --url (with --token) or --gateway-bin")
	}
	if o.GatewayBin == "" && !strings.HasPrefix(o.URL, "ws://") && !strings.HasPrefix(o.URL, "wss://") {
		return fmt.Errorf("bench: --url must be ws:// or wss://, got %q", o.URL)
	}
	switch o.Listener {
	case ListenerGo:
	case ListenerEpoll:
		if !epollSupported {
			return fmt.Errorf("bench: --listener=epoll needs Linux")
		}
	default:
		return fmt.Errorf("bench: unknown listener %q (want %s or %s)", o.Listener, ListenerGo, ListenerEpoll)
	}
	for _, s := range o.Only {
		ok := false
		for _, a := range AllSections {
			ok = ok || a == s
		}
		if !ok {
			return fmt.Errorf("bench: unknown section %q (want %s)", s, strings.Join(AllSections, ","))
		}
	}
	for _, l := range [][]int{o.Clients, o.Listeners, o.Conns} {
		for _, n := range l {
			if n <= 0 || n > 1_000_000 {
				return fmt.Errorf("bench: count %d out of range", n)
			}
		}
	}
	return nil
}

func (o *Options) enabled(section string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, s := range o.Only {
		if s == section {
			return true
		}
	}
	return false
}

// ParseInts parses a comma-separated list of positive integers ("1,16,64").
func ParseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		f = strings.ReplaceAll(f, "_", "")
		mul := 1
		if strings.HasSuffix(f, "k") || strings.HasSuffix(f, "K") {
			mul, f = 1000, f[:len(f)-1]
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid count %q", f)
		}
		out = append(out, n*mul)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

// ParseSections parses --only ("startup,idle,…").
func ParseSections(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		ok := false
		for _, a := range AllSections {
			ok = ok || a == f
		}
		if !ok {
			return nil, fmt.Errorf("unknown section %q (want %s)", f, strings.Join(AllSections, ","))
		}
		out = append(out, f)
	}
	return out, nil
}
