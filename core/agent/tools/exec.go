package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// Exec approval policies.
const (
	// ExecPolicyDeny refuses every command.
	ExecPolicyDeny = "deny"
	// ExecPolicyAllowlist runs a command only when every program in it is
	// on the allowlist.
	ExecPolicyAllowlist = "allowlist"
	// ExecPolicyAsk runs allowlisted commands and asks an approver about
	// the rest.
	ExecPolicyAsk = "ask"
	// ExecPolicyFull runs every command without approval (OpenClaw's
	// security "full"); the operator opts into it explicitly.
	ExecPolicyFull = "full"
)

// Approval decisions an ExecAsk returns. "" means no approver could be
// reached.
const (
	ExecAllowOnce   = "allow-once"
	ExecAllowAlways = "allow-always"
	ExecDeny        = "deny"
)

// exec limits.
const (
	ExecDefaultTimeout = 120 * time.Second
	ExecMaxTimeout     = 600 * time.Second
	ExecMaxOutput      = 200 << 10 // stdout+stderr returned (head and tail kept)
)

// ExecRequest is a command waiting for approval.
type ExecRequest struct {
	Command string `json:"command"`
	Cwd     string `json:"cwd"`
	// Programs are the program names of the command line's simple
	// commands, empty when the line uses shell features that cannot be
	// vetted (then allow-always cannot be remembered).
	Programs   []string `json:"programs,omitempty"`
	TimeoutMs  int64    `json:"timeoutMs"`
	AgentID    string   `json:"agentId,omitempty"`
	SessionKey string   `json:"sessionKey,omitempty"`
	RunID      string   `json:"runId,omitempty"`
	ToolCallID string   `json:"toolCallId,omitempty"`
}

// ExecAsk asks an approver about a command. It returns ExecAllowOnce,
// ExecAllowAlways, ExecDeny, or "" when no approval client is connected.
type ExecAsk func(ctx context.Context, req ExecRequest) (decision string, err error)

// Exec is the `exec` tool: a /bin/sh command on the gateway host, behind
// the approvals policy. Use it by pointer: allow-always decisions update
// Allowlist in place.
type Exec struct {
	// Policy is ExecPolicyDeny ("" counts as deny), ExecPolicyAllowlist,
	// ExecPolicyAsk or ExecPolicyFull.
	Policy string
	// Allowlist holds program names ("git", "make") or exact program paths
	// ("/usr/local/bin/task") every program of a command must match.
	Allowlist []string
	// Ask routes a command to an approver under ExecPolicyAsk; nil means
	// no route (commands off the allowlist are refused).
	Ask ExecAsk
	// Env is the commands' environment. nil: the gateway's own, without
	// the gateway's auth credentials (gatewayCredentialEnv).
	Env []string

	mu sync.Mutex // guards Allowlist
}

// NewExec returns the exec tool with an approvals policy.
func NewExec(policy string, allowlist []string, ask ExecAsk) *Exec {
	return &Exec{Policy: policy, Allowlist: slices.Clone(allowlist), Ask: ask}
}

// ExecDetails are an exec result's Details.
type ExecDetails struct {
	ExitCode   int    `json:"exitCode"` // -1 when killed by a signal or timed out
	DurationMs int64  `json:"durationMs"`
	TimedOut   bool   `json:"timedOut,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
	Cwd        string `json:"cwd"`
	Approval   string `json:"approval,omitempty"` // "allowlist" | "allow-once" | "allow-always" | "full"
}

// Spec implements Tool.
func (*Exec) Spec() providers.Tool {
	return providers.Tool{
		Name: "exec",
		Description: "Run a shell command (/bin/sh -c) on the gateway host, in the agent workspace unless workdir says otherwise. " +
			"Returns combined stdout and stderr (at most 200 KiB; the middle of longer output is cut) and the exit code. " +
			"Non-interactive: stdin is empty, so do not run commands that wait for input. " +
			"Commands are subject to the operator's exec approval policy and may be refused or held for a human to approve. " +
			"Timeout 120 s by default, at most 600 s; on timeout the command and its child processes are killed.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "command": {"type": "string", "description": "Shell command to run."},
    "workdir": {"type": "string", "description": "Working directory, relative to the workspace (or absolute inside it). Default: the workspace."},
    "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 600, "description": "Kill the command after this many seconds. Default 120, at most 600."}
  },
  "required": ["command"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (e *Exec) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		Command        string   `json:"command"`
		Workdir        string   `json:"workdir"`
		Cwd            string   `json:"cwd"`
		TimeoutSeconds *float64 `json:"timeoutSeconds"`
		TimeoutMs      *int64   `json:"timeoutMs"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("exec", err), nil
	}
	if strings.TrimSpace(a.Command) == "" {
		return Error("exec: command is required"), nil
	}
	if strings.ContainsRune(a.Command, 0) {
		return Error("exec: command contains a NUL byte"), nil
	}
	timeout := ExecDefaultTimeout
	switch {
	case a.TimeoutMs != nil && *a.TimeoutMs > 0:
		timeout = time.Duration(*a.TimeoutMs) * time.Millisecond
	case a.TimeoutSeconds != nil && *a.TimeoutSeconds > 0:
		timeout = time.Duration(*a.TimeoutSeconds * float64(time.Second))
	}
	timeout = min(timeout, ExecMaxTimeout)

	dir, err := resolveWorkspacePath(call.Workspace, firstNonEmpty(a.Workdir, a.Cwd))
	if err != nil {
		return Error("exec: workdir: " + err.Error()), nil
	}
	if st, err := os.Stat(dir.abs); err != nil {
		return Error("exec: workdir: " + fsError(dir, err)), nil
	} else if !st.IsDir() {
		return Error(fmt.Sprintf("exec: workdir %s is not a directory", dir.shown)), nil
	}

	programs, vetted := commandNames(a.Command)
	req := ExecRequest{
		Command: a.Command, Cwd: dir.abs, TimeoutMs: timeout.Milliseconds(),
		AgentID: call.AgentID, SessionKey: call.SessionKey, RunID: call.RunID, ToolCallID: call.ID,
	}
	if vetted {
		req.Programs = programs
	}
	approval, note, refusal, err := e.authorize(ctx, req)
	if err != nil {
		return Result{}, err
	}
	if refusal != "" {
		return Result{Content: []providers.Part{{Type: "text", Text: "exec: " + refusal}}, IsError: true,
			Details: map[string]any{"denied": true, "command": a.Command}}, nil
	}

	env := e.Env
	if env == nil {
		env = gatewayEnv()
	}
	res := runShell(ctx, a.Command, dir.abs, env, timeout)
	res.details.Approval = approval
	if res.startErr != nil {
		return Error("exec: could not start /bin/sh: " + res.startErr.Error()), nil
	}
	var b strings.Builder
	if note != "" {
		b.WriteString("[" + note + "]\n")
	}
	switch {
	case res.output == "":
		b.WriteString("(no output)\n\n[")
	case strings.HasSuffix(res.output, "\n"):
		b.WriteString(res.output + "\n[")
	default:
		b.WriteString(res.output + "\n\n[")
	}
	isErr := true
	switch {
	case res.aborted:
		fmt.Fprintf(&b, "aborted after %s: the command and its child processes were killed", roundDur(res.duration))
	case res.details.TimedOut:
		fmt.Fprintf(&b, "timed out after %s: the command and its child processes were killed", roundDur(timeout))
	case res.signal != "":
		fmt.Fprintf(&b, "killed by signal: %s", res.signal)
	default:
		fmt.Fprintf(&b, "exit code %d, %s", res.details.ExitCode, roundDur(res.duration))
		isErr = res.details.ExitCode != 0
	}
	if res.pipesHeld {
		b.WriteString("; background processes kept running and their later output is not shown")
	}
	b.WriteString("]")
	return Result{Content: []providers.Part{{Type: "text", Text: b.String()}}, IsError: isErr, Details: res.details}, nil
}

// authorize applies the approvals policy. It returns how the command was
// approved, a note for the result, or a refusal the model sees.
func (e *Exec) authorize(ctx context.Context, req ExecRequest) (approval, note, refusal string, err error) {
	switch e.Policy {
	case ExecPolicyFull:
		return ExecPolicyFull, "", "", nil
	case ExecPolicyDeny, "":
		return "", "", "running commands is disabled: the exec approvals policy is \"deny\". " +
			"An operator can set it to \"allowlist\" or \"ask\" to let commands run.", nil
	case ExecPolicyAllowlist, ExecPolicyAsk:
	default:
		return "", "", fmt.Sprintf("the exec approvals policy %q is not one of deny, allowlist, ask, full; refusing to run commands until an operator fixes it", e.Policy), nil
	}

	missing := e.notAllowlisted(req.Programs)
	if len(req.Programs) > 0 && len(missing) == 0 {
		return "allowlist", "", "", nil
	}
	if e.Policy == ExecPolicyAllowlist {
		if len(req.Programs) == 0 {
			return "", "", "this command line uses shell features the allowlist cannot vet (command substitution, subshells, " +
				"shell keywords, here-documents, or a program named by a variable). Run plain commands, pipelines or " +
				"&&-chains of allowlisted programs instead.", nil
		}
		return "", "", fmt.Sprintf("%s %s not on the exec allowlist (policy \"allowlist\"). An operator can add %s to the allowlist, "+
			"or switch the policy to \"ask\" to approve commands one by one.", quoteList(missing), isAre(len(missing)), itThem(len(missing))), nil
	}

	if e.Ask == nil {
		return "", "", noApproverText, nil
	}
	decision, err := e.Ask(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return "", "", "", ctx.Err()
		}
		return "", "", "the approval request failed: " + err.Error(), nil
	}
	switch decision {
	case ExecAllowOnce:
		return ExecAllowOnce, "", "", nil
	case ExecAllowAlways:
		added, skipped := e.remember(req.Programs)
		switch {
		case len(req.Programs) == 0:
			note = "approved; this command line cannot be vetted by program name, so it will be asked about again next time"
		case len(added) > 0 && len(skipped) > 0:
			note = fmt.Sprintf("approved; %s added to the exec allowlist; %s run other programs and stay approval-gated", quoteList(added), quoteList(skipped))
		case len(added) > 0:
			note = fmt.Sprintf("approved; %s added to the exec allowlist", quoteList(added))
		case len(skipped) > 0:
			note = fmt.Sprintf("approved; %s run other programs and stay approval-gated", quoteList(skipped))
		}
		return ExecAllowAlways, note, "", nil
	case ExecDeny:
		return "", "", "the approver denied this command. Do not retry it; ask the user how to proceed.", nil
	case "":
		return "", "", noApproverText, nil
	default:
		return "", "", fmt.Sprintf("the approver answered %q, which is not allow-once, allow-always or deny; treated as deny", decision), nil
	}
}

const noApproverText = "this command needs approval, but no approval client is connected to approve it. " +
	"Ask the user to connect an approval client (the Pincer app or the Control UI) or to change the exec approvals policy " +
	"(allowlist the program, or set the policy to \"allowlist\" or \"full\")."

// notAllowlisted returns the programs the allowlist does not admit.
func (e *Exec) notAllowlisted(programs []string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var missing []string
	for _, p := range programs {
		if !slices.Contains(e.Allowlist, p) && !slices.Contains(missing, p) {
			missing = append(missing, p)
		}
	}
	return missing
}

// remember adds approved programs to the allowlist, except dispatchers
// (env, sudo, sh, python…) whose approval would cover any program.
func (e *Exec) remember(programs []string) (added, skipped []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range programs {
		name := p[strings.LastIndexByte(p, '/')+1:]
		switch {
		case dispatchers[name]:
			if !slices.Contains(skipped, p) {
				skipped = append(skipped, p)
			}
		case !slices.Contains(e.Allowlist, p):
			e.Allowlist = append(e.Allowlist, p)
			added = append(added, p)
		}
	}
	return added, skipped
}

// AllowlistSnapshot returns the current allowlist, including programs
// added by allow-always decisions.
func (e *Exec) AllowlistSnapshot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.Allowlist)
}

type shellResult struct {
	output    string
	details   ExecDetails
	duration  time.Duration
	signal    string
	aborted   bool
	pipesHeld bool
	startErr  error
}

// runShell runs command in its own process group, so a timeout or abort
// kills everything it started, not just the shell.
func runShell(ctx context.Context, command, dir string, env []string, timeout time.Duration) shellResult {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = append(slices.Clip(env), "PINCER_SHELL=exec", "OPENCLAW_SHELL=exec")
	out := newCapBuffer(ExecMaxOutput)
	cmd.Stdout, cmd.Stderr = out, out
	// Background children that inherit stdout would otherwise hold Wait
	// until they exit.
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)

	start := time.Now()
	err := cmd.Run()
	res := shellResult{duration: time.Since(start), details: ExecDetails{Cwd: dir, ExitCode: -1}}
	res.details.DurationMs = res.duration.Milliseconds()
	if cmd.ProcessState == nil {
		res.startErr = err
		return res
	}
	res.output, res.details.Truncated = out.String()
	res.details.ExitCode = cmd.ProcessState.ExitCode()
	switch {
	case ctx.Err() != nil:
		res.aborted = true
		res.details.ExitCode = -1
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		res.details.TimedOut = true
		res.details.ExitCode = -1
	case res.details.ExitCode == -1:
		res.signal = exitSignal(cmd.ProcessState)
	}
	res.pipesHeld = errors.Is(err, exec.ErrWaitDelay)
	return res
}

// gatewayCredentialEnv are the gateway's own auth credentials: a command
// the model runs has no business holding the key to the control plane.
var gatewayCredentialEnv = []string{
	"PINCER_GATEWAY_TOKEN", "PINCER_GATEWAY_PASSWORD", "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD",
}

func gatewayEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(gatewayCredentialEnv, name)
	})
}

func roundDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// capBuffer keeps the head and the tail of a long output and counts what
// was dropped between them: the end of a build log is where the error is.
type capBuffer struct {
	mu       sync.Mutex
	head     []byte
	tail     []byte
	half     int
	dropped  int64
	overflow bool
}

func newCapBuffer(limit int) *capBuffer { return &capBuffer{half: limit / 2} }

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	if room := c.half - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	c.tail = append(c.tail, p...)
	if over := len(c.tail) - c.half; over > 0 {
		c.dropped += int64(over)
		c.overflow = true
		if cap(c.tail) > 4*c.half {
			c.tail = append([]byte(nil), c.tail[over:]...)
		} else {
			c.tail = c.tail[over:]
		}
	}
	return n, nil
}

// String returns the kept output and whether some was dropped.
func (c *capBuffer) String() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.overflow {
		return strings.ToValidUTF8(string(c.head)+string(c.tail), "\uFFFD"), false
	}
	tail := c.tail
	for len(tail) > 0 && tail[0]&0xC0 == 0x80 {
		tail = tail[1:] // start the tail on a rune boundary
	}
	return strings.ToValidUTF8(string(c.head), "\uFFFD") +
		fmt.Sprintf("\n\n[… %d bytes of output omitted …]\n\n", c.dropped) +
		strings.ToValidUTF8(string(tail), "\uFFFD"), true
}
