package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run. Sections that did not run are nil/empty.
type Report struct {
	StartedAt  time.Time        `json:"startedAt"`
	FinishedAt time.Time        `json:"finishedAt"`
	Machine    Machine          `json:"machine"`
	Gateway    GatewayInfo      `json:"gateway"`
	Startup    *StartupResult   `json:"startup,omitempty"`
	Idle       *IdleResult      `json:"idle,omitempty"`
	Handshake  *HandshakeResult `json:"handshake,omitempty"`
	RPC        []RPCRow         `json:"rpc,omitempty"`
	Fanout     []FanoutRow      `json:"fanout,omitempty"`
	// FanoutListener describes the fan-out listeners' reader ("epoll, 1
	// thread" or "go").
	FanoutListener string       `json:"fanoutListener,omitempty"`
	Conns          *ConnsResult `json:"conns,omitempty"`
	Checks         []Check      `json:"checks"`
	Notes          []string     `json:"notes,omitempty"`
	Errors         []string     `json:"errors,omitempty"`
}

// Machine describes where the bench ran.
type Machine struct {
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpuModel,omitempty"`
	MemTotalBytes int64  `json:"memTotalBytes,omitempty"`
	Kernel        string `json:"kernel,omitempty"`
	GoVersion     string `json:"goVersion"`
	NoFileSoft    uint64 `json:"noFileSoft"`
	NoFileHard    uint64 `json:"noFileHard"`
}

// GatewayInfo identifies the measured gateway.
type GatewayInfo struct {
	URL      string `json:"url,omitempty"`
	Launched bool   `json:"launched"`
	Binary   string `json:"binary,omitempty"`
	Version  string `json:"version,omitempty"`
	Runtime  string `json:"runtime,omitempty"` // Go version the binary was built with
	PID      int    `json:"pid,omitempty"`
}

// StartupResult: exec → first hello-ok, one figure per launch. The first
// launch starts from an empty state dir; the others reuse it (restarts).
type StartupResult struct {
	RunsMs   []float64 `json:"runsMs"`
	MedianMs float64   `json:"medianMs"`
	MinMs    float64   `json:"minMs"`
	MaxMs    float64   `json:"maxMs"`
}

// IdleResult is the launched gateway's memory with no clients.
type IdleResult struct {
	SettleMs       int64 `json:"settleMs"`
	RSSBytes       int64 `json:"rssBytes"`
	HeapUsedBytes  int64 `json:"heapUsedBytes,omitempty"`
	HeapTotalBytes int64 `json:"heapTotalBytes,omitempty"`
	Goroutines     int   `json:"goroutines,omitempty"`
}

// HandshakeResult: sequential upgrade + challenge + connect + hello-ok.
type HandshakeResult struct {
	Count       int     `json:"count"`
	Errors      int     `json:"errors"`
	WallSeconds float64 `json:"wallSeconds"`
	Latency     Latency `json:"latency"`
}

// RPCRow is one throughput level of `health` requests.
type RPCRow struct {
	Clients   int     `json:"clients"`
	Depth     int     `json:"depth"` // requests in flight per client
	Seconds   float64 `json:"seconds"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ReqPerSec float64 `json:"reqPerSec"`
	Latency   Latency `json:"latency"`
	// CPU use over the measured window, in percent of one core (-1 when
	// the gateway is not a local process).
	GatewayCPUPct float64 `json:"gatewayCpuPct"`
	BenchCPUPct   float64 `json:"benchCpuPct"`
	// Events is how many event frames (health broadcasts) the clients read.
	Events int64 `json:"events"`
}

// FanoutRow is one listener count of the presence fan-out.
type FanoutRow struct {
	Listeners  int `json:"listeners"`
	Trials     int `json:"trials"`
	Incomplete int `json:"incomplete"` // trials where not every listener got it in time
	// SeqErrors counts events whose seq was not the listener's previous
	// one + 1 (a dropped event or a gateway bug), during this row.
	SeqErrors int     `json:"seqErrors"`
	Latency   Latency `json:"latency"`    // send → last listener
	FirstMs   float64 `json:"firstP50Ms"` // send → first listener, median
	// CPU time per trial (including the warm-up trial), in milliseconds;
	// -1 when the gateway is not a local process.
	GatewayCPUMs float64 `json:"gatewayCpuMsPerTrial"`
	BenchCPUMs   float64 `json:"benchCpuMsPerTrial"`
}

// ConnsResult holds idle connections and measures the gateway's memory.
type ConnsResult struct {
	Parallel     int        `json:"parallel"`
	BaseRSSBytes int64      `json:"baseRssBytes"`
	Rows         []ConnsRow `json:"rows"`
}

// ConnsRow is one level of held connections.
type ConnsRow struct {
	Conns          int     `json:"conns"`
	Opened         int     `json:"opened"`
	Failed         int     `json:"failed"`
	OpenSeconds    float64 `json:"openSeconds"` // to open this level's new connections
	RSSBytes       int64   `json:"rssBytes"`
	BytesPerConn   int64   `json:"bytesPerConn"` // (RSS - base RSS) / opened
	HeapUsedBytes  int64   `json:"heapUsedBytes,omitempty"`
	HeapTotalBytes int64   `json:"heapTotalBytes,omitempty"`
	Goroutines     int     `json:"goroutines,omitempty"`
	HealthOK       bool    `json:"healthOk"`
	HealthMs       float64 `json:"healthMs"` // connect + health on a new connection
}

// Check is one headline figure against its target.
type Check struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target"`
	Node   string  `json:"nodeReference"`
	// Pass is nil when the figure was not measured.
	Pass *bool `json:"pass"`
}

func machineFacts() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
						m.MemTotalBytes = v * 1024
					}
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, v, ok := strings.Cut(line, ":"); ok {
					m.CPUModel = strings.TrimSpace(v)
					break
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// Targets and the Node.js reference (OpenClaw gateway, similar 2-core box).
func (r *Report) computeChecks() {
	pass := func(ok bool) *bool { return &ok }
	var cs []Check
	c := Check{Name: "startup to first hello-ok (median)", Unit: "ms", Target: "< 100 ms", Node: "14.6 s"}
	if r.Startup != nil && len(r.Startup.RunsMs) > 0 {
		c.Value, c.Pass = r.Startup.MedianMs, pass(r.Startup.MedianMs < 100)
	}
	cs = append(cs, c)
	c = Check{Name: "idle RSS", Unit: "MiB", Target: "< 30 MiB", Node: "~700 MiB"}
	if r.Idle != nil && r.Idle.RSSBytes > 0 {
		c.Value, c.Pass = mib(r.Idle.RSSBytes), pass(r.Idle.RSSBytes < 30<<20)
	}
	cs = append(cs, c)
	c = Check{Name: "handshake latency (p50)", Unit: "ms", Target: "< 1 ms", Node: "3.4 ms"}
	if r.Handshake != nil && r.Handshake.Latency.N > 0 {
		c.Value, c.Pass = r.Handshake.Latency.P50Ms, pass(r.Handshake.Latency.P50Ms < 1)
	}
	cs = append(cs, c)
	c = Check{Name: "health req/s at 64 clients", Unit: "req/s", Target: "≥ 20,000", Node: "~400"}
	for _, row := range r.RPC {
		if row.Clients == 64 && row.Depth == 1 {
			c.Value, c.Pass = row.ReqPerSec, pass(row.ReqPerSec >= 20000)
		}
	}
	cs = append(cs, c)
	c = Check{Name: "fan-out to 5000 listeners (p50)", Unit: "ms", Target: "< 30 ms", Node: "158 ms"}
	for _, row := range r.Fanout {
		if row.Listeners == 5000 && row.Latency.N > 0 {
			c.Value, c.Pass = row.Latency.P50Ms, pass(row.Latency.P50Ms < 30 && row.Incomplete == 0 && row.SeqErrors == 0)
		}
	}
	cs = append(cs, c)
	c = Check{Name: "RSS with 10,000 idle connections", Unit: "MiB", Target: "< 150 MiB", Node: "863 MiB"}
	if r.Conns != nil {
		for _, row := range r.Conns.Rows {
			if row.Conns == 10000 && row.RSSBytes > 0 {
				c.Value, c.Pass = mib(row.RSSBytes), pass(row.RSSBytes < 150<<20 && row.Opened == row.Conns && row.HealthOK)
			}
		}
	}
	cs = append(cs, c)
	r.Checks = cs
}

func passText(p *bool) string {
	switch {
	case p == nil:
		return "not measured"
	case *p:
		return "PASS"
	default:
		return "FAIL"
	}
}

func table(w io.Writer, title string, header []string, rows [][]string) {
	fmt.Fprintf(w, "\n== %s ==\n", title)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
func itoa(v int) string   { return strconv.Itoa(v) }

// thousands formats 12345.6 as "12,346".
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

func (r *Report) printHeader(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "pincer-bench  %s\n", r.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %s/%s, %d CPUs (%s), %.1f GiB RAM, kernel %s, bench %s, RLIMIT_NOFILE %d/%d\n",
		m.OS, m.Arch, m.CPUs, m.CPUModel, float64(m.MemTotalBytes)/(1<<30), m.Kernel, m.GoVersion, m.NoFileSoft, m.NoFileHard)
}

func (r *Report) printGateway(w io.Writer) {
	g := r.Gateway
	how := "existing"
	if g.Launched {
		how = "launched from " + g.Binary
	}
	fmt.Fprintf(w, "gateway: %s (%s), version %s", g.URL, how, g.Version)
	if g.Runtime != "" {
		fmt.Fprintf(w, ", built with %s", g.Runtime)
	}
	fmt.Fprintln(w)
}

func (r *Report) printStartup(w io.Writer) {
	s := r.Startup
	if s == nil {
		return
	}
	var rows [][]string
	for i, v := range s.RunsMs {
		note := "restart (existing state dir)"
		if i == 0 {
			note = "first start (empty state dir)"
		}
		rows = append(rows, []string{itoa(i + 1), f1(v), note})
	}
	rows = append(rows, []string{"median", f1(s.MedianMs), ""}, []string{"min", f1(s.MinMs), ""})
	table(w, "Startup: exec → first hello-ok (poll-connect every 2 ms)", []string{"launch", "ms", ""}, rows)
}

func (r *Report) printIdle(w io.Writer) {
	s := r.Idle
	if s == nil {
		return
	}
	rows := [][]string{{f1(mib(s.RSSBytes)), f1(mib(s.HeapUsedBytes)), f1(mib(s.HeapTotalBytes)), itoa(s.Goroutines), strconv.FormatInt(s.SettleMs, 10)}}
	table(w, "Idle memory (no clients)", []string{"VmRSS MiB", "Go heap used MiB", "Go heap sys MiB", "goroutines", "settled ms"}, rows)
}

func (r *Report) printHandshake(w io.Writer) {
	s := r.Handshake
	if s == nil {
		return
	}
	l := s.Latency
	rows := [][]string{{itoa(l.N), itoa(s.Errors), f3(l.P50Ms), f3(l.P90Ms), f3(l.P99Ms), f3(l.MeanMs), f3(l.MaxMs), f1(float64(l.N) / s.WallSeconds)}}
	table(w, "Handshake: upgrade + challenge + connect + hello-ok, sequential", []string{"n", "errors", "p50 ms", "p90 ms", "p99 ms", "mean ms", "max ms", "per s"}, rows)
}

func (r *Report) printRPC(w io.Writer) {
	if len(r.RPC) == 0 {
		return
	}
	var rows [][]string
	for _, x := range r.RPC {
		gcpu := "-"
		if x.GatewayCPUPct >= 0 {
			gcpu = strconv.Itoa(int(x.GatewayCPUPct + 0.5))
		}
		rows = append(rows, []string{itoa(x.Clients), itoa(x.Depth), thousands(x.ReqPerSec), f3(x.Latency.P50Ms), f3(x.Latency.P99Ms),
			strconv.FormatInt(x.Requests, 10), strconv.FormatInt(x.Errors, 10), strconv.FormatInt(x.Events, 10), gcpu, strconv.Itoa(int(x.BenchCPUPct + 0.5))})
	}
	table(w, "RPC: health requests", []string{"clients", "in flight/client", "req/s", "p50 ms", "p99 ms", "requests", "errors", "events read", "gateway CPU %", "bench CPU %"}, rows)
}

func (r *Report) printFanout(w io.Writer) {
	if len(r.Fanout) == 0 {
		return
	}
	var rows [][]string
	for _, x := range r.Fanout {
		gcpu := "-"
		if x.GatewayCPUMs >= 0 {
			gcpu = f1(x.GatewayCPUMs)
		}
		rows = append(rows, []string{itoa(x.Listeners), itoa(x.Latency.N), itoa(x.Incomplete), itoa(x.SeqErrors), f3(x.FirstMs), f3(x.Latency.P50Ms), f3(x.Latency.P99Ms), f3(x.Latency.MaxMs), gcpu, f1(x.BenchCPUMs)})
	}
	table(w, "Fan-out: system-event → presence at the last listener (listeners: "+r.FanoutListener+")", []string{"listeners", "trials", "incomplete", "seq errors", "first p50 ms", "last p50 ms", "last p99 ms", "last max ms", "gateway CPU ms/trial", "bench CPU ms/trial"}, rows)
}

func (r *Report) printConns(w io.Writer) {
	s := r.Conns
	if s == nil {
		return
	}
	rows := [][]string{{"0", "", "", f1(mib(s.BaseRSSBytes)), "", "", "", "", ""}}
	for _, x := range s.Rows {
		ok := "ok"
		if !x.HealthOK {
			ok = "FAILED"
		}
		rows = append(rows, []string{itoa(x.Conns), itoa(x.Opened), f2(x.OpenSeconds), f1(mib(x.RSSBytes)), thousands(float64(x.BytesPerConn)),
			f1(mib(x.HeapUsedBytes)), itoa(x.Goroutines), ok, f2(x.HealthMs)})
	}
	table(w, fmt.Sprintf("Idle connections (cli, operator.read; opened %d at a time)", s.Parallel),
		[]string{"conns", "opened", "open s", "VmRSS MiB", "bytes/conn", "Go heap MiB", "goroutines", "health", "health ms"}, rows)
}

func (r *Report) printChecks(w io.Writer) {
	var rows [][]string
	for _, c := range r.Checks {
		v := "-"
		if c.Pass != nil {
			switch c.Unit {
			case "req/s":
				v = thousands(c.Value) + " req/s"
			case "MiB":
				v = f1(c.Value) + " MiB"
			default:
				v = f2(c.Value) + " " + c.Unit
			}
		}
		rows = append(rows, []string{c.Name, v, c.Target, passText(c.Pass), c.Node})
	}
	fmt.Fprintf(w, "\n== Summary ==\n")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tPincer\ttarget\tresult\tNode.js OpenClaw")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}
