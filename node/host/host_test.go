package host_test

import (
	"context"
	"encoding/json"
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

func runHost(t *testing.T, opt host.Options) chan *protocol.HelloOk {
	t.Helper()
	hellos := make(chan *protocol.HelloOk, 4)
	opt.OnHello = func(h *protocol.HelloOk) { hellos <- h }
	if opt.Secrets == nil {
		opt.Secrets = secrets.NewMemory()
	}
	ctx, cancel := context.WithCancel(context.Background())
	h, err := host.New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("node host did not stop")
		}
	})
	return hellos
}

func waitHello(t *testing.T, ch chan *protocol.HelloOk) *protocol.HelloOk {
	t.Helper()
	select {
	case h := <-ch:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("node host did not connect")
	}
	return nil
}

func approveAndInvoke(t *testing.T, g *daemontest.Gateway, nodeID string) {
	t.Helper()
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	var pl protocol.NodePairListResult
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		daemontest.Call(t, admin, "node.pair.list", nil, &pl)
		if len(pl.Pending) > 0 {
			break
		}
	}
	if len(pl.Pending) != 1 || pl.Pending[0].NodeID != nodeID || !contains(pl.Pending[0].Commands, "system.which") {
		t.Fatalf("pending = %+v", pl.Pending)
	}
	daemontest.Call(t, admin, "node.pair.approve", map[string]any{"requestId": pl.Pending[0].RequestID}, nil)
	var res protocol.NodeInvokeResult
	daemontest.Call(t, admin, "node.invoke", map[string]any{"nodeId": nodeID, "command": "system.which",
		"params": map[string]any{"bins": []string{"sh", "no-such-binary-xyz"}}, "idempotencyKey": "k1"}, &res)
	var which struct{ Bins map[string]string }
	if err := json.Unmarshal(res.Payload, &which); err != nil || !strings.HasSuffix(which.Bins["sh"], "/sh") || len(which.Bins) != 1 {
		t.Fatalf("system.which = %s (%v)", res.Payload, err)
	}
	daemontest.Call(t, admin, "node.invoke", map[string]any{"nodeId": nodeID, "command": "system.run",
		"params": map[string]any{"command": []string{"sh", "-c", "echo hi; exit 3"}}, "idempotencyKey": "k2"}, &res)
	var run struct {
		ExitCode int
		Stdout   string
		Success  bool
	}
	if err := json.Unmarshal(res.Payload, &run); err != nil || run.ExitCode != 3 || run.Stdout != "hi\n" || run.Success {
		t.Fatalf("system.run = %s", res.Payload)
	}
	// A result over the host's limit is refused on the node side.
	var x any
	err := admin.Call(context.Background(), "node.invoke", map[string]any{"nodeId": nodeID, "command": "system.run",
		"params": map[string]any{"command": []string{"sh", "-c", "head -c 20000 /dev/zero | tr '\\0' x"}}, "idempotencyKey": "k3"}, &x)
	if err == nil || !strings.Contains(err.Error(), "PAYLOAD_TOO_LARGE") {
		t.Fatalf("oversized result: %v", err)
	}
	// Host stats arrive after hello.
	var row protocol.NodeRow
	for deadline := time.Now().Add(5 * time.Second); len(row.HostStats) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		daemontest.Call(t, admin, "node.describe", map[string]any{"nodeId": nodeID}, &row)
	}
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func TestNodeHostPairsAndAnswers(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	hellos := runHost(t, host.Options{URL: g.URL, Token: g.Token, DisplayName: "ci-node",
		Commands: hostCommands(), MaxResultBytes: 16 << 10})
	h := waitHello(t, hellos)
	if h.Auth.Role != "node" || h.Auth.DeviceToken == "" {
		t.Fatalf("hello auth = %+v", h.Auth)
	}
	var list protocol.NodeListResult
	daemontest.Call(t, g.Dial(t, protocol.ScopeRead), "node.list", nil, &list)
	if len(list.Nodes) != 1 {
		t.Fatalf("nodes = %+v", list.Nodes)
	}
	approveAndInvoke(t, g, list.Nodes[0].NodeID)
}

func TestNodeHostPairsWithASetupCode(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	var sc protocol.DevicePairSetupCodeResult
	daemontest.Call(t, g.Dial(t, protocol.CLIDefaultScopes...), "device.pair.setupCode", map[string]any{"publicUrl": g.URL, "bootstrapProfile": "node"}, &sc)
	store := secrets.NewMemory()
	hellos := runHost(t, host.Options{SetupCode: sc.SetupCode, Secrets: store, Commands: hostCommands(), MaxResultBytes: 16 << 10})
	h := waitHello(t, hellos)
	if h.Auth.Method != "bootstrap-token" || h.Auth.DeviceToken == "" {
		t.Fatalf("hello auth = %+v", h.Auth)
	}
	var list protocol.NodeListResult
	daemontest.Call(t, g.Dial(t, protocol.ScopeRead), "node.list", nil, &list)
	approveAndInvoke(t, g, list.Nodes[0].NodeID)
	if _, err := host.New(context.Background(), host.Options{SetupCode: "garbage", Secrets: store}); err == nil {
		t.Fatal("garbage setup code accepted")
	}
}

// Under "ask" the node asks the gateway's approval clients through
// exec.approval.request: denied while nobody can approve, run once an
// operator with operator.approvals allows it.
func TestAskPolicyGoesThroughExecApprovals(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	hellos := runHost(t, host.Options{URL: g.URL, Token: g.Token, Commands: commands.Config{ExecPolicy: commands.ExecPolicyAsk}})
	waitHello(t, hellos)
	// The invoking operator cannot approve (no operator.approvals, no admin).
	op := g.Dial(t, protocol.ScopePairing, protocol.ScopeWrite, protocol.ScopeRead)
	var pl protocol.NodePairListResult
	for deadline := time.Now().Add(5 * time.Second); len(pl.Pending) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		daemontest.Call(t, op, "node.pair.list", nil, &pl)
	}
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	daemontest.Call(t, admin, "node.pair.approve", map[string]any{"requestId": pl.Pending[0].RequestID}, nil)
	_ = admin.Close() // an admin connection counts as an approval client
	nodeID := pl.Pending[0].NodeID
	invoke := func(key string) (json.RawMessage, error) {
		var res protocol.NodeInvokeResult
		err := op.Call(context.Background(), "node.invoke", map[string]any{"nodeId": nodeID, "command": "system.run",
			"params": map[string]any{"command": []string{"echo", "asked"}}, "idempotencyKey": key, "timeoutMs": 20000}, &res)
		return res.Payload, err
	}
	if _, err := invoke("ask1"); err == nil || !strings.Contains(err.Error(), "SYSTEM_RUN_DENIED") {
		t.Fatalf("ask with nobody to approve: %v", err)
	}
	// An approver answers allow-once.
	var approver interface {
		Call(context.Context, string, any, any) error
	}
	aopt := g.Options(protocol.ScopeApprovals)
	aopt.OnEvent = func(ev protocol.EventFrame) {
		if ev.Event != "exec.approval.requested" {
			return
		}
		var p struct{ ID string }
		_ = json.Unmarshal(ev.Payload, &p)
		go func() {
			_ = approver.Call(context.Background(), "exec.approval.resolve", map[string]any{"id": p.ID, "decision": "allow-once"}, nil)
		}()
	}
	approver = g.DialWith(t, aopt)
	payload, err := invoke("ask2")
	if err != nil || !strings.Contains(string(payload), "asked") {
		t.Fatalf("approved run: %s %v", payload, err)
	}
}
