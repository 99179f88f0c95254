package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildGateway compiles the pincer binary into a temp dir.
func buildGateway(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and launches the gateway; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("memory figures read /proc")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		// `go test` exports GOROOT to the test process.
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "pincer")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/pincerhq/pincer/macapp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./macapp: %v\n%s", err, out)
	}
	return bin
}

func TestRunTinyLaunched(t *testing.T) {
	bin := buildGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opt := Options{
		GatewayBin:     bin,
		StartupRuns:    2,
		IdleSettle:     500 * time.Millisecond,
		HandshakeCount: 50,
		Duration:       300 * time.Millisecond,
		Warmup:         100 * time.Millisecond,
		Clients:        []int{1, 4},
		Pipeline:       4,
		Listeners:      []int{1, 20},
		FanoutTrials:   3,
		Conns:          []int{50},
		ConnsSettle:    200 * time.Millisecond,
	}
	var out, progress bytes.Buffer
	opt.Progress = &progress
	rep, err := Run(ctx, opt, &out)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s\noutput:\n%s", err, progress.String(), out.String())
	}
	t.Logf("\n%s", out.String())

	if rep.Startup == nil || len(rep.Startup.RunsMs) != 2 || rep.Startup.MedianMs <= 0 || rep.Startup.MinMs <= 0 {
		t.Errorf("startup: %+v", rep.Startup)
	}
	if rep.Idle == nil || rep.Idle.RSSBytes < 1<<20 {
		t.Errorf("idle: %+v", rep.Idle)
	}
	if h := rep.Handshake; h == nil || h.Count != 50 || h.Latency.P50Ms <= 0 || h.Latency.P99Ms < h.Latency.P50Ms {
		t.Errorf("handshake: %+v", rep.Handshake)
	}
	if len(rep.RPC) != 4 {
		t.Fatalf("rpc rows: %+v", rep.RPC)
	}
	wantRows := [][2]int{{1, 1}, {4, 1}, {1, 4}, {4, 4}}
	for i, row := range rep.RPC {
		if row.Clients != wantRows[i][0] || row.Depth != wantRows[i][1] {
			t.Errorf("rpc row %d is %d×%d, want %v", i, row.Clients, row.Depth, wantRows[i])
		}
		if row.Requests <= 0 || row.ReqPerSec <= 0 || row.Errors != 0 || row.Latency.P50Ms <= 0 || row.GatewayCPUPct <= 0 {
			t.Errorf("rpc row %d: %+v", i, row)
		}
	}
	if len(rep.Fanout) != 2 || rep.FanoutListener != "epoll, 1 thread(s)" {
		t.Fatalf("fanout rows (%s): %+v", rep.FanoutListener, rep.Fanout)
	}
	for i, row := range rep.Fanout {
		if row.Listeners != opt.Listeners[i] || row.Latency.N != 3 || row.Incomplete != 0 || row.SeqErrors != 0 || row.Latency.P50Ms <= 0 || row.FirstMs <= 0 || row.FirstMs > row.Latency.MaxMs {
			t.Errorf("fanout row %d: %+v", i, row)
		}
	}
	if c := rep.Conns; c == nil || c.BaseRSSBytes <= 0 || len(c.Rows) != 1 {
		t.Fatalf("conns: %+v", rep.Conns)
	}
	if row := rep.Conns.Rows[0]; row.Opened != 50 || row.RSSBytes <= 0 || !row.HealthOK || row.HealthMs <= 0 || row.Goroutines < 50 {
		t.Errorf("conns row: %+v", row)
	}
	if len(rep.Checks) != 6 {
		t.Errorf("checks: %+v", rep.Checks)
	}
	if len(rep.Errors) != 0 {
		t.Errorf("errors: %v", rep.Errors)
	}
	for _, s := range []string{"== Startup", "== Idle memory", "== Handshake", "== RPC", "== Fan-out", "== Idle connections", "== Summary"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q", s)
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("report does not encode: %v", err)
	}
}

// TestRunTinyURL measures an already running gateway (--url/--token).
func TestRunTinyURL(t *testing.T) {
	bin := buildGateway(t)
	dir := t.TempDir()
	token := newToken()
	p, err := launchGateway(bin, filepath.Join(dir, "state"), filepath.Join(dir, "gw.log"), token, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := p.waitReady(ctx, newDialer(p.url, token), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := Run(ctx, Options{
		URL: p.url, Token: token, Only: []string{SectionHandshake, SectionRPC, SectionConns},
		HandshakeCount: 20, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Clients: []int{2}, Pipeline: -1, Conns: []int{20}, ConnsSettle: 100 * time.Millisecond, JSON: true,
	}, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if rep.Gateway.Launched || rep.Gateway.PID != p.pid() {
		t.Errorf("gateway info: %+v (pid %d)", rep.Gateway, p.pid())
	}
	if rep.Startup != nil || rep.Idle != nil || len(rep.Fanout) != 0 {
		t.Errorf("ran sections that were not asked for")
	}

	if rep.Handshake == nil || rep.Handshake.Count != 20 || len(rep.RPC) != 1 || rep.RPC[0].Requests == 0 {
		t.Errorf("report: %+v", rep)
	}
	if rep.Conns == nil || len(rep.Conns.Rows) != 1 || rep.Conns.Rows[0].RSSBytes <= 0 || !rep.Conns.Rows[0].HealthOK {
		t.Errorf("conns: %+v", rep.Conns)
	}
	var back Report
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Handshake == nil {
		t.Errorf("JSON output: %v\n%s", err, out.String())
	}

	// The goroutine-per-listener fallback (--listener=go).
	rep2, err := Run(ctx, Options{
		URL: p.url, Token: token, Only: []string{SectionFanout}, Listener: ListenerGo,
		Listeners: []int{5}, FanoutTrials: 5, JSON: true,
	}, io.Discard)
	if err != nil {
		t.Fatalf("Run fanout (go listeners): %v", err)
	}
	if rep2.FanoutListener != ListenerGo || len(rep2.Fanout) != 1 || rep2.Fanout[0].Latency.N != 5 || rep2.Fanout[0].Incomplete != 0 || rep2.Fanout[0].SeqErrors != 0 {
		t.Errorf("fanout with go listeners (%s): %+v", rep2.FanoutListener, rep2.Fanout)
	}
}

func TestRunNeedsATarget(t *testing.T) {
	if _, err := Run(context.Background(), Options{}, nil); err == nil {
		t.Fatal("Run without --url or --gateway-bin succeeded")
	}
	if _, err := Run(context.Background(), Options{URL: "ws://127.0.0.1:1", Only: []string{"nope"}}, nil); err == nil {
		t.Fatal("unknown section accepted")
	}
	if _, err := Run(context.Background(), Options{URL: "ws://127.0.0.1:1", Listener: "nope"}, nil); err == nil {
		t.Fatal("unknown listener accepted")
	}
	if _, err := os.Stat("/nonexistent"); err == nil {
		t.Skip()
	}
	if _, err := Run(context.Background(), Options{GatewayBin: "/nonexistent/pincer"}, nil); err == nil {
		t.Fatal("missing binary accepted")
	}
}
