package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
)

// Version is reported as appVersion by device.info; the build sets it.
var Version = "dev"

// Handler answers one command. params is the request's params JSON (nil when
// absent). A returned error may be an *Error; any other error is reported
// as UNAVAILABLE.
type Handler func(ctx context.Context, params json.RawMessage) (any, error)

// Command is one invocable node command and the capability category it
// belongs to.
type Command struct {
	Name    string
	Cap     string
	Handler Handler
}

// Exec policies for system.run.
const (
	ExecPolicyDeny      = "deny"
	ExecPolicyAllowlist = "allowlist"
	ExecPolicyAsk       = "ask"
)

// Approval decisions an Approver may return.
const (
	DecisionAllowOnce   = "allow-once"
	DecisionAllowAlways = "allow-always"
	DecisionDeny        = "deny"
)

// Config tunes Probe. The zero value is usable: system.run then asks (and,
// with no Approver, denies) every command.
type Config struct {
	// ExecPolicy governs system.run: "deny" refuses everything, "allowlist"
	// runs only ExecAllowlist entries, "ask" (the default when empty) runs
	// allowlisted entries and asks Approver about the rest. Any other value
	// is treated as "deny".
	ExecPolicy string
	// ExecAllowlist holds binary names (matched against the executable that
	// name resolves to on the node's PATH) or absolute paths. Allowlisting a
	// shell or an interpreter allows whatever it is asked to run.
	ExecAllowlist []string
	// Approver decides commands that miss the allowlist under "ask" and
	// returns "allow-once", "allow-always" or "deny". nil denies.
	Approver func(ctx context.Context, req ApprovalRequest) (decision string, err error)
	// Location is the fixed position location.get reports; nil (or an
	// out-of-range position) makes it answer LOCATION_UNAVAILABLE and leaves
	// the "location" cap undeclared.
	Location *StaticLocation
	// DisplayName is device.info's deviceName (default: the hostname).
	DisplayName string
	// MaxOutputBytes caps system.run stdout and stderr each (default 200000).
	MaxOutputBytes int
	// ChromiumPath overrides the Chromium lookup of the canvas backend
	// (default: chromium, chromium-browser, google-chrome or
	// google-chrome-stable on PATH). canvas.* are declared only when that
	// binary is found and a headless browser actually starts.
	ChromiumPath string
	// FFmpegPath overrides the "ffmpeg" PATH lookup of camera.* and screen.*.
	FFmpegPath string
	// Logger receives probe and backend diagnostics (default: discarded).
	Logger *slog.Logger
}

// ApprovalRequest describes a system.run the node asks its Approver about.
type ApprovalRequest struct {
	// Command is the argv as requested.
	Command []string
	// CommandText is rawCommand when given, else the argv shell-quoted.
	CommandText string
	// Cwd is the requested working directory ("" = the node's own).
	Cwd string
	// ResolvedPath is the absolute executable that would run; it is what
	// "allow-always" adds to the allowlist.
	ResolvedPath string
	AgentID      string
	SessionKey   string
}

// StaticLocation is a configured, fixed device position.
type StaticLocation struct {
	Lat, Lon float64
	// AccuracyMeters is reported as is; 0 reports a coarse 1000 m.
	AccuracyMeters float64
	// Label names the place in the node's logs; it is not sent.
	Label string
}

// Registry is the set of commands a node host declares and answers.
type Registry struct {
	cfg      Config
	log      *slog.Logger
	commands map[string]Command
	caps     map[string]bool
	exec     *execPolicy
	location *StaticLocation
	media    *mediaBackend
	canvas   *canvasBackend

	// base is cancelled by Close; handlers that start processes bind to it
	// so Close stops work in flight.
	base    context.Context
	cancel  context.CancelFunc
	closeMu sync.Mutex
	closers []func() error
}

// Probe builds a Registry by probing the host: a capability or command is
// included only when its backend works here. Probing runs external tools
// (ffmpeg, Chromium) with short timeouts bounded by ctx.
func Probe(ctx context.Context, cfg Config) *Registry {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxOutputBytes <= 0 {
		cfg.MaxOutputBytes = defaultMaxOutputBytes
	}
	r := &Registry{
		cfg:      cfg,
		log:      cfg.Logger,
		commands: map[string]Command{},
		caps:     map[string]bool{},
	}
	r.base, r.cancel = context.WithCancel(context.Background())
	r.addSystem()
	r.addDevice()
	r.addLocation()
	r.addMedia(ctx)
	r.addCanvas(ctx)
	r.log.Info("node commands probed", "caps", r.Caps(), "commands", len(r.commands))
	return r
}

// add registers cmd and declares its cap.
func (r *Registry) add(declareCap bool, cmds ...Command) {
	for _, c := range cmds {
		r.commands[c.Name] = c
		if declareCap {
			r.caps[c.Cap] = true
		}
	}
}

// Commands returns the sorted command names.
func (r *Registry) Commands() []string {
	out := make([]string, 0, len(r.commands))
	for name := range r.commands {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Caps returns the sorted capability categories.
func (r *Registry) Caps() []string {
	out := make([]string, 0, len(r.caps))
	for c := range r.caps {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Invoke runs command with paramsJSON (the node.invoke.request paramsJSON;
// "" means no params). A failure is always an *Error.
func (r *Registry) Invoke(ctx context.Context, command string, paramsJSON string) (payload any, err error) {
	cmd, ok := r.commands[command]
	if !ok {
		return nil, invalid("unknown command: %s", command)
	}
	var params json.RawMessage
	if s := strings.TrimSpace(paramsJSON); s != "" {
		if !json.Valid([]byte(s)) {
			return nil, invalid("paramsJSON is not valid JSON")
		}
		params = json.RawMessage(s)
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("node command panicked", "command", command, "panic", p, "stack", string(debug.Stack()))
			payload, err = nil, newError(CodeUnavailable, "internal error in %s: %v", command, p)
		}
	}()
	payload, err = cmd.Handler(ctx, params)
	if err != nil {
		return nil, asError(err)
	}
	return payload, nil
}

// bind derives a context from ctx that is also cancelled by Close.
func (r *Registry) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.base, cancel)
	return ctx, func() { stop(); cancel() }
}

// onClose registers a cleanup for Close.
func (r *Registry) onClose(f func() error) {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	r.closers = append(r.closers, f)
}

// Close releases backend resources (child processes, browsers). It is safe
// to call more than once.
func (r *Registry) Close() error {
	r.closeMu.Lock()
	closers := r.closers
	r.closers = nil
	r.closeMu.Unlock()
	r.cancel()
	var errs []string
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("close node commands: %s", strings.Join(errs, "; "))
	}
	return nil
}
