//go:build unix

package interop

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

// TestOfficialNodeHostAgainstPincer: the official `openclaw node run`
// pairs with a Pincer gateway (silently, it is local), waits for capability
// approval, and answers system.which and system.run invokes.
func TestOfficialNodeHostAgainstPincer(t *testing.T) {
	oc := interopTest(t)
	g := startPincer(t)
	u, _ := url.Parse(g.URL)
	out := &lockedBuffer{}
	stop := startOfficialNode(t, oc, t.TempDir(), u.Hostname(), u.Port(), g.Token, out)
	defer func() {
		stop()
		if t.Failed() {
			t.Logf("openclaw node run output:\n%s", tail(out.String(), 8000))
		}
	}()

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	admin, err := client.Dial(dctx, client.Options{URL: g.URL, Token: g.Token, Scopes: protocol.CLIDefaultScopes})
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	call := func(method string, params, out any) error {
		c, cc := context.WithTimeout(context.Background(), 30*time.Second)
		defer cc()
		return admin.Call(c, method, params, out)
	}

	// The node shows up pending capability approval.
	var row protocol.NodeRow
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list protocol.NodeListResult
		if err := call("node.list", nil, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Nodes) == 1 && list.Nodes[0].PendingRequestID != "" {
			row = list.Nodes[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("official node host did not appear pending in node.list: %+v", list.Nodes)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if row.ClientID != "node-host" || row.ApprovalState != "pending-approval" || !contains(row.PendingDeclaredCommands, "system.run") {
		t.Fatalf("pending node row = %+v", row)
	}
	var devs protocol.DevicePairListResult
	if err := call("device.pair.list", nil, &devs); err != nil || len(devs.Paired) != 1 || devs.Paired[0].DeviceID != row.NodeID {
		t.Fatalf("device layer: %+v %v", devs, err)
	}
	if err := call("node.pair.approve", map[string]any{"requestId": row.PendingRequestID}, nil); err != nil {
		t.Fatal(err)
	}

	var which protocol.NodeInvokeResult
	if err := call("node.invoke", map[string]any{"nodeId": row.NodeID, "command": "system.which",
		"params": map[string]any{"bins": []string{"sh", "no-such-binary-xyz"}}, "idempotencyKey": "w1"}, &which); err != nil {
		t.Fatalf("system.which: %v", err)
	}
	var w struct{ Bins map[string]string }
	if err := json.Unmarshal(which.Payload, &w); err != nil || !strings.HasSuffix(w.Bins["sh"], "/sh") || len(w.Bins) != 1 {
		t.Fatalf("system.which payload = %s", which.Payload)
	}
	var run protocol.NodeInvokeResult
	if err := call("node.invoke", map[string]any{"nodeId": row.NodeID, "command": "system.run",
		"params": map[string]any{"command": []string{"echo", "pincer-interop"}}, "idempotencyKey": "r1"}, &run); err != nil {
		t.Fatalf("system.run: %v", err)
	}
	var r struct {
		ExitCode int
		Stdout   string
	}
	if err := json.Unmarshal(run.Payload, &r); err != nil || r.ExitCode != 0 || r.Stdout != "pincer-interop\n" {
		t.Fatalf("system.run payload = %s", run.Payload)
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
