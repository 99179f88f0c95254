//go:build unix

package interop

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

// TestPincerNodeAskPolicyThroughOfficialApprovals: under --exec-policy ask,
// `pincer node run` asks the official gateway's approval clients through
// exec.approval.request; an operator approving once lets the command run.
func TestPincerNodeAskPolicyThroughOfficialApprovals(t *testing.T) {
	oc := interopTest(t)
	bin := buildPincer(t)
	g := officialGatewayFor(t, oc)
	startPincerNode(t, bin, "--url", g.URL, "--token", g.Token, "--display-name", "pincer-ask-node", "--exec-policy", "ask")

	// An approver: resolves every exec approval with allow-once.
	approvals := make(chan string, 4)
	var approver *client.Client
	aopt := client.Options{URL: g.URL, Token: g.Token, Scopes: protocol.CLIDefaultScopes, Caps: []string{"exec-approvals", "approvals"}}
	aopt.OnEvent = func(ev protocol.EventFrame) {
		if ev.Event != "exec.approval.requested" {
			return
		}
		var p struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(ev.Payload, &p)
		approvals <- p.ID
		go func() {
			c, cc := context.WithTimeout(context.Background(), 10*time.Second)
			defer cc()
			var res any
			// The result may race the end of the test; the command running
			// is what shows the approval went through.
			_ = approver.Call(c, "exec.approval.resolve", map[string]any{"id": p.ID, "decision": "allow-once"}, &res)
		}()
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	approver, err := client.Dial(dctx, aopt)
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer approver.Close()
	call := func(method string, params, res any) error {
		c, cc := context.WithTimeout(context.Background(), 60*time.Second)
		defer cc()
		return approver.Call(c, method, params, res)
	}

	var nodeID string
	for deadline := time.Now().Add(60 * time.Second); nodeID == ""; time.Sleep(time.Second) {
		var pl struct {
			Pending []struct{ RequestID, NodeID, DisplayName string } `json:"pending"`
		}
		if err := call("node.pair.list", map[string]any{}, &pl); err != nil {
			t.Fatal(err)
		}
		for _, p := range pl.Pending {
			if p.DisplayName == "pincer-ask-node" {
				if err := call("node.pair.approve", map[string]any{"requestId": p.RequestID}, nil); err != nil {
					t.Fatal(err)
				}
				nodeID = p.NodeID
			}
		}
		if nodeID == "" && time.Now().After(deadline) {
			t.Fatal("pincer node did not appear in node.pair.list")
		}
	}
	var res struct {
		Payload struct {
			ExitCode int
			Stdout   string
		} `json:"payload"`
	}
	err = call("node.invoke", map[string]any{"nodeId": nodeID, "command": "system.run", "timeoutMs": 50000,
		"params": map[string]any{"command": []string{"echo", "asked"}}, "idempotencyKey": "pincer-ask-1"}, &res)
	if err != nil {
		t.Fatalf("system.run under ask: %v", err)
	}
	if res.Payload.Stdout != "asked\n" {
		t.Fatalf("system.run payload = %+v", res.Payload)
	}
	select {
	case <-approvals:
	default:
		t.Fatal("the command ran without an approval")
	}
}
