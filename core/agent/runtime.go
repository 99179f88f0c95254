package agent

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/agent/mcp"
	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/approvals"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/nodes"
	"github.com/pincerhq/pincer/core/sessions"
)

// Queue modes of a message that arrives while its session has a run.
const (
	QueueSteer     = "steer"     // folded into the active run's next model call
	QueueFollowup  = "followup"  // runs after the active run
	QueueCollect   = "collect"   // queued messages are merged into one follow-up run
	QueueInterrupt = "interrupt" // aborts the active run and runs now
)

// DefaultRunTimeout bounds a run without an explicit timeout.
const DefaultRunTimeout = 600 * time.Second

// maxModelTurns bounds the tool loop of one run.
const maxModelTurns = 25

// Options configure a Runtime.
type Options struct {
	Config   func() *config.Config
	Sessions *sessions.Store
	Logger   *slog.Logger
	// StateDir holds the default workspace (<StateDir>/workspace).
	StateDir string
	// HTTPClient reaches the model providers (nil: a default client).
	HTTPClient *http.Client
	// Getenv reads provider keys (nil: os.Getenv).
	Getenv func(string) string
	// Approvals raises exec approvals (nil: commands needing one are denied).
	Approvals *approvals.Manager
	// Nodes backs the nodes tool (nil: no nodes tool).
	Nodes *nodes.Service
	// MCP offers the tools of configured MCP servers (nil: none).
	MCP *mcp.Manager
}

// SetMessenger gives the agents the message tool (the channel manager,
// which is built after the runtime).
func (r *Runtime) SetMessenger(m tools.MessageAPI) {
	r.mu.Lock()
	r.messenger = m
	r.mu.Unlock()
}

// Runtime runs agents: one active run per session, a queue behind it,
// model calls with tools, transcripts, and the agent/chat event streams.
type Runtime struct {
	opt Options
	gw  *gateway.Server
	log *slog.Logger

	mu       sync.Mutex
	active   map[string]*run   // session key → running run
	queued   map[string][]*run // session key → waiting runs
	runs     map[string]*run   // run id → run (kept a while after it ends)
	ollama   string            // detected Ollama model ref, "" when none
	detected bool
	execs    execTools
	// messenger backs the message tool (nil: no message tool).
	messenger tools.MessageAPI
	stopping  bool
	// canvas backs the canvas tool's A2UI and hosted pages (nil: none).
	canvas tools.CanvasHost
}

// SetCanvas gives the canvas tool the canvas host (built after the
// runtime).
func (r *Runtime) SetCanvas(h tools.CanvasHost) {
	r.mu.Lock()
	r.canvas = h
	r.mu.Unlock()
}

// New makes a runtime; Attach registers it with a gateway.
func New(opt Options) *Runtime {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{}
	}
	return &Runtime{opt: opt, log: opt.Logger, active: map[string]*run{}, queued: map[string][]*run{}, runs: map[string]*run{}}
}

// Recover marks runs a crash left unfinished as failed; call it at start.
func (r *Runtime) Recover(ctx context.Context) {
	runs, err := r.opt.Sessions.RecoverInterrupted(ctx, interruptedMessage)
	if err != nil {
		r.log.Error("recovering interrupted runs failed", "err", err)
		return
	}
	for _, run := range runs {
		r.log.Warn("run interrupted by a gateway stop", "runId", run.RunID, "session", run.SessionKey)
	}
}

// Shutdown refuses new runs, interrupts the running and queued ones (they
// are recorded as interrupted, as a crash would leave them after Recover)
// and waits for them to record their end, until ctx is done.
func (r *Runtime) Shutdown(ctx context.Context) {
	r.mu.Lock()
	r.stopping = true
	var active, queued []*run
	for _, rn := range r.active {
		active = append(active, rn)
	}
	for key, q := range r.queued {
		queued = append(queued, q...)
		delete(r.queued, key)
	}
	r.mu.Unlock()
	for _, rn := range queued {
		rn.cancel(errShutdown)
		r.complete(rn, &runResult{Status: "error", StopReason: "error", Error: interruptedMessage})
	}
	for _, rn := range active {
		rn.cancel(errShutdown)
	}
	for _, rn := range active {
		select {
		case <-rn.done:
		case <-ctx.Done():
			r.log.Warn("runs still recording their end at shutdown", "runId", rn.req.RunID)
			return
		}
	}
}

// workspaceDir is an agent's workspace.
func (r *Runtime) workspaceDir(cfg *config.Config, agentID string) string {
	if e, ok := cfg.Agents.Entries[agentID]; ok && strings.TrimSpace(e.Workspace) != "" {
		return expandHome(e.Workspace)
	}
	if agentID == config.MainAgentID || agentID == "" {
		return r.opt.StateDir + "/workspace"
	}
	return r.opt.StateDir + "/workspace-" + agentID
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return h + p[1:]
		}
	}
	return p
}

// modelRefs are the provider/model refs to try for an agent, in order.
func (r *Runtime) modelRefs(ctx context.Context, cfg *config.Config, agentID string) []string {
	ref := cfg.Agents.Defaults.Model
	if e, ok := cfg.Agents.Entries[agentID]; ok && e.Model != nil && e.Model.Primary != "" {
		ref = *e.Model
	}
	var refs []string
	if ref.Primary != "" {
		refs = append(refs, ref.Primary)
	}
	refs = append(refs, ref.Fallbacks...)
	if len(refs) > 0 {
		return refs
	}
	return r.detectOllama(ctx)
}

// detectOllama looks for a local Ollama once per process.
func (r *Runtime) detectOllama(ctx context.Context) []string {
	r.mu.Lock()
	if r.detected {
		ref := r.ollama
		r.mu.Unlock()
		if ref == "" {
			return nil
		}
		return []string{ref}
	}
	r.mu.Unlock()
	models, err := providers.DetectOllama(ctx, r.opt.HTTPClient, "")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detected = true
	if err == nil && len(models) > 0 {
		r.ollama = "ollama/" + models[0]
		r.log.Info("using the local Ollama", "model", r.ollama)
		return []string{r.ollama}
	}
	return nil
}
