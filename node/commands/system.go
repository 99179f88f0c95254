package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	maxWhichBins     = 1024
	maxRunTimeoutMs  = 24 * 60 * 60 * 1000
	maxRunArgs       = 10_000
	maxRunEnvEntries = 1_000
)

// execPolicy is system.run's allow state: the configured policy plus the
// allowlist, which "allow-always" decisions extend for the process lifetime.
type execPolicy struct {
	mode     string
	approver func(ctx context.Context, req ApprovalRequest) (string, error)

	mu    sync.Mutex
	names []string // bare binary names
	paths []string // absolute paths
}

func newExecPolicy(cfg Config, log *slog.Logger) *execPolicy {
	p := &execPolicy{mode: cfg.ExecPolicy, approver: cfg.Approver}
	switch p.mode {
	case "":
		p.mode = ExecPolicyAsk
	case ExecPolicyDeny, ExecPolicyAllowlist, ExecPolicyAsk:
	default:
		log.Warn("unknown exec policy; denying system.run", "execPolicy", p.mode)
		p.mode = ExecPolicyDeny
	}
	for _, e := range cfg.ExecAllowlist {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case filepath.IsAbs(e):
			p.paths = append(p.paths, filepath.Clean(e))
		case strings.ContainsAny(e, `/\`):
			log.Warn("ignoring exec allowlist entry: neither a binary name nor an absolute path", "entry", e)
		default:
			p.names = append(p.names, e)
		}
	}
	return p
}

// canonical resolves symlinks, falling back to the cleaned path.
func canonical(p string) string {
	if c, err := filepath.EvalSymlinks(p); err == nil {
		return c
	}
	return filepath.Clean(p)
}

// allowlisted reports whether the executable resolved (from argv0) matches
// an allowlist entry. A name entry N matches when argv0's base name is N and
// resolved is the file N resolves to on the node's PATH; a path entry P
// matches resolved itself, or the same file under another path with the
// same base name (/bin/ls vs /usr/bin/ls). Requiring equal base names keeps
// multi-call binaries (busybox) from widening an entry to every applet.
func (p *execPolicy) allowlisted(argv0, resolved string) bool {
	p.mu.Lock()
	names := append([]string(nil), p.names...)
	paths := append([]string(nil), p.paths...)
	p.mu.Unlock()
	base := filepath.Base(argv0)
	canonResolved := canonical(resolved)
	for _, n := range names {
		if n != base {
			continue
		}
		if lp, err := exec.LookPath(n); err == nil && filepath.IsAbs(lp) && canonical(lp) == canonResolved {
			return true
		}
	}
	for _, ap := range paths {
		if ap == filepath.Clean(resolved) {
			return true
		}
		if filepath.Base(ap) == filepath.Base(resolved) && canonical(ap) == canonResolved {
			return true
		}
	}
	return false
}

func (p *execPolicy) allowAlways(resolved string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	resolved = filepath.Clean(resolved)
	for _, e := range p.paths {
		if e == resolved {
			return
		}
	}
	p.paths = append(p.paths, resolved)
}

// authorize applies the policy to one resolved command; nil means run it.
func (p *execPolicy) authorize(ctx context.Context, req ApprovalRequest) error {
	argv0 := req.Command[0]
	if p.mode == ExecPolicyDeny {
		return newError(CodeSystemRunDenied, "exec denied by node policy (security=deny)")
	}
	if p.allowlisted(argv0, req.ResolvedPath) {
		return nil
	}
	if p.mode == ExecPolicyAllowlist {
		return newError(CodeSystemRunDenied, "exec denied: %q (%s) is not in the node exec allowlist", argv0, req.ResolvedPath)
	}
	if p.approver == nil {
		return newError(CodeSystemRunDenied, "exec denied: %q is not allowlisted and this node has no approval route", argv0)
	}
	decision, err := p.approver(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return newError(CodeTimeout, "exec approval timed out: %v", ctx.Err())
		}
		return newError(CodeSystemRunDenied, "exec denied: approval failed: %v", err)
	}
	switch decision {
	case DecisionAllowOnce:
		return nil
	case DecisionAllowAlways:
		p.allowAlways(req.ResolvedPath)
		return nil
	default:
		return newError(CodeSystemRunDenied, "exec denied: approval denied")
	}
}

// resolveExecutable finds the file argv0 names: a path (relative ones
// against cwd) or a name looked up on the node's own PATH — never on a PATH
// from the request env, so the allowlist check and what runs agree.
func resolveExecutable(argv0, cwd string) (string, error) {
	if strings.ContainsRune(argv0, '/') || strings.ContainsRune(argv0, filepath.Separator) {
		p := argv0
		if !filepath.IsAbs(p) {
			base, err := filepath.Abs(cwd) // "" is the node's working directory
			if err != nil {
				return "", err
			}
			p = filepath.Join(base, p)
		}
		return exec.LookPath(filepath.Clean(p))
	}
	p, err := exec.LookPath(argv0)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		abs, aerr := filepath.Abs(p)
		if aerr != nil {
			return "", aerr
		}
		p = abs
	}
	return p, nil
}

// --- system.which ---

type whichParams struct {
	Bins *[]string `json:"bins"`
}

func (r *Registry) systemWhich(_ context.Context, raw json.RawMessage) (any, error) {
	var p whichParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if p.Bins == nil {
		return nil, invalid("bins is required (an array of binary names)")
	}
	if len(*p.Bins) > maxWhichBins {
		return nil, invalid("bins has %d entries; at most %d are allowed", len(*p.Bins), maxWhichBins)
	}
	out := map[string]string{}
	for i, b := range *p.Bins {
		if strings.TrimSpace(b) == "" || strings.ContainsRune(b, 0) {
			return nil, invalid("bins[%d] must be a non-empty binary name", i)
		}
		if path, err := exec.LookPath(b); err == nil {
			if abs, aerr := filepath.Abs(path); aerr == nil {
				out[b] = abs
			}
		}
	}
	return map[string]any{"bins": out}, nil
}

// --- system.run ---

// runParams is system.run's request.
type runParams struct {
	Command              *[]string         `json:"command"`
	RawCommand           *string           `json:"rawCommand"`
	SystemRunPlan        json.RawMessage   `json:"systemRunPlan"`
	Cwd                  *string           `json:"cwd"`
	Env                  map[string]string `json:"env"`
	TimeoutMs            *float64          `json:"timeoutMs"`
	AgentID              *string           `json:"agentId"`
	SessionKey           *string           `json:"sessionKey"`
	RunID                *string           `json:"runId"`
	SuppressNotifyOnExit *bool             `json:"suppressNotifyOnExit"`
	NeedsScreenRecording *bool             `json:"needsScreenRecording"`
}

// runRequest is a validated system.run request.
type runRequest struct {
	argv       []string
	rawCommand string
	cwd        string
	env        map[string]string
	timeout    time.Duration
	agentID    string
	sessionKey string
	runID      string
}

// blockedEnvKey reports request env keys that could inject code into the
// command's dynamic loader or shell startup.
func blockedEnvKey(k string) bool {
	switch {
	case strings.HasPrefix(k, "LD_"), strings.HasPrefix(k, "DYLD_"), strings.HasPrefix(k, "BASH_FUNC_"):
		return true
	case k == "BASH_ENV", k == "ENV":
		return true
	}
	return false
}

// parseRunParams validates system.run params. It does not touch the host:
// the handler checks cwd and resolves the executable.
func parseRunParams(raw json.RawMessage) (*runRequest, error) {
	var p runParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if p.Command == nil || len(*p.Command) == 0 {
		return nil, invalid("command is required (a non-empty argv array of strings)")
	}
	argv := *p.Command
	if len(argv) > maxRunArgs {
		return nil, invalid("command has %d arguments; at most %d are allowed", len(argv), maxRunArgs)
	}
	if strings.TrimSpace(argv[0]) == "" {
		return nil, invalid("command[0] must name a program")
	}
	for i, a := range argv {
		if strings.ContainsRune(a, 0) {
			return nil, invalid("command[%d] contains a NUL byte", i)
		}
	}
	req := &runRequest{argv: append([]string(nil), argv...)}
	if p.RawCommand != nil {
		req.rawCommand = *p.RawCommand
	}
	if p.Cwd != nil {
		if strings.ContainsRune(*p.Cwd, 0) {
			return nil, invalid("cwd contains a NUL byte")
		}
		req.cwd = *p.Cwd
	}
	if len(p.Env) > maxRunEnvEntries {
		return nil, invalid("env has %d entries; at most %d are allowed", len(p.Env), maxRunEnvEntries)
	}
	for k, v := range p.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, invalid("env key %q is not a valid variable name", k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, invalid("env value of %s contains a NUL byte", k)
		}
		if blockedEnvKey(k) {
			return nil, invalid("env key %s is not allowed (it can inject code into the command)", k)
		}
	}
	req.env = p.Env
	ms, err := intParam("timeoutMs", p.TimeoutMs, 0, 0, maxRunTimeoutMs)
	if err != nil {
		return nil, err
	}
	req.timeout = time.Duration(ms) * time.Millisecond
	if p.AgentID != nil {
		req.agentID = *p.AgentID
	}
	if p.SessionKey != nil {
		req.sessionKey = *p.SessionKey
	}
	if p.RunID != nil {
		req.runID = *p.RunID
	}
	return req, nil
}

// runResult is system.run's payload.
type runResult struct {
	ExitCode *int    `json:"exitCode"`
	TimedOut bool    `json:"timedOut"`
	Success  bool    `json:"success"`
	Stdout   string  `json:"stdout"`
	Stderr   string  `json:"stderr"`
	Error    *string `json:"error"`
}

func strPtr(s string) *string { return &s }

func (r *Registry) systemRun(ctx context.Context, raw json.RawMessage) (any, error) {
	req, err := parseRunParams(raw)
	if err != nil {
		return nil, err
	}
	if r.exec.mode == ExecPolicyDeny {
		return nil, newError(CodeSystemRunDenied, "exec denied by node policy (security=deny)")
	}
	if req.cwd != "" {
		st, err := os.Stat(req.cwd)
		if err != nil {
			return nil, invalid("cwd %q does not exist", req.cwd)
		}
		if !st.IsDir() {
			return nil, invalid("cwd %q is not a directory", req.cwd)
		}
	}
	resolved, err := resolveExecutable(req.argv[0], req.cwd)
	if err != nil {
		// Nothing to authorize: report the spawn failure like a finished run.
		return &runResult{Error: strPtr(spawnError(req.argv[0], err))}, nil
	}
	text := req.rawCommand
	if text == "" {
		text = shellQuote(req.argv)
	}
	areq := ApprovalRequest{
		Command:      append([]string(nil), req.argv...),
		CommandText:  text,
		Cwd:          req.cwd,
		ResolvedPath: resolved,
		AgentID:      req.agentID,
		SessionKey:   req.sessionKey,
	}
	if err := r.exec.authorize(ctx, areq); err != nil {
		r.log.Info("system.run denied", "command", text, "reason", err)
		return nil, err
	}

	var env []string // nil: inherit, with PWD following Dir (os/exec does that)
	if len(req.env) > 0 {
		over := req.env
		if _, set := over["PWD"]; !set && req.cwd != "" {
			if abs, aerr := filepath.Abs(req.cwd); aerr == nil {
				over = maps.Clone(over)
				over["PWD"] = abs
			}
		}
		env = overlayEnv(os.Environ(), over)
	}
	runCtx, stop := r.bind(ctx)
	defer stop()
	r.log.Info("system.run", "command", text, "path", resolved, "cwd", req.cwd, "runId", req.runID)
	pr := runProcess(runCtx, procSpec{
		path:    resolved,
		argv:    req.argv,
		dir:     req.cwd,
		env:     env,
		timeout: req.timeout,
		maxOut:  r.cfg.MaxOutputBytes,
	})
	res := &runResult{Stdout: pr.stdout.String(), Stderr: pr.stderr.String(), ExitCode: pr.exitCode}
	switch {
	case pr.startErr != nil:
		res.Error = strPtr(spawnError(req.argv[0], pr.startErr))
	case pr.timedOut:
		res.TimedOut = true
		res.Error = strPtr(fmt.Sprintf("command timed out after %d ms; its process group was killed", req.timeout.Milliseconds()))
	case pr.canceled:
		res.TimedOut = true
		res.Error = strPtr("command canceled (invoke deadline or node shutdown); its process group was killed")
	case pr.exitCode == nil:
		res.Error = strPtr("command terminated abnormally: " + pr.state)
	default:
		res.Success = *pr.exitCode == 0
	}
	if res.TimedOut || pr.startErr != nil {
		res.Success = false
	}
	return res, nil
}

func spawnError(argv0 string, err error) string {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return fmt.Sprintf("spawn %s: %v", argv0, ee.Err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("spawn %s: %v", argv0, pe.Err)
	}
	return fmt.Sprintf("spawn %s: %v", argv0, err)
}

// overlayEnv returns base with the overrides applied (later keys win).
func overlayEnv(base []string, over map[string]string) []string {
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := over[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range over {
		out = append(out, k+"="+v)
	}
	return out
}

// shellQuote renders argv as a POSIX shell command line.
func shellQuote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./=:,+@%", c))
		}) < 0 {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}

func (r *Registry) addSystem() {
	r.exec = newExecPolicy(r.cfg, r.log)
	r.add(true,
		Command{Name: "system.which", Cap: "system", Handler: r.systemWhich},
		Command{Name: "system.run", Cap: "system", Handler: r.systemRun},
	)
}
