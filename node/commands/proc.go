package commands

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

const (
	defaultMaxOutputBytes = 200_000
	// waitDelay bounds how long a finished process's output pipes may stay
	// open (held by background children) before they are closed, and how
	// long a killed process may take to go away.
	waitDelay = 2 * time.Second
)

// capBuffer keeps the first max bytes written to it and counts the rest.
type capBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

func (b *capBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - len(b.buf); room > 0 {
		k := min(room, len(p))
		b.buf = append(b.buf, p[:k]...)
		p = p[k:]
	}
	b.dropped += int64(len(p))
	return n, nil
}

// String returns the kept bytes, with a truncation marker when output was
// dropped; a rune split by the cap is dropped too.
func (b *capBuffer) String() string {
	if b.dropped == 0 {
		return string(b.buf)
	}
	kept, dropped := b.buf, b.dropped
	for i := 0; i < utf8.UTFMax-1 && len(kept) > 0; i++ {
		if r, _ := utf8.DecodeLastRune(kept); r != utf8.RuneError {
			break
		}
		kept = kept[:len(kept)-1]
		dropped++
	}
	return fmt.Sprintf("%s\n… [truncated %d bytes]", kept, dropped)
}

// procSpec describes one child process.
type procSpec struct {
	path    string   // absolute executable
	argv    []string // argv[0] as the child sees it
	dir     string
	env     []string // nil inherits the node's environment
	timeout time.Duration
	maxOut  int
}

// procResult is how a child process ended.
type procResult struct {
	startErr error // the process never started
	exitCode *int  // nil when it did not exit normally
	state    string
	timedOut bool // spec.timeout elapsed; the process group was killed
	canceled bool // ctx ended first; the process group was killed
	stdout   capBuffer
	stderr   capBuffer
}

// runProcess runs spec to completion. It starts the child in its own process
// group (on Unix) and kills the whole group when the timeout elapses or ctx
// ends, so grandchildren do not outlive the command.
func runProcess(ctx context.Context, spec procSpec) *procResult {
	res := &procResult{stdout: capBuffer{max: spec.maxOut}, stderr: capBuffer{max: spec.maxOut}}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if spec.timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, spec.timeout)
	}
	defer cancel()

	cmd := exec.CommandContext(runCtx, spec.path)
	cmd.Args = spec.argv
	cmd.Dir = spec.dir
	cmd.Env = spec.env
	cmd.Stdout = &res.stdout
	cmd.Stderr = &res.stderr
	setProcessGroup(cmd)
	var killed atomic.Bool
	cmd.Cancel = func() error {
		killed.Store(true)
		return killProcessGroup(cmd)
	}
	cmd.WaitDelay = waitDelay

	err := cmd.Run()
	if cmd.ProcessState == nil {
		switch {
		case ctx.Err() != nil: // canceled before it could start
			res.canceled = true
		case err == nil:
			res.startErr = errors.New("process did not start")
		default:
			res.startErr = err
		}
		return res
	}
	if killed.Load() {
		if ctx.Err() != nil {
			res.canceled = true
		} else {
			res.timedOut = true
		}
	}
	if ps := cmd.ProcessState; ps.Exited() {
		code := ps.ExitCode()
		res.exitCode = &code
	}
	res.state = cmd.ProcessState.String()
	return res
}
