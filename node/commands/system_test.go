//go:build unix

package commands

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestSystemWhich(t *testing.T) {
	r := probe(t, Config{})
	out := mustCall(t, r, "system.which", map[string]any{"bins": []string{"sh", "pincer-no-such-binary-xyz"}})
	wantKeys(t, "payload", out, "bins")
	bins := out["bins"].(map[string]any)
	if len(bins) != 1 {
		t.Fatalf("bins = %v, want only sh", bins)
	}
	p, _ := bins["sh"].(string)
	if !filepath.IsAbs(p) {
		t.Fatalf("sh resolved to %q, want an absolute path", p)
	}
	if want, _ := exec.LookPath("sh"); p != want {
		t.Fatalf("sh = %q, want %q", p, want)
	}

	empty := mustCall(t, r, "system.which", map[string]any{"bins": []string{}})
	if len(empty["bins"].(map[string]any)) != 0 {
		t.Fatalf("empty bins = %v", empty)
	}
	wantErr(t, r, "system.which", nil, CodeInvalidRequest)
	wantErr(t, r, "system.which", map[string]any{"bins": "sh"}, CodeInvalidRequest)
	wantErr(t, r, "system.which", map[string]any{"bins": []any{"sh", 3}}, CodeInvalidRequest)
	wantErr(t, r, "system.which", map[string]any{"bins": []string{""}}, CodeInvalidRequest)
}

func TestSystemRunShape(t *testing.T) {
	r := probe(t, allowAll())
	out := mustCall(t, r, "system.run", map[string]any{"command": []string{"sh", "-c", "echo hi"}})
	wantKeys(t, "system.run payload", out, "exitCode", "timedOut", "success", "stdout", "stderr", "error")
	if out["exitCode"] != 0.0 || out["timedOut"] != false || out["success"] != true ||
		out["stdout"] != "hi\n" || out["stderr"] != "" || out["error"] != nil {
		t.Fatalf("payload = %v", out)
	}
}

func TestSystemRunExitCodes(t *testing.T) {
	r := probe(t, allowAll())
	out := mustCall(t, r, "system.run", map[string]any{"command": []string{"sh", "-c", "echo oops >&2; exit 3"}})
	if out["exitCode"] != 3.0 || out["success"] != false || out["timedOut"] != false || out["error"] != nil || out["stderr"] != "oops\n" {
		t.Fatalf("exit 3 payload = %v", out)
	}

	// A program that does not exist is a failed run, not a protocol error.
	out = mustCall(t, r, "system.run", map[string]any{"command": []string{"pincer-no-such-binary-xyz", "a"}})
	if out["success"] != false || out["exitCode"] != nil || out["timedOut"] != false {
		t.Fatalf("spawn failure payload = %v", out)
	}
	if msg, _ := out["error"].(string); !strings.Contains(msg, "pincer-no-such-binary-xyz") || !strings.Contains(msg, "not found") {
		t.Fatalf("spawn failure error = %q", msg)
	}

	// Killed by a signal: no exit code.
	out = mustCall(t, r, "system.run", map[string]any{"command": []string{"sh", "-c", "kill -9 $$"}})
	if out["success"] != false || out["exitCode"] != nil || out["error"] == nil {
		t.Fatalf("signalled payload = %v", out)
	}
}

// processGone reports whether pid has exited (or is a zombie waiting for a
// reaper, which in a container may never come).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z' || s[i+2] == 'X'
	}
	return false
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still running after the command was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSystemRunTimeoutKillsProcessGroup(t *testing.T) {
	r := probe(t, allowAll())
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := `sleep 300 & echo $! > "$1"; echo started; wait`
	out := mustCall(t, r, "system.run", map[string]any{
		"command":   []string{"sh", "-c", script, "sh", pidFile},
		"timeoutMs": 2000,
	})
	if out["timedOut"] != true || out["success"] != false || out["exitCode"] != nil {
		t.Fatalf("timeout payload = %v", out)
	}
	if out["stdout"] != "started\n" {
		t.Fatalf("output before the timeout lost: %v", out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

func TestSystemRunCanceledByContextAndClose(t *testing.T) {
	r := probe(t, allowAll())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan map[string]any, 1)
	go func() {
		p, err := r.Invoke(ctx, "system.run", `{"command":["sleep","300"]}`)
		if err != nil {
			t.Errorf("Invoke: %v", err)
		}
		res, _ := p.(*runResult)
		if res == nil {
			done <- nil
			return
		}
		done <- map[string]any{"timedOut": res.TimedOut, "success": res.Success}
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	if got := <-done; got == nil || got["timedOut"] != true || got["success"] != false {
		t.Fatalf("canceled run = %v", got)
	}

	// A context that is already over never starts the command.
	over, cancelOver := context.WithCancel(context.Background())
	cancelOver()
	p, err := r.Invoke(over, "system.run", `{"command":["true"]}`)
	if res, _ := p.(*runResult); err != nil || res == nil || !res.TimedOut || res.Success || res.ExitCode != nil {
		t.Fatalf("run on a canceled context = %+v, %v", p, err)
	}

	// Close stops runs in flight.
	go func() {
		p, err := r.Invoke(context.Background(), "system.run", `{"command":["sleep","300"]}`)
		if err != nil {
			t.Errorf("Invoke: %v", err)
		}
		res, _ := p.(*runResult)
		done <- map[string]any{"timedOut": res != nil && res.TimedOut}
	}()
	time.Sleep(200 * time.Millisecond)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got["timedOut"] != true {
		t.Fatalf("run after Close = %v", got)
	}
}

func TestSystemRunBackgroundChildDoesNotHold(t *testing.T) {
	r := probe(t, allowAll())
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The background sleep keeps stdout open after sh exits; the run still
	// completes (after a bounded grace period) with sh's status.
	out := mustCall(t, r, "system.run", map[string]any{
		"command": []string{"sh", "-c", `sleep 300 & echo $! > "$1"; echo done`, "sh", pidFile},
	})
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if out["success"] != true || out["exitCode"] != 0.0 || out["stdout"] != "done\n" || out["timedOut"] != false {
		t.Fatalf("payload = %v", out)
	}
}

func TestSystemRunOutputCap(t *testing.T) {
	cfg := allowAll()
	cfg.MaxOutputBytes = 100
	r := probe(t, cfg)
	// 500 bytes on stdout, 300 on stderr.
	script := `i=0; while [ $i -lt 50 ]; do printf 0123456789; i=$((i+1)); done; i=0; while [ $i -lt 30 ]; do printf abcdefghij >&2; i=$((i+1)); done`
	out := mustCall(t, r, "system.run", map[string]any{"command": []string{"sh", "-c", script}})
	wantOut := strings.Repeat("0123456789", 10) + "\n… [truncated 400 bytes]"
	wantErrOut := strings.Repeat("abcdefghij", 10) + "\n… [truncated 200 bytes]"
	if out["stdout"] != wantOut || out["stderr"] != wantErrOut || out["success"] != true {
		t.Fatalf("capped payload = %v", out)
	}

	// The default cap is 200 000 bytes.
	r2 := probe(t, allowAll())
	out = mustCall(t, r2, "system.run", map[string]any{"command": []string{"head", "-c", "250000", "/dev/zero"}})
	if s := out["stdout"].(string); len(s) < 200_000 || len(s) > 200_100 || !strings.HasSuffix(s, "[truncated 50000 bytes]") {
		t.Fatalf("default cap: %d bytes, suffix %q", len(s), s[max(0, len(s)-30):])
	}
}

func TestCapBufferRuneBoundary(t *testing.T) {
	b := capBuffer{max: 4}
	b.Write([]byte("abcé!")) // é is 2 bytes: the cap splits it
	if got, want := b.String(), "abc\n… [truncated 3 bytes]"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestSystemRunEnvAndCwd(t *testing.T) {
	r := probe(t, allowAll())
	dir := t.TempDir()
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PINCER_TEST_INHERITED", "from-node")
	out := mustCall(t, r, "system.run", map[string]any{
		"command": []string{"sh", "-c", `printf '%s|%s|%s' "$FOO" "$PINCER_TEST_INHERITED" "$(pwd -P)"`},
		"cwd":     dir,
		"env":     map[string]string{"FOO": "bar baz"},
	})
	if want := "bar baz|from-node|" + realDir; out["stdout"] != want {
		t.Fatalf("stdout = %q, want %q", out["stdout"], want)
	}
	// PWD follows cwd whether or not env is overlaid.
	for _, env := range []map[string]string{nil, {"X": "1"}} {
		params := map[string]any{"command": []string{"sh", "-c", `printf %s "$PWD"`}, "cwd": dir}
		if env != nil {
			params["env"] = env
		}
		out = mustCall(t, r, "system.run", params)
		if got, _ := filepath.EvalSymlinks(out["stdout"].(string)); got != realDir {
			t.Fatalf("PWD with env %v = %q, want %q", env, out["stdout"], dir)
		}
	}
	// A relative program path resolves against cwd.
	if err := os.WriteFile(filepath.Join(dir, "hello.sh"), []byte("#!/bin/sh\necho relative\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out = mustCall(t, r, "system.run", map[string]any{"command": []string{"./hello.sh"}, "cwd": dir})
	if out["stdout"] != "relative\n" {
		t.Fatalf("relative program: %v", out)
	}

	wantErr(t, r, "system.run", map[string]any{"command": []string{"true"}, "cwd": filepath.Join(dir, "missing")}, CodeInvalidRequest)
	wantErr(t, r, "system.run", map[string]any{"command": []string{"true"}, "cwd": filepath.Join(dir, "hello.sh")}, CodeInvalidRequest)
	for _, k := range []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "BASH_ENV", "BASH_FUNC_x%%"} {
		e := wantErr(t, r, "system.run", map[string]any{"command": []string{"true"}, "env": map[string]string{k: "/tmp/x.so"}}, CodeInvalidRequest)
		if !strings.Contains(e.Message, k) {
			t.Fatalf("%s refusal does not name the key: %q", k, e.Message)
		}
	}
}

func TestSystemRunParamValidation(t *testing.T) {
	r := probe(t, allowAll())
	bad := []any{
		nil,
		map[string]any{},
		map[string]any{"command": nil},
		map[string]any{"command": []string{}},
		map[string]any{"command": "echo hi"},
		map[string]any{"command": []any{"echo", 1}},
		map[string]any{"command": []string{""}},
		map[string]any{"command": []string{"echo", "a\x00b"}},
		map[string]any{"command": []string{"true"}, "timeoutMs": -1},
		map[string]any{"command": []string{"true"}, "timeoutMs": "1000"},
		map[string]any{"command": []string{"true"}, "timeoutMs": 1e12},
		map[string]any{"command": []string{"true"}, "env": []string{"A=B"}},
		map[string]any{"command": []string{"true"}, "env": map[string]any{"A": 1}},
		map[string]any{"command": []string{"true"}, "env": map[string]string{"A=B": "c"}},
		map[string]any{"command": []string{"true"}, "env": map[string]string{"": "c"}},
		map[string]any{"command": []string{"true"}, "cwd": 5},
		map[string]any{"command": []string{"true"}, "agentId": 5},
		map[string]any{"command": []string{"true"}, "suppressNotifyOnExit": "yes"},
	}
	for _, p := range bad {
		wantErr(t, r, "system.run", p, CodeInvalidRequest)
	}
	// Optional fields of the right types, and unknown fields, are accepted.
	out := mustCall(t, r, "system.run", map[string]any{
		"command": []string{"true"}, "rawCommand": "true", "timeoutMs": 5000.0, "agentId": "main",
		"sessionKey": "agent:main:main", "runId": "r1", "suppressNotifyOnExit": true,
		"needsScreenRecording": false, "systemRunPlan": map[string]any{"argv": []string{"true"}}, "futureField": 1,
	})
	if out["success"] != true {
		t.Fatalf("payload = %v", out)
	}
}

func TestSystemRunPolicyDeny(t *testing.T) {
	for _, policy := range []string{ExecPolicyDeny, "yolo"} {
		r := probe(t, Config{ExecPolicy: policy, ExecAllowlist: []string{"true"}, Approver: func(context.Context, ApprovalRequest) (string, error) {
			t.Fatal("approver called under deny")
			return "", nil
		}})
		e := wantErr(t, r, "system.run", map[string]any{"command": []string{"true"}}, CodeSystemRunDenied)
		if e.Message != "exec denied by node policy (security=deny)" {
			t.Fatalf("%s: message = %q", policy, e.Message)
		}
		// system.which still works.
		mustCall(t, r, "system.which", map[string]any{"bins": []string{"true"}})
	}
}

func TestSystemRunPolicyAllowlist(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true binary")
	}
	r := probe(t, Config{ExecPolicy: ExecPolicyAllowlist, ExecAllowlist: []string{"sh", truePath, "relative/entry"}})
	mustCall(t, r, "system.run", map[string]any{"command": []string{"sh", "-c", "exit 0"}})
	mustCall(t, r, "system.run", map[string]any{"command": []string{"true"}})
	mustCall(t, r, "system.run", map[string]any{"command": []string{truePath}})
	if shPath, err := exec.LookPath("sh"); err == nil {
		// The allowlisted name, spelled as its absolute path.
		mustCall(t, r, "system.run", map[string]any{"command": []string{shPath, "-c", "exit 0"}})
	}
	e := wantErr(t, r, "system.run", map[string]any{"command": []string{"echo", "x"}}, CodeSystemRunDenied)
	if !strings.Contains(e.Message, "not in the node exec allowlist") {
		t.Fatalf("message = %q", e.Message)
	}
	// A different program that merely shares an allowlisted base name is
	// not allowlisted.
	dir := t.TempDir()
	fake := filepath.Join(dir, "sh")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho spoofed\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	wantErr(t, r, "system.run", map[string]any{"command": []string{fake}}, CodeSystemRunDenied)
	wantErr(t, r, "system.run", map[string]any{"command": []string{"./sh"}, "cwd": dir}, CodeSystemRunDenied)
	// A request PATH cannot redirect an allowlisted name either: the node
	// resolves names on its own PATH.
	out := mustCall(t, r, "system.run", map[string]any{"command": []string{"sh", "-c", "echo real"}, "env": map[string]string{"PATH": dir}})
	if out["stdout"] != "real\n" {
		t.Fatalf("request PATH redirected the program: %v", out)
	}
}

func TestSystemRunPolicyAsk(t *testing.T) {
	var mu sync.Mutex
	var asked []ApprovalRequest
	decision := DecisionAllowAlways
	r := probe(t, Config{
		ExecPolicy:    ExecPolicyAsk,
		ExecAllowlist: []string{"true"},
		Approver: func(_ context.Context, req ApprovalRequest) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, req)
			return decision, nil
		},
	})
	askedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(asked) }

	// Allowlisted entries run without asking.
	mustCall(t, r, "system.run", map[string]any{"command": []string{"true"}})
	if askedCount() != 0 {
		t.Fatal("asked about an allowlisted command")
	}

	dir := t.TempDir()
	out := mustCall(t, r, "system.run", map[string]any{
		"command": []string{"sh", "-c", "echo 'a b'"}, "cwd": dir, "agentId": "main", "sessionKey": "agent:main:main",
	})
	if out["stdout"] != "a b\n" || askedCount() != 1 {
		t.Fatalf("first run: %v, asked %d", out, askedCount())
	}
	req := asked[0]
	shPath, _ := exec.LookPath("sh")
	if req.CommandText != `sh -c 'echo '\''a b'\'''` || req.Cwd != dir || req.AgentID != "main" ||
		req.SessionKey != "agent:main:main" || req.ResolvedPath != shPath || len(req.Command) != 3 {
		t.Fatalf("approval request = %+v", req)
	}
	// allow-always: later runs of the same program skip the prompt.
	mustCall(t, r, "system.run", map[string]any{"command": []string{"sh", "-c", "exit 0"}})
	if askedCount() != 1 {
		t.Fatalf("asked again after allow-always (%d)", askedCount())
	}

	// allow-once asks every time; rawCommand is shown as given.
	mu.Lock()
	decision = DecisionAllowOnce
	mu.Unlock()
	for range 2 {
		mustCall(t, r, "system.run", map[string]any{"command": []string{"echo", "x"}, "rawCommand": "echo x  # raw"})
	}
	if askedCount() != 3 || asked[2].CommandText != "echo x  # raw" {
		t.Fatalf("allow-once: asked %d, last %+v", askedCount(), asked[len(asked)-1])
	}

	// deny, and anything unrecognised, denies.
	for _, d := range []string{DecisionDeny, "maybe"} {
		mu.Lock()
		decision = d
		mu.Unlock()
		e := wantErr(t, r, "system.run", map[string]any{"command": []string{"echo", "x"}}, CodeSystemRunDenied)
		if !strings.Contains(e.Message, "approval denied") {
			t.Fatalf("decision %q: message = %q", d, e.Message)
		}
	}
}

func TestSystemRunPolicyAskWithoutRoute(t *testing.T) {
	r := probe(t, Config{}) // default policy: ask, with no approver
	e := wantErr(t, r, "system.run", map[string]any{"command": []string{"true"}}, CodeSystemRunDenied)
	if !strings.Contains(e.Message, "no approval route") {
		t.Fatalf("message = %q", e.Message)
	}

	failing := probe(t, Config{Approver: func(context.Context, ApprovalRequest) (string, error) {
		return "", errors.New("operator offline")
	}})
	e = wantErr(t, failing, "system.run", map[string]any{"command": []string{"true"}}, CodeSystemRunDenied)
	if !strings.Contains(e.Message, "operator offline") {
		t.Fatalf("message = %q", e.Message)
	}
}
