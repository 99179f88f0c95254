package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// startFakeNode connects a headless node host that declares commands
// (default system.which) and answers with a system.which payload, or fails
// when the params ask it to.
func startFakeNode(t *testing.T, g *daemontest.Gateway, name string, commands ...string) (nodeID string, invokes func() []protocol.NodeInvokeRequestEvent) {
	t.Helper()
	if commands == nil {
		commands = []string{"system.which"}
	}
	id := newIdentity(t)
	var mu sync.Mutex
	var seen []protocol.NodeInvokeRequestEvent
	var c *client.Client
	ready := make(chan struct{})
	opt := client.Options{URL: g.URL, Token: g.Token, Role: "node", ClientID: "node-host", ClientMode: "node",
		Platform: "linux", DeviceFamily: "Linux", DisplayName: name, Caps: []string{"system"},
		ConnectParamsHook: func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
			p.Commands = commands
			id.SignConnect(p, ch)
		},
		OnEvent: func(ev protocol.EventFrame) {
			if ev.Event != "node.invoke.request" {
				return
			}
			var req protocol.NodeInvokeRequestEvent
			_ = json.Unmarshal(ev.Payload, &req)
			mu.Lock()
			seen = append(seen, req)
			mu.Unlock()
			// Answer from a goroutine: OnEvent runs on the read loop.
			go func() {
				<-ready
				res := map[string]any{"id": req.ID, "nodeId": req.NodeID, "ok": true, "payloadJSON": `{"bins":{"sh":"/bin/sh"}}`}
				if strings.Contains(req.ParamsJSON, "fail") {
					res = map[string]any{"id": req.ID, "nodeId": req.NodeID, "ok": false,
						"error": map[string]any{"code": "WHICH_DENIED", "message": "lookups are switched off"}}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = c.Call(ctx, "node.invoke.result", res, nil)
			}()
		},
	}
	c = g.DialWith(t, opt)
	close(ready)
	return id.DeviceID, func() []protocol.NodeInvokeRequestEvent {
		mu.Lock()
		defer mu.Unlock()
		return append([]protocol.NodeInvokeRequestEvent(nil), seen...)
	}
}

// hasRow reports whether a key/value listing has the row key = value.
func hasRow(out, key, value string) bool {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, key+"  "); ok && strings.TrimSpace(rest) == value {
			return true
		}
	}
	return false
}

// setConfirm makes `nodes approve` see a terminal (or not) with input.
func setConfirm(t *testing.T, interactive bool, input string) {
	t.Helper()
	oldIn, oldTTY := confirmInput, stdinInteractive
	t.Cleanup(func() { confirmInput, stdinInteractive = oldIn, oldTTY })
	confirmInput = strings.NewReader(input)
	stdinInteractive = func() bool { return interactive }
}

func TestNodesAgainstGateway(t *testing.T) {
	g := startTestGateway(t, "")
	nodeID, invokes := startFakeNode(t, g, "build-box")
	short := shortID(nodeID)

	// The node's surface waits for approval.
	r := runAt(t, g, "nodes", "list")
	mustContain(t, "nodes list", r, "Nodes (1)\n", short, "build-box", "linux", "pending-approval", "(system)", "0 (+1 pending)",
		"Pending capability requests (1)\n", "system.which", "pairing,admin")
	var pending protocol.NodePairListResult
	r = runAt(t, g, "nodes", "list", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &pending) != nil || len(pending.Pending) != 1 || !strings.Contains(r.stdout, `"nodes": [`) {
		t.Fatalf("nodes list --json: %+v", r)
	}
	requestID := pending.Pending[0].RequestID

	// Shell access needs a confirmation: refused without a terminal, and
	// when the answer is not yes.
	setConfirm(t, false, "")
	mustFail(t, "approve non-interactive", runAt(t, g, "nodes", "approve", nodeID[:8]), exitError,
		"node build-box ("+short+") asks for shell access (system.which)", "--yes")
	setConfirm(t, true, "n\n")
	r = runAt(t, g, "nodes", "approve", nodeID[:8])
	mustFail(t, "approve declined", r, exitError, "Approve node build-box ("+short+") with shell access (system.which)? [y/N] ", "was not approved")
	mustContain(t, "still pending", runAt(t, g, "nodes", "list"), "pending-approval", requestID)

	// Approve by a prefix of the node id.
	r = runAt(t, g, "nodes", "approve", nodeID[:8], "--yes")
	mustContain(t, "nodes approve --yes", r, "Approved node build-box ("+short+"): system.which.")
	r = runAt(t, g, "nodes", "list")
	mustContain(t, "list after approve", r, "approved", "Pending capability requests (0)\n  none")
	mustFail(t, "approve again", runAt(t, g, "nodes", "approve", "build-box", "--yes"), exitError,
		"node build-box ("+short+") has no pending capability request (approval: approved)")

	// Invoke by name: the payload, pretty.
	r = runAt(t, g, "nodes", "invoke", "build-box", "system.which", `{"bins":["sh"]}`)
	if r.code != 0 || r.stdout != "{\n  \"bins\": {\n    \"sh\": \"/bin/sh\"\n  }\n}\n" {
		t.Fatalf("nodes invoke: %+v", r)
	}
	seen := invokes()
	if len(seen) != 1 || seen[0].Command != "system.which" || seen[0].ParamsJSON != `{"bins":["sh"]}` || seen[0].IdempotencyKey == "" {
		t.Fatalf("node saw %+v", seen)
	}
	r = runAt(t, g, "nodes", "invoke", short, "system.which", "--json", "--invoke-timeout", "5s")
	var res protocol.NodeInvokeResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || !res.OK || res.NodeID != nodeID || res.Command != "system.which" {
		t.Fatalf("nodes invoke --json: %+v", r)
	}
	seen = invokes()
	if len(seen) != 2 || seen[1].IdempotencyKey == seen[0].IdempotencyKey || seen[1].TimeoutMs > 5000 || seen[1].TimeoutMs < 4000 {
		t.Fatalf("second invoke %+v", seen)
	}
	mustFail(t, "invoke node error", runAt(t, g, "nodes", "invoke", "build-box", "system.which", `{"bins":["fail"]}`), exitError,
		"Error: WHICH_DENIED: lookups are switched off")
	mustFail(t, "invoke not allowed", runAt(t, g, "nodes", "invoke", "build-box", "camera.snap"), exitError, "camera.snap")
	mustFail(t, "invoke bad params", runAt(t, g, "nodes", "invoke", "build-box", "system.which", "{bad"), exitUsage, "PARAMS_JSON")
	mustFail(t, "invoke unknown node", runAt(t, g, "nodes", "invoke", "nope", "system.which"), exitError,
		`no node matches "nope"`, short+" (build-box)")

	// Describe, rename, remove.
	r = runAt(t, g, "nodes", "describe", short)
	mustContain(t, "nodes describe", r)
	for _, kv := range [][2]string{{"Node", nodeID}, {"Name", "build-box"}, {"Platform", "linux (Linux)"}, {"Client", "node-host (node)"},
		{"Approval", "approved"}, {"Caps", "system"}, {"Commands", "system.which"}, {"Connected", "yes"}} {
		if !hasRow(r.stdout, kv[0], kv[1]) {
			t.Fatalf("describe: no row %q = %q in\n%s", kv[0], kv[1], r.stdout)
		}
	}
	r = runAt(t, g, "nodes", "rename", "build-box", "ci-box")
	mustContain(t, "nodes rename", r, "Renamed node "+short+` to "ci-box".`)
	if r = runAt(t, g, "nodes", "describe", "ci-box"); r.code != 0 || !hasRow(r.stdout, "Name", "ci-box") {
		t.Fatalf("describe by new name: %+v", r)
	}
	r = runAt(t, g, "nodes", "remove", "ci-box")
	mustContain(t, "nodes remove", r, "Removed node ci-box ("+short+").")
}

// A request is rejected by a prefix of its id; a node asking for ordinary
// commands is approved without a question.
func TestNodesRejectAndPlainApprove(t *testing.T) {
	g := startTestGateway(t, "")
	nodeID, _ := startFakeNode(t, g, "lamp")
	r := runAt(t, g, "nodes", "list", "--json")
	var pl protocol.NodePairListResult
	if json.Unmarshal([]byte(r.stdout), &pl) != nil || len(pl.Pending) != 1 {
		t.Fatalf("list: %+v", r)
	}
	req := pl.Pending[0].RequestID
	r = runAt(t, g, "nodes", "reject", req[:6])
	mustContain(t, "nodes reject", r, "Rejected the capability request "+req+" of node lamp ("+shortID(nodeID)+").")
	mustContain(t, "list after reject", runAt(t, g, "nodes", "list"), "Pending capability requests (0)")

	setConfirm(t, false, "")
	notifier, _ := startFakeNode(t, g, "notifier", "system.notify")
	r = runAt(t, g, "nodes", "approve", "notifier")
	mustContain(t, "plain approve", r, "Approved node notifier ("+shortID(notifier)+"): system.notify.")
}

func TestShellCommands(t *testing.T) {
	got := shellCommands([]string{"camera.list", "system.run", "browser.proxy.upload.v1", "system.execApprovals.get", "fs.listDir", "system.notify", "system.run.prepare"})
	if strings.Join(got, ",") != "system.run,browser.proxy.upload.v1,system.execApprovals.get,fs.listDir,system.run.prepare" {
		t.Fatalf("shellCommands: %v", got)
	}
}

func TestConfirmShellAccess(t *testing.T) {
	var errOut bytes.Buffer
	a := &app{stdout: io.Discard, stderr: &errOut}
	req := protocol.PendingNode{NodeID: "9008abcdef0123456789", DisplayName: "mini", Commands: []string{"system.run", "system.which", "camera.list"}}
	setConfirm(t, true, "yes\n")
	if err := a.confirmShellAccess(req); err != nil {
		t.Fatal(err)
	}
	if errOut.String() != "Approve node mini (9008abcdef01) with shell access (system.run, system.which)? [y/N] " {
		t.Fatalf("prompt %q", errOut.String())
	}
	setConfirm(t, true, "") // EOF is a no
	if err := a.confirmShellAccess(req); err == nil {
		t.Fatal("EOF approved")
	}
}
