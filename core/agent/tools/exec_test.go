package tools

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestExecDenyPolicy(t *testing.T) {
	ws := t.TempDir()
	for _, policy := range []string{"deny", ""} {
		e := NewExec(policy, []string{"touch"}, nil)
		wantErr(t, run(t, e, ws, map[string]any{"command": "touch ran"}), "disabled", "\"deny\"")
		if fileExists(filepath.Join(ws, "ran")) {
			t.Fatal("a denied command ran")
		}
	}
	wantErr(t, run(t, NewExec("yolo", nil, nil), ws, map[string]any{"command": "touch ran"}), "not one of")
}

func TestExecAllowlistPolicy(t *testing.T) {
	ws := t.TempDir()
	e := NewExec("allowlist", []string{"echo", "tr"}, nil)
	got := wantOK(t, run(t, e, ws, map[string]any{"command": "echo hello | tr a-z A-Z"}))
	if !strings.HasPrefix(got, "HELLO\n") || !strings.Contains(got, "[exit code 0") {
		t.Fatalf("allowlisted = %q", got)
	}
	for cmd, want := range map[string]string{
		"echo hi; touch ran":          "`touch` is not on the exec allowlist",
		"echo hi && touch ran":        "`touch`",
		"echo hi | sh -c 'touch ran'": "`sh`",
		"touch ran":                   "An operator can add it",
		"echo $(touch ran)":           "cannot vet",
		"echo `touch ran`":            "cannot vet",
		"(touch ran)":                 "cannot vet",
		"if true; then touch ran; fi": "cannot vet",
		"X=/usr/bin/touch; $X ran":    "cannot vet",
		"echo \"$(touch ran)\"":       "cannot vet",
	} {
		wantErr(t, run(t, e, ws, map[string]any{"command": cmd}), want)
	}
	if fileExists(filepath.Join(ws, "ran")) {
		t.Fatal("a refused command ran")
	}
}

func TestExecFullPolicy(t *testing.T) {
	ws := t.TempDir()
	r := run(t, NewExec("full", nil, nil), ws, map[string]any{"command": "touch ran; echo $(echo nested)"})
	if got := wantOK(t, r); !strings.Contains(got, "nested") || !fileExists(filepath.Join(ws, "ran")) {
		t.Fatalf("full = %q", got)
	}
	if r.Details.(ExecDetails).Approval != "full" {
		t.Fatalf("details = %+v", r.Details)
	}
}

type fakeApprover struct {
	mu       sync.Mutex
	decision string
	err      error
	asked    []ExecRequest
}

func (f *fakeApprover) ask(_ context.Context, req ExecRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, req)
	return f.decision, f.err
}

func TestExecAskPolicy(t *testing.T) {
	ws := t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("allow-once", func(t *testing.T) {
		ap := &fakeApprover{decision: "allow-once"}
		e := NewExec("ask", []string{"echo"}, ap.ask)
		// Allowlisted programs run without asking.
		wantOK(t, run(t, e, ws, map[string]any{"command": "echo fine"}))
		if len(ap.asked) != 0 {
			t.Fatal("asked about an allowlisted command")
		}
		call := Call{Workspace: ws, AgentID: "main", SessionKey: "agent:main:main", RunID: "r1", ID: "c1"}
		wantOK(t, runCall(t, e, call, map[string]any{"command": "touch once && echo done", "workdir": "sub", "timeoutSeconds": 5}))
		if !fileExists(filepath.Join(ws, "sub", "once")) {
			t.Fatal("approved command did not run in workdir")
		}
		wantOK(t, runCall(t, e, call, map[string]any{"command": "touch twice", "workdir": "sub"}))
		if len(ap.asked) != 2 {
			t.Fatalf("asked %d times, want 2 (allow-once is not remembered)", len(ap.asked))
		}
		req := ap.asked[0]
		realWS, _ := filepath.EvalSymlinks(ws)
		if req.Command != "touch once && echo done" || req.Cwd != filepath.Join(realWS, "sub") || !slices.Equal(req.Programs, []string{"touch", "echo"}) ||
			req.TimeoutMs != 5000 || req.AgentID != "main" || req.SessionKey != "agent:main:main" || req.RunID != "r1" || req.ToolCallID != "c1" {
			t.Fatalf("request = %+v", req)
		}
		if got := e.AllowlistSnapshot(); !slices.Equal(got, []string{"echo"}) {
			t.Fatalf("allowlist = %v", got)
		}
	})

	t.Run("allow-always", func(t *testing.T) {
		ap := &fakeApprover{decision: "allow-always"}
		e := NewExec("ask", nil, ap.ask)
		got := wantOK(t, run(t, e, ws, map[string]any{"command": "touch a1 | env true"}))
		if !strings.Contains(got, "`touch` added to the exec allowlist") || !strings.Contains(got, "`env` run other programs") {
			t.Fatalf("allow-always = %q", got)
		}
		if got := e.AllowlistSnapshot(); !slices.Equal(got, []string{"touch"}) {
			t.Fatalf("allowlist = %v (dispatchers like env must not be remembered)", got)
		}
		ap.decision = "deny"
		wantOK(t, run(t, e, ws, map[string]any{"command": "touch a2"}))
		if len(ap.asked) != 1 || !fileExists(filepath.Join(ws, "a2")) {
			t.Fatalf("asked %d times; a remembered program must run without asking", len(ap.asked))
		}
		// A line that cannot be vetted is approved once, never remembered.
		ap.decision = "allow-always"
		got = wantOK(t, run(t, e, ws, map[string]any{"command": "touch $(echo a3)"}))
		if !strings.Contains(got, "asked about again") || len(e.AllowlistSnapshot()) != 1 {
			t.Fatalf("unvettable allow-always = %q, allowlist %v", got, e.AllowlistSnapshot())
		}
	})

	t.Run("deny", func(t *testing.T) {
		ap := &fakeApprover{decision: "deny"}
		e := NewExec("ask", nil, ap.ask)
		wantErr(t, run(t, e, ws, map[string]any{"command": "touch denied"}), "denied")
		if fileExists(filepath.Join(ws, "denied")) {
			t.Fatal("denied command ran")
		}
		ap.decision = "maybe"
		wantErr(t, run(t, e, ws, map[string]any{"command": "touch denied"}), "treated as deny")
		ap.decision, ap.err = "", errors.New("approvals socket closed")
		wantErr(t, run(t, e, ws, map[string]any{"command": "touch denied"}), "approvals socket closed")
		if fileExists(filepath.Join(ws, "denied")) {
			t.Fatal("denied command ran")
		}
	})

	t.Run("no route", func(t *testing.T) {
		ap := &fakeApprover{decision: ""}
		for _, e := range []*Exec{NewExec("ask", nil, ap.ask), NewExec("ask", nil, nil)} {
			wantErr(t, run(t, e, ws, map[string]any{"command": "touch unrouted"}), "no approval client is connected", "change the exec approvals policy")
		}
		if fileExists(filepath.Join(ws, "unrouted")) {
			t.Fatal("unapproved command ran")
		}
	})

	t.Run("aborted while asking", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		e := NewExec("ask", nil, func(ctx context.Context, _ ExecRequest) (string, error) {
			cancel()
			<-ctx.Done()
			return "", ctx.Err()
		})
		_, err := e.Run(ctx, Call{Workspace: ws, Args: []byte(`{"command":"true"}`)})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestExecResults(t *testing.T) {
	ws := t.TempDir()
	e := NewExec("full", nil, nil)

	r := run(t, e, ws, map[string]any{"command": "echo out; echo err >&2; exit 3"})
	got := wantErr(t, r, "out\n", "err\n", "[exit code 3")
	if d := r.Details.(ExecDetails); d.ExitCode != 3 || d.TimedOut {
		t.Fatalf("details = %+v (%s)", d, got)
	}
	if got := wantOK(t, run(t, e, ws, map[string]any{"command": "true"})); !strings.HasPrefix(got, "(no output)") {
		t.Fatalf("no output = %q", got)
	}
	// stdin is empty, so a command reading it ends.
	wantOK(t, run(t, e, ws, map[string]any{"command": "cat"}))
	// Default cwd is the workspace.
	realWS, _ := filepath.EvalSymlinks(ws)
	if got := wantOK(t, run(t, e, ws, map[string]any{"command": "pwd -P"})); !strings.HasPrefix(got, realWS+"\n") {
		t.Fatalf("pwd = %q, want %s", got, realWS)
	}
	if got := wantOK(t, run(t, e, ws, map[string]any{"command": "echo $OPENCLAW_SHELL"})); !strings.HasPrefix(got, "exec\n") {
		t.Fatalf("env = %q", got)
	}

	t.Setenv("PINCER_GATEWAY_TOKEN", "gw-secret")
	if got := wantOK(t, run(t, e, ws, map[string]any{"command": "echo ${PINCER_GATEWAY_TOKEN:-unset} $HOME"})); !strings.HasPrefix(got, "unset "+os.Getenv("HOME")) {
		t.Fatalf("gateway credential passed to the command: %q", got)
	}
	custom := &Exec{Policy: "full", Env: []string{"ONLY=this"}}
	if got := wantOK(t, run(t, custom, ws, map[string]any{"command": "echo $ONLY ${HOME:-nohome}"})); !strings.HasPrefix(got, "this nohome") {
		t.Fatalf("custom env = %q", got)
	}

	wantErr(t, run(t, e, ws, map[string]any{"command": "true", "workdir": "../"}), "workdir", "leaves the workspace")
	wantErr(t, run(t, e, ws, map[string]any{"command": "true", "cwd": "/"}), "outside the workspace")
	wantErr(t, run(t, e, ws, map[string]any{"command": "true", "workdir": "missing"}), "does not exist")
	wantErr(t, run(t, e, ws, map[string]any{"command": "  "}), "command is required")
	wantErr(t, run(t, e, ws, map[string]any{"command": 5}), "command must be a string")

	// Timeouts are capped.
	ap := &fakeApprover{decision: "deny"}
	capped := NewExec("ask", nil, ap.ask)
	run(t, capped, ws, map[string]any{"command": "true", "timeoutSeconds": 100000})
	run(t, capped, ws, map[string]any{"command": "true"})
	if ap.asked[0].TimeoutMs != 600_000 || ap.asked[1].TimeoutMs != 120_000 {
		t.Fatalf("timeouts = %d, %d", ap.asked[0].TimeoutMs, ap.asked[1].TimeoutMs)
	}
}

func TestExecTimeoutKillsChildren(t *testing.T) {
	ws := t.TempDir()
	e := NewExec("full", nil, nil)
	start := time.Now()
	r := run(t, e, ws, map[string]any{"command": "sleep 30 & echo $! > child.pid; echo started; wait", "timeoutMs": 300})
	took := time.Since(start)
	got := wantErr(t, r, "started", "timed out after 300ms", "child processes were killed")
	if d := r.Details.(ExecDetails); !d.TimedOut || d.ExitCode != -1 {
		t.Fatalf("details = %+v (%s)", d, got)
	}
	if took > 5*time.Second {
		t.Fatalf("timeout took %s", took)
	}
	b, err := os.ReadFile(filepath.Join(ws, "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGone reports a process that no longer exists or is a zombie
// waiting for a reaper.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestExecBackgroundChildDoesNotHang(t *testing.T) {
	ws := t.TempDir()
	start := time.Now()
	got := wantOK(t, run(t, NewExec("full", nil, nil), ws, map[string]any{"command": "(sleep 3; echo late) & echo now", "timeoutMs": 20000}))
	if time.Since(start) > 2500*time.Millisecond || !strings.HasPrefix(got, "now\n") || strings.Contains(got, "late\n") {
		t.Fatalf("background child: %q after %s", got, time.Since(start))
	}
}

func TestExecOutputCap(t *testing.T) {
	ws := t.TempDir()
	r := run(t, NewExec("full", nil, nil), ws, map[string]any{"command": "echo BEGIN; head -c 600000 /dev/zero | tr '\\0' a; echo; echo END"})
	got := wantOK(t, r)
	if len(got) > ExecMaxOutput+200 || !strings.HasPrefix(got, "BEGIN\n") || !strings.Contains(got, "END\n\n[exit code 0") ||
		!strings.Contains(got, "bytes of output omitted") {
		t.Fatalf("capped output: %d bytes, head %q, tail %q", len(got), got[:20], got[len(got)-60:])
	}
	if !r.Details.(ExecDetails).Truncated {
		t.Fatal("not marked truncated")
	}
}

func TestCapBuffer(t *testing.T) {
	c := newCapBuffer(10)
	for _, s := range []string{"01", "234", "56789", "abcdefghij", "XYZ"} {
		c.Write([]byte(s))
	}
	got, trunc := c.String()
	if !trunc || got != "01234\n\n[… 13 bytes of output omitted …]\n\nijXYZ" {
		t.Fatalf("cap = %q", got)
	}
	c = newCapBuffer(10)
	c.Write([]byte("short"))
	if got, trunc := c.String(); trunc || got != "short" {
		t.Fatalf("short = %q", got)
	}
}

func TestCommandNames(t *testing.T) {
	for line, want := range map[string][]string{
		"ls -la":                              {"ls"},
		"git status && make -j4 | tee log":    {"git", "make", "tee"},
		"FOO=1 BAR='x y' go test ./...":       {"go"},
		"echo 'a; rm -rf /' \"b | c\"":        {"echo"},
		"cat <in.txt >out.txt 2>&1; wc -l":    {"cat", "wc"},
		"cmd 2> err.log || other &":           {"cmd", "other"},
		"make &> build.log; echo done":        {"make", "echo"},
		"echo a\\;b":                          {"echo"},
		"/usr/bin/env":                        {"/usr/bin/env"},
		"'rm' x":                              {"rm"},
		"echo ${HOME}/x # trailing; rm -rf /": {"echo"},
		"echo a{b,c}":                         {"echo"},
		"ls\nwc -l":                           {"ls", "wc"},
	} {
		got, ok := commandNames(line)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("commandNames(%q) = %v, %v; want %v", line, got, ok, want)
		}
	}
	for _, line := range []string{
		"echo $(rm -rf /)", "echo `id`", "echo \"$(id)\"", "(cd x && make)", "{ ls; }", "if true; then ls; fi",
		"for f in *; do rm $f; done", "$CMD arg", "\"$CMD\" arg", "diff <(ls a) <(ls b)", "cat <<EOF\nrm\nEOF",
		"eval ls", "exec ls", "echo 'unterminated", "", "   ", "ls >", "! ls", ". ./env.sh",
	} {
		if got, ok := commandNames(line); ok {
			t.Errorf("commandNames(%q) = %v, want unvettable", line, got)
		}
	}
}
