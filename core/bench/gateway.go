package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// gatewayProc is a gateway the bench launched.
type gatewayProc struct {
	cmd      *exec.Cmd
	url      string
	token    string
	stateDir string
	logPath  string
	logFile  *os.File
	started  time.Time // just before exec
	exited   chan struct{}
	waitErr  error
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// childEnv is the bench's environment without Pincer/OpenClaw settings
// (a user's token or config must not leak into the measured gateway),
// plus the state dir and the caller's extras.
func childEnv(stateDir string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PINCER_") || strings.HasPrefix(k, "OPENCLAW_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PINCER_STATE_DIR="+stateDir)
	return append(env, extra...)
}

// launchGateway starts `bin gateway run --port P --token T` with its state
// in stateDir (created if missing) and its output in logPath. It does not
// wait for readiness.
func launchGateway(bin, stateDir, logPath, token string, extraEnv, extraArgs []string) (*gatewayProc, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	args := append([]string{"gateway", "run", "--port", strconv.Itoa(port), "--token", token}, extraArgs...)
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv(stateDir, extraEnv)
	cmd.Dir = stateDir
	cmd.Stdout = lf
	cmd.Stderr = lf
	g := &gatewayProc{
		cmd: cmd, url: fmt.Sprintf("ws://127.0.0.1:%d", port), token: token,
		stateDir: stateDir, logPath: logPath, logFile: lf, exited: make(chan struct{}),
	}
	g.started = time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		g.waitErr = cmd.Wait()
		close(g.exited)
	}()
	return g, nil
}

func (g *gatewayProc) pid() int { return g.cmd.Process.Pid }

// waitReady poll-connects every 2 ms until a hello-ok arrives and returns
// the time from exec to that hello-ok.
func (g *gatewayProc) waitReady(ctx context.Context, d *dialer, timeout time.Duration) (time.Duration, error) {
	frame := d.connectFrame(scopeRead)
	deadline := time.Now().Add(timeout)
	var last error
	for attempt := 0; attempt < 1_000_000 && time.Now().Before(deadline); attempt++ {
		select {
		case <-g.exited:
			return 0, fmt.Errorf("gateway exited before hello-ok (%v); log tail:\n%s", g.waitErr, g.logTail(2000))
		case <-ctx.Done():
			return 0, ctx.Err()
		default:
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := d.dial(actx, frame, false)
		cancel()
		if err == nil {
			elapsed := time.Since(g.started)
			c.close()
			return elapsed, nil
		}
		last = err
		var he *handshakeError
		if errors.As(err, &he) {
			return 0, err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("gateway not ready after %v (last error: %v); log tail:\n%s", timeout, last, g.logTail(2000))
}

// stop sends SIGTERM, waits up to 10 s, then kills.
func (g *gatewayProc) stop() error {
	defer g.logFile.Close()
	select {
	case <-g.exited:
		return nil
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = g.cmd.Process.Kill()
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("gateway pid %d did not stop within 10 s of SIGTERM; killed", g.pid())
}

func (g *gatewayProc) logTail(n int) string {
	b, err := os.ReadFile(g.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// procRSS reads VmRSS of a local process.
func procRSS(pid int) (int64, error) {
	return procStatusField(pid, "VmRSS:")
}

func procStatusField(pid int, field string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte(field)) {
			continue
		}
		f := strings.Fields(string(line[len(field):]))
		if len(f) < 1 {
			break
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		if len(f) > 1 && strings.EqualFold(f[1], "kB") {
			v *= 1024
		}
		return v, nil
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}

// procCPU returns user+system CPU time of a local process.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 (1-based) of the whole line.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}
