package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/secrets"
	"github.com/pincerhq/pincer/node/commands"
	"github.com/pincerhq/pincer/node/host"
)

func TestNodesRunMirrorsTheRemoteCommand(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{}, 1)
	h, err := host.New(ctx, host.Options{URL: g.URL, Token: g.Token, DisplayName: "run-box", Secrets: secrets.NewMemory(),
		Commands: commands.Config{ExecPolicy: commands.ExecPolicyAllowlist, ExecAllowlist: []string{"sh"}},
		OnHello:  func(*protocol.HelloOk) { connected <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("node host did not connect")
	}
	setConfirm(t, false, "")
	if r := runAt(t, g, "nodes", "approve", "run-box", "--yes"); r.code != 0 {
		t.Fatalf("approve: %+v", r)
	}
	// Flags go before "--": everything after it is the remote argv.
	nodesRun := func(args ...string) cliResult {
		return runCLI(t, append([]string{"nodes", "run", "--url", g.URL, "--token", g.Token}, args...)...)
	}
	r := nodesRun("run-box", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || !strings.Contains(r.stderr, "err") {
		t.Fatalf("nodes run = %+v", r)
	}
	if r := nodesRun("--cwd", "/", "run-box", "--", "sh", "-c", "pwd"); r.code != 0 || r.stdout != "/\n" {
		t.Fatalf("nodes run --cwd = %+v", r)
	}
	r = nodesRun("run-box", "--", "ls")
	if r.code != 1 || !strings.Contains(r.stderr, "SYSTEM_RUN_DENIED") {
		t.Fatalf("denied command = %+v", r)
	}
}
