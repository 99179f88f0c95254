//go:build unix

package mcp

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/config"
)

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// pid (comm) state …
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	return true
}

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) still alive", what, pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pidOf(t *testing.T, m *Manager, tool string) int {
	t.Helper()
	r := call(t, findTool(t, m.Tools(context.Background()), tool), `{}`)
	pid, err := strconv.Atoi(resultText(r))
	if err != nil || r.IsError {
		t.Fatalf("%s = %+v", tool, r)
	}
	return pid
}

func TestStdio(t *testing.T) {
	bin := testServerBinary(t)
	t.Setenv("PINCER_MCP_TEST_USER", "bob")
	dir := t.TempDir()
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{"local": {
		Command: bin,
		Env:     map[string]string{"GREETING": "hi ${PINCER_MCP_TEST_USER}"},
		Cwd:     dir,
	}})
	if st := m.Status(); len(st) != 1 || !st[0].Connected || st[0].Transport != "stdio" || st[0].Tools != 5 {
		t.Fatalf("status = %+v", st)
	}
	ts := m.Tools(context.Background())
	if got := toolNames(ts); !slices.Equal(got, []string{"local__cwd", "local__echo", "local__env", "local__pid", "local__spawn"}) {
		t.Fatalf("tools = %v", got)
	}
	if r := call(t, findTool(t, ts, "local__echo"), `{"text":"hello"}`); r.IsError || resultText(r) != "hello" {
		t.Errorf("echo = %+v", r)
	}
	if r := call(t, findTool(t, ts, "local__env"), `{"name":"GREETING"}`); resultText(r) != "hi bob" {
		t.Errorf("env GREETING = %+v", r)
	}
	if r := call(t, findTool(t, ts, "local__env"), `{"name":"PINCER_MCP_TEST_USER"}`); resultText(r) != "bob" {
		t.Errorf("inherited env = %+v", r)
	}
	want, _ := filepath.EvalSymlinks(dir)
	if r := call(t, findTool(t, ts, "local__cwd"), `{}`); resultText(r) != want && resultText(r) != dir {
		t.Errorf("cwd = %+v, want %s", r, want)
	}

	pid := pidOf(t, m, "local__pid")
	child := pidOf(t, m, "local__spawn")
	if !alive(pid) || !alive(child) {
		t.Fatal("server not running")
	}
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	t.Logf("Close took %s", time.Since(start))
	waitDead(t, pid, "server")
	waitDead(t, child, "server's child")
}

// A server that ignores SIGTERM and its closed stdin is killed.
func TestStdioKilled(t *testing.T) {
	bin := testServerBinary(t)
	m := newTestManager(t)
	m.stopGrace = 200 * time.Millisecond
	m.Sync(context.Background(), map[string]config.MCPServer{"stubborn": {Command: bin, Args: []string{"-linger"}}})
	pid := pidOf(t, m, "stubborn__pid")
	// Removing it from the configuration stops it.
	m.Sync(context.Background(), nil)
	waitDead(t, pid, "lingering server")
	if len(m.Status()) != 0 {
		t.Errorf("status = %+v", m.Status())
	}
}

func TestStdioFailures(t *testing.T) {
	bin := testServerBinary(t)
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{
		"broken":  {Command: bin, Args: []string{"-stderr", "missing API key"}},
		"missing": {Command: "pincer-no-such-mcp-server"},
		"ok":      {Command: bin},
	})
	st := m.Status()
	if len(st) != 3 || st[0].Connected || st[1].Connected || !st[2].Connected {
		t.Fatalf("status = %+v", st)
	}
	t.Logf("broken: %s", st[0].Error)
	t.Logf("missing: %s", st[1].Error)
	if !strings.Contains(st[0].Error, "missing API key") || !strings.Contains(st[0].Error, "exit status 3") {
		t.Errorf("broken error = %q", st[0].Error)
	}
	if !strings.Contains(st[1].Error, "pincer-no-such-mcp-server") || !strings.Contains(st[1].Error, "not found") {
		t.Errorf("missing error = %q", st[1].Error)
	}
	if got := m.Tools(context.Background()); len(got) != 5 {
		t.Errorf("tools = %v", toolNames(got))
	}
}

// A server process that dies is noticed and restarted on next use.
func TestStdioRestart(t *testing.T) {
	bin := testServerBinary(t)
	m := newTestManager(t)
	m.backoffMin = 200 * time.Millisecond
	m.Sync(context.Background(), map[string]config.MCPServer{"local": {Command: bin}})
	ts := m.Tools(context.Background())
	pidTool := findTool(t, ts, "local__pid")
	pid := pidOf(t, m, "local__pid")
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for m.Status()[0].Connected {
		if time.Now().After(deadline) {
			t.Fatal("death not noticed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := m.Status()[0]
	if !strings.Contains(st.Error, "signal: killed") {
		t.Errorf("status after kill = %+v", st)
	}
	// It died young: the restart waits for the backoff.
	if r := call(t, pidTool, `{}`); !r.IsError || !strings.Contains(resultText(r), "next retry in") {
		t.Errorf("during backoff: %+v", r)
	} else {
		t.Logf("during backoff: %s", resultText(r))
	}
	time.Sleep(300 * time.Millisecond)
	// The tool from before reconnects.
	r := call(t, pidTool, `{}`)
	npid, err := strconv.Atoi(resultText(r))
	if err != nil || npid == pid {
		t.Errorf("after restart: %+v", r)
	}
	if st := m.Status()[0]; !st.Connected || st.Error != "" {
		t.Errorf("status = %+v", st)
	}
}
