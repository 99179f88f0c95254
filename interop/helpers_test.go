//go:build unix

package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/daemon"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopSharedOfficial()
	if pincerBinDir != "" {
		os.RemoveAll(pincerBinDir)
	}
	os.Exit(code)
}

// interopTest skips in -short mode (the official client is big and slow) and
// returns the official CLI.
func interopTest(t *testing.T) *OpenClaw {
	t.Helper()
	if testing.Short() {
		t.Skip("interop tests run the official OpenClaw client; skipped in -short mode")
	}
	return EnsureOpenClaw(t)
}

func randomToken(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "interop-" + hex.EncodeToString(b)
}

// lockedBuffer collects output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ---- Pincer gateway, in process ----

type pincerGateway struct {
	URL      string
	Token    string
	StateDir string
	log      *lockedBuffer
}

// startPincer runs a Pincer gateway in this process on a random loopback
// port with a fresh state directory, until the test ends.
func startPincer(t *testing.T) *pincerGateway {
	t.Helper()
	return startPincerIn(t, t.TempDir())
}

// startPincerIn is startPincer on a prepared state directory (e.g. one
// holding a pincer.json).
func startPincerIn(t *testing.T, state string) *pincerGateway {
	t.Helper()
	t.Setenv("PINCER_STATE_DIR", state)
	for _, k := range []string{"PINCER_CONFIG_PATH", "PINCER_GATEWAY_TOKEN", "PINCER_GATEWAY_PASSWORD", "PINCER_GATEWAY_PORT",
		"PINCER_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD", "OPENCLAW_GATEWAY_PORT", "OPENCLAW_GATEWAY_URL"} {
		t.Setenv(k, "")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &pincerGateway{Token: randomToken(t), StateDir: state, log: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{
			Token: g.Token, Listener: ln, Console: g.log, Verbose: true, ShutdownTimeout: 5 * time.Second,
			Ready: func(url string) { ready <- url },
		})
	}()
	select {
	case g.URL = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("pincer gateway did not start: %v\nlog:\n%s", err, g.log)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("pincer gateway not ready after 30 s\nlog:\n%s", g.log)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("pincer gateway: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("pincer gateway did not stop within 15 s")
		}
		if t.Failed() {
			t.Logf("pincer gateway log (tail):\n%s", tail(g.log.String(), 20000))
		}
	})
	t.Logf("pincer gateway at %s (state %s)", g.URL, state)
	return g
}

// ---- official gateway, as a child process, shared by the tests ----

type officialGateway struct {
	URL   string
	Token string
	Home  string
	cmd   *exec.Cmd
	out   *lockedBuffer
	exit  chan struct{}
}

var (
	sharedMu      sync.Mutex
	sharedGateway *officialGateway
	sharedErr     error
)

// officialGatewayFor returns the official gateway shared by every test of
// the package (it takes ~15 s and ~700 MiB to start), starting it on first
// use. TestMain stops it.
func officialGatewayFor(t *testing.T, oc *OpenClaw) *officialGateway {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedGateway == nil && sharedErr == nil {
		sharedGateway, sharedErr = startOfficial(t, oc)
	}
	if sharedErr != nil {
		t.Fatalf("official gateway: %v", sharedErr)
	}
	select {
	case <-sharedGateway.exit:
		t.Fatalf("official gateway exited early\noutput:\n%s", tail(sharedGateway.out.String(), 20000))
	default:
	}
	return sharedGateway
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startOfficial(t *testing.T, oc *OpenClaw) (*officialGateway, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp("", "pincer-interop-gw-")
	if err != nil {
		return nil, err
	}
	g := &officialGateway{
		URL: "ws://127.0.0.1:" + strconv.Itoa(port), Token: randomToken(t), Home: home,
		out: &lockedBuffer{}, exit: make(chan struct{}),
	}
	// Not CommandContext-bound to the test: the gateway outlives it; stop() ends it.
	g.cmd = oc.Command(context.Background(), home, "gateway", "run", "--port", strconv.Itoa(port), "--bind", "loopback",
		"--auth", "token", "--token", g.Token, "--allow-unconfigured")
	g.cmd.Env = append(g.cmd.Env, "OPENCLAW_SKIP_CHANNELS=1", "OPENCLAW_DISABLE_BONJOUR=1", "OPENCLAW_NO_RESPAWN=1")
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	setParentDeathSignal(g.cmd.SysProcAttr)
	start := time.Now()
	started := make(chan error, 1)
	go func() {
		// Start and Wait on one locked OS thread that lives as long as the
		// gateway: the parent-death signal is tied to this thread.
		runtime.LockOSThread()
		if err := g.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = g.cmd.Wait()
		close(g.exit)
	}()
	if err := <-started; err != nil {
		os.RemoveAll(home)
		return nil, fmt.Errorf("starting: %w", err)
	}
	t.Logf("official gateway starting at %s (pid %d, home %s)", g.URL, g.cmd.Process.Pid, home)
	if err := g.waitReady(120 * time.Second); err != nil {
		g.stop()
		return nil, fmt.Errorf("%w\noutput:\n%s", err, tail(g.out.String(), 20000))
	}
	t.Logf("official gateway ready after %s", time.Since(start).Round(100*time.Millisecond))
	return g, nil
}

func (g *officialGateway) waitReady(timeout time.Duration) error {
	readyz := "http://" + strings.TrimPrefix(g.URL, "ws://") + "/readyz"
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-g.exit:
			return fmt.Errorf("exited before it became ready (%v)", g.cmd.ProcessState)
		default:
		}
		if resp, err := client.Get(readyz); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("%s did not return 200 within %s", readyz, timeout)
}

// stop ends the gateway's whole process group: SIGTERM, then SIGKILL.
func (g *officialGateway) stop() {
	pgid := g.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-g.exit:
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // also any children left behind
	<-g.exit
	// Helpers the gateway started in their own process group (its spawn
	// broker) inherit OPENCLAW_HOME=<our private home>: end exactly those.
	killByEnv("OPENCLAW_HOME=" + g.Home)
	os.RemoveAll(g.Home)
}

// killByEnv sends SIGKILL to this user's processes whose environment holds
// the exact entry kv (Linux /proc; elsewhere a no-op).
func killByEnv(kv string) {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, e := range bytes.Split(env, []byte{0}) {
			if string(e) == kv {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
}

func stopSharedOfficial() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedGateway != nil {
		sharedGateway.stop()
		sharedGateway = nil
	}
}

// ---- Pincer CLI binary ----

var (
	pincerBinOnce sync.Once
	pincerBin     string
	pincerBinErr  error
	pincerBinDir  string
)

// buildPincer builds ./macapp (the pincer binary) once per process.
func buildPincer(t *testing.T) string {
	t.Helper()
	pincerBinOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			pincerBinErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			pincerBinErr = errors.New("not inside a Go module")
			return
		}
		dir, err := os.MkdirTemp("", "pincer-interop-bin-")
		if err != nil {
			pincerBinErr = err
			return
		}
		pincerBinDir = dir
		bin := filepath.Join(dir, "pincer")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./macapp")
		cmd.Dir = filepath.Dir(gomod)
		if out, err := cmd.CombinedOutput(); err != nil {
			pincerBinErr = fmt.Errorf("go build ./macapp: %v\n%s", err, out)
			return
		}
		pincerBin = bin
	})
	if pincerBinErr != nil {
		t.Fatal(pincerBinErr)
	}
	return pincerBin
}

// runPincer runs the pincer CLI with a private home and state dir and no
// PINCER_/OPENCLAW_ variables from the test environment.
func runPincer(t *testing.T, bin string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = home
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PINCER_") || strings.HasPrefix(k, "OPENCLAW_") || k == "HOME" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "HOME="+home, "PINCER_STATE_DIR="+filepath.Join(home, ".pincer"), "NO_COLOR=1")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	stdout, stderr = so.String(), se.String()
	if ctx.Err() != nil {
		t.Fatalf("pincer %s: no exit within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), DefaultTimeout, stdout, stderr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		exitCode = ee.ExitCode()
	default:
		t.Fatalf("pincer %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("pincer %s → exit %d", strings.Join(args, " "), exitCode)
	return stdout, stderr, exitCode
}

// ---- JSON helpers ----

// parseJSON decodes a command's whole stdout as one JSON value; anything
// else (log lines, banners) on stdout is a failure.
func parseJSON(t *testing.T, what, stdout, stderr string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: stdout is not JSON: %v\nstdout:\n%s\nstderr:\n%s", what, err, stdout, stderr)
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		t.Fatalf("%s: stdout holds more than one JSON value\nstdout:\n%s", what, stdout)
	}
	return v
}

func asObject(t *testing.T, what string, v any, raw string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want a JSON object, got %T\n%s", what, v, raw)
	}
	return m
}

// field walks nested objects: field(v, "a", "b") is v.a.b (nil if absent).
func field(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// failDump prints a command's output when an assertion failed.
func failDump(t *testing.T, stdout, stderr string) {
	t.Helper()
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", tail(stdout, 12000), tail(stderr, 6000))
	}
}

// ---- node hosts ----

// pincerEnv is the environment of a pincer child process: nothing from the
// test's PINCER_/OPENCLAW_ variables, a private home and state dir, and the
// file secret store.
func pincerEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PINCER_") || strings.HasPrefix(k, "OPENCLAW_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "PINCER_STATE_DIR="+filepath.Join(home, ".pincer"), "PINCER_SECRETS_BACKEND=file")
}

// startPincerNode runs `pincer node run args…` until the test ends; its
// output is logged when the test fails.
func startPincerNode(t *testing.T, bin string, args ...string) {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	cmd := exec.CommandContext(ctx, bin, append([]string{"node", "run"}, args...)...)
	cmd.Dir, cmd.Env = home, pincerEnv(home)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pincer node run output:\n%s", tail(out.String(), 8000))
		}
	})
}

// startOfficialNode runs the official `openclaw node run` against host:port
// with the shared token; home keeps its device identity across runs. The
// returned function stops it.
func startOfficialNode(t *testing.T, oc *OpenClaw, home, host, port, token string, out *lockedBuffer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := oc.Command(ctx, home, "node", "run", "--host", host, "--port", port)
	cmd.Env = append(cmd.Env, "OPENCLAW_GATEWAY_TOKEN="+token)
	cmd.Stdout, cmd.Stderr = out, out
	setParentDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start openclaw node run: %v", err)
	}
	return func() { cancel(); _ = cmd.Wait() }
}

// writeConfig writes a pincer.json into a state dir.
func writeConfig(t *testing.T, state, config string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(state, "pincer.json"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}
