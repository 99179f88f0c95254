// Command pincer-bench measures a Pincer (or any OpenClaw protocol v4)
// gateway on loopback: startup, idle memory, handshake latency, health RPC
// throughput, presence fan-out and idle-connection memory.
//
//	pincer-bench --gateway-bin ./bin/pincer          # launch and measure
//	pincer-bench --url ws://127.0.0.1:18789 --token T  # measure a running gateway
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pincerhq/pincer/core/bench"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	os.Exit(run())
}

func run() int {
	var (
		opt                             bench.Options
		only, clients, listeners, conns string
		quiet                           bool
		gatewayEnv, gatewayArgs         listFlag
	)
	fs := flag.NewFlagSet("pincer-bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: pincer-bench (--gateway-bin PATH | --url ws://HOST:PORT --token T) [flags]\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&opt.URL, "url", "", "measure the gateway at this ws:// URL")
	fs.StringVar(&opt.Token, "token", os.Getenv("PINCER_GATEWAY_TOKEN"), "gateway token for --url (default $PINCER_GATEWAY_TOKEN)")
	fs.StringVar(&opt.GatewayBin, "gateway-bin", "", "launch this pincer binary (temp state dir, random port, generated token)")
	fs.Var(&gatewayEnv, "gateway-env", "KEY=VALUE for launched gateways (repeatable), e.g. GODEBUG=gctrace=1")
	fs.Var(&gatewayArgs, "gateway-arg", "extra argument after `gateway run` (repeatable)")
	fs.BoolVar(&opt.KeepLogs, "keep", false, "keep the launched gateways' state dirs and logs")
	fs.StringVar(&only, "only", "", "sections to run: "+strings.Join(bench.AllSections, ","))
	fs.DurationVar(&opt.Duration, "duration", 0, "measured time per RPC row (default 5s)")
	fs.DurationVar(&opt.Warmup, "warmup", 0, "unmeasured lead-in per RPC row (default 500ms)")
	fs.StringVar(&clients, "clients", "1,16,64", "RPC concurrency levels")
	fs.IntVar(&opt.Pipeline, "pipeline", 8, "extra RPC rows with this many requests in flight per client (0 or 1: none)")
	fs.StringVar(&listeners, "listeners", "1,100,1000,5000", "fan-out listener counts")
	fs.IntVar(&opt.FanoutTrials, "trials", 20, "fan-out trials per listener count")
	fs.IntVar(&opt.FanoutTrialsXL, "trials-xl", 20, "fan-out trials at 5000+ listeners (at least 5, at most --trials)")
	fs.StringVar(&opt.Listener, "listener", "", "fan-out listener reader: epoll (one epoll loop per --listener-threads locked OS thread; default on Linux) or go (a goroutine per listener)")
	fs.IntVar(&opt.ListenerThreads, "listener-threads", 1, "epoll loops (OS threads) for --listener=epoll")
	fs.StringVar(&conns, "conns", "1000,5000,10000", "idle connection levels")
	fs.DurationVar(&opt.ConnsSettle, "settle", 0, "wait at each idle-connection level before reading RSS (default 2s)")
	fs.IntVar(&opt.HandshakeCount, "handshakes", 2000, "sequential handshakes")
	fs.IntVar(&opt.StartupRuns, "startup-runs", 5, "launches for the startup figure")
	fs.IntVar(&opt.OpenParallel, "open-parallel", 32, "connections opened concurrently")
	fs.BoolVar(&opt.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "pincer-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var err error
	if only != "" {
		if opt.Only, err = bench.ParseSections(only); err != nil {
			fmt.Fprintln(os.Stderr, "pincer-bench: --only:", err)
			return 2
		}
	}
	for _, p := range []struct {
		name string
		s    string
		dst  *[]int
	}{{"clients", clients, &opt.Clients}, {"listeners", listeners, &opt.Listeners}, {"conns", conns, &opt.Conns}} {
		if *p.dst, err = bench.ParseInts(p.s); err != nil {
			fmt.Fprintf(os.Stderr, "pincer-bench: --%s: %v\n", p.name, err)
			return 2
		}
	}
	if opt.Pipeline <= 1 {
		opt.Pipeline = -1
	}
	opt.GatewayEnv, opt.GatewayArgs = gatewayEnv, gatewayArgs
	if opt.GatewayBin == "" && opt.URL == "" {
		fs.Usage()
		return 2
	}
	if !quiet {
		opt.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench.Run(ctx, opt, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pincer-bench:", err)
		return 1
	}
	return 0
}
