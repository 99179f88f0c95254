package mcp

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pincerhq/pincer/core/config"
)

// stderrTail is how much of a stdio server's stderr is kept for errors.
const stderrTail = 2048

// proc is a stdio server's process.
type proc struct {
	cmd    *exec.Cmd
	stderr *tailBuffer
	exited chan struct{} // closed once the process is reaped
	err    error         // Wait's result, set before exited closes
}

// startProc starts the server's command (in a process group of its own
// where the platform has them) with the gateway's environment plus the
// configured env, and returns the transport over its stdin/stdout.
func startProc(cfg config.MCPServer, log *slog.Logger) (*proc, sdk.Transport, error) {
	cmd := exec.Command(expandHome(cfg.Command), cfg.Args...)
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(cfg.Env))
	for k := range cfg.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+expandEnv(cfg.Env[k]))
	}
	cmd.Dir = expandHome(cfg.Cwd)
	p := &proc{cmd: cmd, stderr: &tailBuffer{max: stderrTail, log: log}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	// A grandchild holding stderr open must not keep Wait from returning.
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)

	// Own pipes (not StdinPipe/StdoutPipe): Wait must not close the reading
	// end under the session.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, nil, err
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, nil, fmt.Errorf("starting %q: %w", cfg.Command, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, &sdk.IOTransport{Reader: outR, Writer: inW}, nil
}

// stop waits for the process to exit (its stdin is closed), then sends
// SIGTERM and finally SIGKILL to its process group, and kills whatever the
// server left behind in the group.
func (p *proc) stop(grace time.Duration) {
	if !p.exitedWithin(grace) {
		terminateGroup(p.cmd.Process)
		if !p.exitedWithin(grace) {
			killGroup(p.cmd.Process)
			<-p.exited
		}
	}
	killGroup(p.cmd.Process)
}

// describe adds the process's exit status (when it has exited) and the end
// of its stderr to msg.
func (p *proc) describe(msg string) string {
	if p.exitedWithin(100 * time.Millisecond) {
		if p.err != nil {
			msg += " (" + p.err.Error() + ")"
		} else {
			msg += " (exit status 0)"
		}
	}
	if tail := strings.TrimSpace(p.stderr.String()); tail != "" {
		msg += "; stderr: " + tail
	}
	return msg
}

// exitedWithin reports whether the process has exited, waiting up to d.
func (p *proc) exitedWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	}
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// tailBuffer keeps the last max bytes written and logs complete lines at
// debug level.
type tailBuffer struct {
	max  int
	log  *slog.Logger
	mu   sync.Mutex
	buf  []byte
	line []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	if t.log != nil {
		t.line = append(t.line, b...)
		for {
			i := slices.Index(t.line, '\n')
			if i < 0 {
				break
			}
			if s := strings.TrimSpace(string(t.line[:i])); s != "" {
				t.log.Debug("mcp server stderr", "line", s)
			}
			t.line = t.line[i+1:]
		}
		if len(t.line) > t.max {
			t.line = t.line[len(t.line)-t.max:]
		}
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
