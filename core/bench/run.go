package bench

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// runner carries one run's state.
type runner struct {
	opt    Options
	rep    *Report
	out    io.Writer
	tmp    string
	procs  []*gatewayProc
	main   *target // the gateway for idle/handshake/rpc/fanout
	nextID uint64
}

// target is a gateway to measure: its address, token and (when local) pid.
type target struct {
	url   string
	token string
	pid   int // 0: unknown / not local
	proc  *gatewayProc
	d     *dialer
}

// Run executes the selected sections and returns the report. Tables (or,
// with opt.JSON, the JSON report) are written to out as sections finish.
// A section that fails is recorded in Report.Errors and the others still
// run; the returned error joins those failures.
func Run(ctx context.Context, opt Options, out io.Writer) (*Report, error) {
	opt.Defaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	if out == nil {
		out = io.Discard
	}
	r := &runner{opt: opt, out: out, rep: &Report{StartedAt: time.Now()}}
	r.rep.Machine = machineFacts()
	r.rep.Machine.NoFileSoft, r.rep.Machine.NoFileHard = raiseNoFile()
	if need := uint64(maxInt(opt.Conns)+maxInt(opt.Listeners)) + 256; opt.enabled(SectionConns) || opt.enabled(SectionFanout) {
		if r.rep.Machine.NoFileSoft > 0 && r.rep.Machine.NoFileSoft < need {
			r.note("RLIMIT_NOFILE is %d; the largest levels need about %d descriptors in this process", r.rep.Machine.NoFileSoft, need)
		}
	}
	tmp, err := os.MkdirTemp("", "pincer-bench-")
	if err != nil {
		return nil, err
	}
	r.tmp = tmp
	defer r.cleanup()

	if !opt.JSON {
		r.rep.printHeader(out)
	}
	launching := opt.GatewayBin != ""
	r.rep.Gateway.Launched = launching
	if launching {
		bin, err := filepath.Abs(opt.GatewayBin)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("bench: gateway binary: %w", err)
		}
		r.opt.GatewayBin = bin
		r.rep.Gateway.Binary = bin
		if bi, err := buildinfo.ReadFile(bin); err == nil {
			r.rep.Gateway.Runtime = bi.GoVersion
		}
	} else {
		r.rep.Gateway.URL = opt.URL
	}

	var errs []error
	section := func(name string, f func(context.Context) error) {
		if !opt.enabled(name) || ctx.Err() != nil {
			return
		}
		r.progress("section %s", name)
		if err := f(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			r.rep.Errors = append(r.rep.Errors, fmt.Sprintf("%s: %v", name, err))
			r.progress("section %s failed: %v", name, err)
		}
	}

	if launching {
		section(SectionStartup, r.startup)
	} else if opt.enabled(SectionStartup) || opt.enabled(SectionIdle) {
		r.note("startup and idle RSS are measured only when the bench launches the gateway (--gateway-bin)")
	}

	needMain := false
	for _, s := range []string{SectionIdle, SectionHandshake, SectionRPC, SectionFanout} {
		needMain = needMain || opt.enabled(s)
	}
	if needMain && ctx.Err() == nil {
		t, launchedAt, err := r.openTarget(ctx, "main")
		if err != nil {
			errs = append(errs, err)
			r.rep.Errors = append(r.rep.Errors, err.Error())
		} else {
			r.main = t
			if launching {
				// First, so that only the readiness probe has connected.
				section(SectionIdle, func(ctx context.Context) error { return r.idle(ctx, t, launchedAt) })
			}
			r.describeGateway(ctx, t)
			if !opt.JSON {
				r.rep.printGateway(out)
			}
			section(SectionHandshake, func(ctx context.Context) error { return r.handshake(ctx, t) })
			section(SectionRPC, func(ctx context.Context) error { return r.rpc(ctx, t) })
			section(SectionFanout, func(ctx context.Context) error { return r.fanout(ctx, t) })
			if t.proc != nil {
				// The connection section gets a fresh process so that the
				// memory the earlier sections left behind does not count.
				r.stopProc(t.proc)
			}
		}
	}
	section(SectionConns, func(ctx context.Context) error {
		t := r.main
		if launching || t == nil {
			var err error
			t, _, err = r.openTarget(ctx, "conns")
			if err != nil {
				return err
			}
			if r.main == nil {
				r.describeGateway(ctx, t)
				if !opt.JSON {
					r.rep.printGateway(out)
				}
			}
		}
		return r.conns(ctx, t)
	})

	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
		r.rep.Errors = append(r.rep.Errors, "interrupted: "+ctx.Err().Error())
	}
	r.rep.FinishedAt = time.Now()
	r.rep.computeChecks()
	if opt.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r.rep); err != nil {
			errs = append(errs, err)
		}
	} else {
		r.rep.printChecks(out)
	}
	return r.rep, errors.Join(errs...)
}

func (r *runner) progress(format string, a ...any) {
	if r.opt.Progress != nil {
		fmt.Fprintf(r.opt.Progress, "[bench %s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
}

func (r *runner) note(format string, a ...any) {
	r.rep.Notes = append(r.rep.Notes, fmt.Sprintf(format, a...))
}

func (r *runner) print(f func(*Report, io.Writer)) {
	if !r.opt.JSON {
		f(r.rep, r.out)
	}
}

func (r *runner) id() uint64 { r.nextID++; return r.nextID + 1000 }

func (r *runner) cleanup() {
	for _, p := range r.procs {
		r.stopProc(p)
	}
	if r.opt.KeepLogs {
		r.progress("kept gateway state and logs in %s", r.tmp)
		return
	}
	_ = os.RemoveAll(r.tmp)
}

func (r *runner) stopProc(p *gatewayProc) {
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.stop(); err != nil {
		r.note("%v", err)
	}
}

// launch starts a gateway with its state in tmp/<name>.
func (r *runner) launch(name string) (*gatewayProc, error) {
	dir := filepath.Join(r.tmp, name)
	p, err := launchGateway(r.opt.GatewayBin, filepath.Join(dir, "state"), filepath.Join(r.tmp, name+".log"), newToken(), r.opt.GatewayEnv, r.opt.GatewayArgs)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	return p, nil
}

// openTarget launches a gateway (or uses --url) and waits until it answers
// a handshake. launchedAt is when the launched process was exec'd.
func (r *runner) openTarget(ctx context.Context, name string) (*target, time.Time, error) {
	if r.opt.GatewayBin == "" {
		t := &target{url: r.opt.URL, token: r.opt.Token, d: newDialer(r.opt.URL, r.opt.Token)}
		c, err := t.d.dial(ctxTimeout(ctx, 10*time.Second), t.d.connectFrame(scopeRead), false)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("connecting to %s: %w", r.opt.URL, err)
		}
		c.close()
		t.pid = r.localPID(ctx, t)
		return t, time.Time{}, nil
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ { // a raced free port is retried
		p, err := r.launch(fmt.Sprintf("%s-%d", name, attempt))
		if err != nil {
			return nil, time.Time{}, err
		}
		t := &target{url: p.url, token: p.token, pid: p.pid(), proc: p, d: newDialer(p.url, p.token)}
		if _, err := p.waitReady(ctx, t.d, 30*time.Second); err != nil {
			last = err
			r.stopProc(p)
			continue
		}
		r.rep.Gateway.URL, r.rep.Gateway.PID = p.url, p.pid()
		return t, p.started, nil
	}
	return nil, time.Time{}, fmt.Errorf("launching the gateway: %w", last)
}

func ctxTimeout(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	context.AfterFunc(c, cancel)
	return c
}

// statusInfo is what the bench reads from the status method.
type statusInfo struct {
	Runtime       string `json:"runtime"`
	RuntimeVer    string `json:"runtimeVersion"`
	PID           int    `json:"pid"`
	Connections   int    `json:"connections"`
	ProcessMemory struct {
		RSSBytes       int64 `json:"rssBytes"`
		HeapUsedBytes  int64 `json:"heapUsedBytes"`
		HeapTotalBytes int64 `json:"heapTotalBytes"`
		Goroutines     int   `json:"goroutines"`
	} `json:"processMemory"`
}

// status calls the status method on a new connection.
func (r *runner) status(ctx context.Context, t *target) (*statusInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := t.d.dial(ctx, t.d.connectFrame(scopeRead), false)
	if err != nil {
		return nil, err
	}
	defer c.close()
	raw, err := c.call(ctx, r.id(), "status", nil)
	if err != nil {
		return nil, err
	}
	var s statusInfo
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// localPID finds the pid of a --url gateway when it runs on this machine
// (status reports it; /proc must show it and the URL must be loopback).
func (r *runner) localPID(ctx context.Context, t *target) int {
	u, err := url.Parse(t.url)
	if err != nil {
		return 0
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0
	}
	s, err := r.status(ctx, t)
	if err != nil || s.PID <= 0 {
		return 0
	}
	if _, err := procRSS(s.PID); err != nil {
		return 0
	}
	return s.PID
}

func (r *runner) describeGateway(ctx context.Context, t *target) {
	c, err := t.d.dial(ctxTimeout(ctx, 10*time.Second), t.d.connectFrame(scopeRead), true)
	if err == nil {
		var h struct {
			Payload struct {
				Server struct {
					Version string `json:"version"`
				} `json:"server"`
			} `json:"payload"`
		}
		if json.Unmarshal(c.hello, &h) == nil {
			r.rep.Gateway.Version = h.Payload.Server.Version
		}
		c.close()
	}
	if s, err := r.status(ctx, t); err == nil {
		if r.rep.Gateway.Runtime == "" {
			r.rep.Gateway.Runtime = s.Runtime
		}
		if r.rep.Gateway.Version == "" {
			r.rep.Gateway.Version = s.RuntimeVer
		}
	}
	r.rep.Gateway.PID = t.pid
}

// rss reads the gateway's resident memory: VmRSS when the process is
// local, otherwise processMemory.rssBytes from status.
func (r *runner) rss(ctx context.Context, t *target) (int64, error) {
	if t.pid > 0 {
		return procRSS(t.pid)
	}
	s, err := r.status(ctx, t)
	if err != nil {
		return 0, err
	}
	return s.ProcessMemory.RSSBytes, nil
}

// --- 1. startup ---

func (r *runner) startup(ctx context.Context) error {
	res := &StartupResult{}
	r.rep.Startup = res
	defer r.print((*Report).printStartup)
	stateDir := filepath.Join(r.tmp, "startup", "state")
	logPath := filepath.Join(r.tmp, "startup.log")
	for i := 0; i < r.opt.StartupRuns && ctx.Err() == nil; i++ {
		token := newToken()
		p, err := launchGateway(r.opt.GatewayBin, stateDir, logPath, token, r.opt.GatewayEnv, r.opt.GatewayArgs)
		if err != nil {
			return err
		}
		r.procs = append(r.procs, p)
		d := newDialer(p.url, token)
		el, err := p.waitReady(ctx, d, 30*time.Second)
		r.stopProc(p)
		if err != nil {
			return fmt.Errorf("launch %d: %w", i+1, err)
		}
		res.RunsMs = append(res.RunsMs, round3(ms(el)))
		r.progress("startup %d: %.1f ms", i+1, ms(el))
	}
	if len(res.RunsMs) == 0 {
		return errors.New("no launch completed")
	}
	s := append([]float64(nil), res.RunsMs...)
	sort.Float64s(s)
	res.MinMs, res.MaxMs = s[0], s[len(s)-1]
	if len(s)%2 == 1 {
		res.MedianMs = s[len(s)/2]
	} else {
		res.MedianMs = round3((s[len(s)/2-1] + s[len(s)/2]) / 2)
	}
	return nil
}

// --- 2. idle RSS ---

func (r *runner) idle(ctx context.Context, t *target, launchedAt time.Time) error {
	// The readiness probe has closed; wait the settle time from start,
	// and at least one second after the probe.
	wait := time.Until(launchedAt.Add(r.opt.IdleSettle))
	if wait < time.Second {
		wait = time.Second
	}
	if err := sleepCtx(ctx, wait); err != nil {
		return err
	}
	rss, err := procRSS(t.pid)
	if err != nil {
		return err
	}
	res := &IdleResult{RSSBytes: rss, SettleMs: time.Since(launchedAt).Milliseconds()}
	r.rep.Idle = res
	if s, err := r.status(ctx, t); err == nil { // after the RSS reading
		res.HeapUsedBytes, res.HeapTotalBytes, res.Goroutines = s.ProcessMemory.HeapUsedBytes, s.ProcessMemory.HeapTotalBytes, s.ProcessMemory.Goroutines
	}
	r.print((*Report).printIdle)
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// --- 3. handshake latency ---

const handshakeWarmup = 50

func (r *runner) handshake(ctx context.Context, t *target) error {
	frame := t.d.connectFrame(scopeRead)
	n := r.opt.HandshakeCount
	lat := make([]time.Duration, 0, n)
	errs := 0
	var lastErr error
	deadline := time.Now().Add(2*time.Minute + time.Duration(n)*5*time.Millisecond)
	start := time.Now()
	for i := 0; i < n+handshakeWarmup && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		if i == handshakeWarmup {
			start = time.Now()
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		t0 := time.Now()
		c, err := t.d.dial(cctx, frame, false)
		el := time.Since(t0)
		cancel()
		if err != nil {
			errs++
			lastErr = err
			if errs > 20 {
				return fmt.Errorf("%d handshakes failed, last: %w", errs, err)
			}
			continue
		}
		c.close()
		if i >= handshakeWarmup {
			lat = append(lat, el)
		}
	}
	wall := time.Since(start).Seconds()
	if len(lat) == 0 {
		return fmt.Errorf("no handshake completed: %v", lastErr)
	}
	r.rep.Handshake = &HandshakeResult{Count: len(lat), Errors: errs, WallSeconds: wall, Latency: summarize(lat)}
	r.print((*Report).printHandshake)
	return nil
}

// openConns opens n handshaken connections, par at a time, bounded by
// timeout. It returns what it opened, how many failed and the last error;
// it gives up early when more than 1% (+10) fail.
func openConns(ctx context.Context, d *dialer, frame []byte, n, par int, timeout time.Duration) ([]*conn, int, error) {
	return openMany(ctx, n, par, timeout, func(ctx context.Context) (*conn, error) { return d.dial(ctx, frame, false) })
}

// openMany opens n connections with dial, par at a time.
func openMany[T comparable](ctx context.Context, n, par int, timeout time.Duration, dial func(context.Context) (T, error)) ([]T, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]T, n)
	var zero T
	var (
		mu      sync.Mutex
		failed  int
		lastErr error
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, par)
	limit := n/100 + 10
	for i := 0; i < n; i++ {
		mu.Lock()
		stop := failed > limit
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			var c T
			var err error
			for try := 0; try < 3; try++ { // e.g. 503 from pre-auth admission: back off briefly
				dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
				c, err = dial(dctx)
				dcancel()
				var he *handshakeError
				if err == nil || ctx.Err() != nil || errors.As(err, &he) {
					break
				}
				time.Sleep(time.Duration(20*(try+1)) * time.Millisecond)
			}
			if err != nil {
				mu.Lock()
				failed++
				lastErr = err
				mu.Unlock()
				return
			}
			out[i] = c
		}(i)
	}
	wg.Wait()
	opened := out[:0]
	for _, c := range out {
		if c != zero {
			opened = append(opened, c)
		}
	}
	if lastErr == nil && len(opened) < n {
		lastErr = ctx.Err()
	}
	return opened, failed, lastErr
}

func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}
