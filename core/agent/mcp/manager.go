// Package mcp connects the gateway to the MCP servers configured under
// mcp.servers (stdio commands, streamable HTTP or SSE endpoints) and offers
// their tools to the agents as "<server>__<tool>".
//
// A Manager keeps one connection per enabled server. Sync applies a new
// configuration (connecting added servers, closing removed or changed ones);
// Tools lists the tools of the connected servers; a server that cannot be
// reached is logged and retried after a backoff on a later Sync, Tools or
// tool call, without holding up the runs that do not need it.
package mcp

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/config"
)

const (
	defaultConnectTimeout = 10 * time.Second
	defaultRequestTimeout = 60 * time.Second
	defaultBackoffMin     = 5 * time.Second
	defaultBackoffMax     = 5 * time.Minute
	// defaultToolsWait bounds how long Tools waits for reconnection attempts
	// it starts; slower attempts finish in the background.
	defaultToolsWait = 2 * time.Second
	// defaultStopGrace is how long a stdio server gets to exit after its
	// stdin closes (and again after SIGTERM) before it is killed.
	defaultStopGrace = 2 * time.Second
)

// Transport names reported by Status.
const (
	TransportStdio          = "stdio"
	TransportStreamableHTTP = "streamable-http"
	TransportSSE            = "sse"
)

// ServerStatus is one configured, enabled server's state.
type ServerStatus struct {
	Name      string `json:"name"`
	Transport string `json:"transport"` // stdio | streamable-http | sse
	Connected bool   `json:"connected"`
	Tools     int    `json:"tools"` // tools offered (after toolFilter)
	Error     string `json:"error,omitempty"`
}

// Manager owns the connections to the configured MCP servers.
type Manager struct {
	log    *slog.Logger
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu      sync.Mutex
	servers map[string]*server
	closed  bool

	// Tunables (tests shorten them).
	backoffMin, backoffMax time.Duration
	toolsWait              time.Duration
	stopGrace              time.Duration
}

// NewManager returns a manager with no servers; call Sync to connect.
func NewManager(log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		log:        log,
		ctx:        ctx,
		cancel:     cancel,
		servers:    map[string]*server{},
		backoffMin: defaultBackoffMin,
		backoffMax: defaultBackoffMax,
		toolsWait:  defaultToolsWait,
		stopGrace:  defaultStopGrace,
	}
}

// enabled reports whether a configured server takes part.
func enabled(s config.MCPServer) bool { return s.Enabled == nil || *s.Enabled }

// Sync applies the configured servers: servers that were removed, disabled
// or whose connection settings changed are closed (their processes killed);
// new ones are connected, in parallel, each bounded by its
// connectionTimeoutMs. Servers whose toolFilter or requestTimeoutMs alone
// changed keep their connection. A server that fails to connect is logged
// and retried after a backoff. Sync returns when the attempts are done or
// ctx ends (attempts then go on in the background).
func (m *Manager) Sync(ctx context.Context, servers map[string]config.MCPServer) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	var removed []*server
	for name, s := range m.servers {
		cfg, ok := servers[name]
		if !ok || !enabled(cfg) || fingerprint(cfg) != s.fp {
			removed = append(removed, s)
			delete(m.servers, name)
		}
	}
	for name, cfg := range servers {
		if !enabled(cfg) {
			continue
		}
		if s, ok := m.servers[name]; ok {
			s.update(cfg)
			continue
		}
		m.servers[name] = m.newServer(name, cfg)
	}
	current := m.sortedLocked()
	m.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range removed {
		m.log.Info("mcp server removed", "server", s.name)
		wg.Go(func() { _ = s.close() })
	}
	var waits []<-chan struct{}
	for _, s := range current {
		if ch := s.kick(); ch != nil {
			waits = append(waits, ch)
		}
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		for _, ch := range waits {
			<-ch
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Tools returns one tool per MCP tool of every connected server (after its
// toolFilter), named "<server>__<tool>". Servers that are down and due for
// a retry are reconnected; Tools waits for those attempts only briefly.
// Tool lists the servers reported as changed are fetched again.
func (m *Manager) Tools(ctx context.Context) []tools.Tool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	servers := m.sortedLocked()
	m.mu.Unlock()

	var waits []<-chan struct{}
	for _, s := range servers {
		if ch := s.kick(); ch != nil {
			waits = append(waits, ch)
		}
	}
	if len(waits) > 0 {
		timer := time.NewTimer(m.toolsWait)
	wait:
		for _, ch := range waits {
			select {
			case <-ch:
			case <-timer.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
		timer.Stop()
	}

	lists := make([][]*toolEntry, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { lists[i] = s.entries(ctx) })
	}
	wg.Wait()

	used := map[string]bool{}
	var out []tools.Tool
	for i, s := range servers {
		for _, e := range lists[i] {
			out = append(out, newTool(s, e, uniqueName(s.name, e.tool.Name, used)))
		}
	}
	return out
}

// Status reports every configured, enabled server, sorted by name.
func (m *Manager) Status() []ServerStatus {
	m.mu.Lock()
	servers := m.sortedLocked()
	m.mu.Unlock()
	out := make([]ServerStatus, 0, len(servers))
	for _, s := range servers {
		out = append(out, s.status())
	}
	return out
}

// Close disconnects every server and kills the stdio servers' processes.
// The manager is unusable afterwards.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	servers := m.sortedLocked()
	m.servers = map[string]*server{}
	m.mu.Unlock()
	m.cancel()

	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { errs[i] = s.close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (m *Manager) sortedLocked() []*server {
	out := make([]*server, 0, len(m.servers))
	for _, s := range m.servers {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *server) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return out
}

// backoff is the wait before retry number n (n >= 1) of a failing server.
func (m *Manager) backoff(n int) time.Duration {
	d := m.backoffMin
	for i := 1; i < n && d < m.backoffMax; i++ {
		d *= 2
	}
	return min(d, m.backoffMax)
}

// quietExit drops a process's exit status from close errors: a server
// killed on close is expected.
func quietExit(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil
	}
	return err
}
