package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/secrets"
	"github.com/pincerhq/pincer/node/commands"
	"github.com/pincerhq/pincer/node/host"
)

// The agent reaches a real paired node through the nodes tool.
func TestNodesToolInvokesAPairedNode(t *testing.T) {
	m := fakeModel(t)
	m.SetScript(func(req map[string]any) agenttest.Turn {
		last := agenttest.LastMessage(req)
		if last["role"] == "tool" {
			return agenttest.Turn{Text: "node said: " + mustJSON(last["content"])}
		}
		return agenttest.Turn{ToolCalls: []agenttest.ToolCall{{ID: "n1", Name: "nodes",
			Args: `{"action":"invoke","node":"lab-box","invokeCommand":"system.which","invokeParamsJson":"{\"bins\":[\"sh\"]}"}`}}}
	})
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	ctx, cancel := context.WithCancel(context.Background())
	hello := make(chan struct{}, 1)
	h, err := host.New(ctx, host.Options{URL: g.URL, Token: g.Token, DisplayName: "lab-box", Secrets: secrets.NewMemory(),
		Commands: commands.Config{ExecPolicy: commands.ExecPolicyDeny}, OnHello: func(*protocol.HelloOk) { hello <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-hello:
	case <-time.After(10 * time.Second):
		t.Fatal("node did not connect")
	}
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	var pl protocol.NodePairListResult
	daemontest.Call(t, admin, "node.pair.list", nil, &pl)
	if len(pl.Pending) != 1 {
		t.Fatalf("pending = %+v", pl)
	}
	daemontest.Call(t, admin, "node.pair.approve", map[string]any{"requestId": pl.Pending[0].RequestID}, nil)
	raw, err := callFinal(admin, "agent", map[string]any{"message": "where is sh on lab-box?", "idempotencyKey": "nodes-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "/sh") {
		t.Fatalf("final = %s", raw)
	}
}
