package nodes_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// fakeNode is a node host driven by the test: it answers invokes with
// answer(command, paramsJSON).
type fakeNode struct {
	c      *client.Client
	id     *identity.Identity
	mu     sync.Mutex
	events []string
}

type answerFunc func(req protocol.NodeInvokeRequestEvent) (result map[string]any)

func startNode(t *testing.T, g *daemontest.Gateway, id *identity.Identity, platform, family string, caps, commands []string, answer answerFunc) *fakeNode {
	t.Helper()
	n := &fakeNode{id: id}
	ready := make(chan struct{})
	opt := client.Options{URL: g.URL, Token: g.Token, Role: protocol.RoleNode, ClientID: protocol.ClientNodeHost,
		ClientMode: protocol.ModeNode, Platform: platform, DeviceFamily: family, DisplayName: "test-node", Caps: caps}
	opt.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
		p.Commands = commands
		id.SignConnect(p, ch)
	}
	opt.OnEvent = func(ev protocol.EventFrame) {
		n.mu.Lock()
		n.events = append(n.events, ev.Event)
		n.mu.Unlock()
		if ev.Event != "node.invoke.request" || answer == nil {
			return
		}
		var req protocol.NodeInvokeRequestEvent
		_ = json.Unmarshal(ev.Payload, &req)
		go func() {
			<-ready
			res := answer(req)
			if res == nil {
				return
			}
			res["id"], res["nodeId"] = req.ID, req.NodeID
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var ack map[string]any
			_ = n.c.Call(ctx, "node.invoke.result", res, &ack)
		}()
	}
	n.c = g.DialWith(t, opt)
	close(ready)
	return n
}

func approveNode(t *testing.T, admin *client.Client, nodeID string) {
	t.Helper()
	var pl protocol.NodePairListResult
	deadline := time.Now().Add(5 * time.Second)
	for {
		daemontest.Call(t, admin, "node.pair.list", nil, &pl)
		for _, r := range pl.Pending {
			if r.NodeID == nodeID {
				daemontest.Call(t, admin, "node.pair.approve", map[string]any{"requestId": r.RequestID}, nil)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending node request for %s: %+v", nodeID, pl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func invoke(admin *client.Client, nodeID, command string, params any, timeoutMs int64) (protocol.NodeInvokeResult, error) {
	var res protocol.NodeInvokeResult
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := map[string]any{"nodeId": nodeID, "command": command, "idempotencyKey": "k-" + time.Now().Format("150405.000000000")}
	if params != nil {
		p["params"] = params
	}
	if timeoutMs > 0 {
		p["timeoutMs"] = timeoutMs
	}
	err := admin.Call(ctx, "node.invoke", p, &res)
	return res, err
}

func protoErr(t *testing.T, err error) *protocol.Error {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("want a protocol error, got %v", err)
	}
	return pe
}

func details(e *protocol.Error) map[string]any { m, _ := e.Details.(map[string]any); return m }

func newID(t *testing.T) *identity.Identity {
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var linuxCommands = []string{"system.run", "system.which", "device.info", "camera.snap", "browser.proxy"}

func TestNodeApprovalAndInvoke(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	requested := make(chan protocol.PendingNode, 4)
	wopt := g.Options(protocol.ScopePairing)
	wopt.OnEvent = func(ev protocol.EventFrame) {
		if ev.Event == "node.pair.requested" {
			var p protocol.PendingNode
			_ = json.Unmarshal(ev.Payload, &p)
			requested <- p
		}
	}
	g.DialWith(t, wopt)
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	id := newID(t)
	n := startNode(t, g, id, "linux", "Linux", []string{"system", "camera"}, linuxCommands, func(req protocol.NodeInvokeRequestEvent) map[string]any {
		switch req.Command {
		case "system.which":
			var p struct{ Bins []string }
			_ = json.Unmarshal([]byte(req.ParamsJSON), &p)
			return map[string]any{"ok": true, "payloadJSON": `{"bins":{"sh":"/bin/sh"}}`}
		case "system.run":
			if strings.Contains(req.ParamsJSON, "sleep") {
				return nil // never answers
			}
			if strings.Contains(req.ParamsJSON, "fail") {
				return map[string]any{"ok": false, "error": map[string]any{"code": "SYSTEM_RUN_DENIED", "message": "exec denied"}}
			}
			return map[string]any{"ok": true, "payload": map[string]any{"exitCode": 0, "stdout": "hi\n", "success": true}}
		}
		return map[string]any{"ok": false, "error": map[string]any{"code": "INVALID_REQUEST", "message": "unknown"}}
	})

	select {
	case p := <-requested:
		if p.NodeID != id.DeviceID || p.ClientID != "node-host" {
			t.Fatalf("node.pair.requested = %+v", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no node.pair.requested event")
	}
	// Pending capability surface: the gateway filtered the declaration.
	var list protocol.NodeListResult
	daemontest.Call(t, admin, "node.list", nil, &list)
	if len(list.Nodes) != 1 {
		t.Fatalf("nodes = %+v", list.Nodes)
	}
	row := list.Nodes[0]
	if row.NodeID != id.DeviceID || row.ApprovalState != "pending-approval" || len(row.Commands) != 0 || !row.Connected {
		t.Fatalf("pending row = %+v", row)
	}
	// device.info and camera.snap are not linux defaults: withheld (and the camera cap with them).
	if strings.Join(row.PendingDeclaredCommands, ",") != "system.run,system.which,browser.proxy" || strings.Join(row.PendingDeclaredCaps, ",") != "system" {
		t.Fatalf("pending commands = %v", row.PendingDeclaredCommands)
	}
	var pl protocol.NodePairListResult
	daemontest.Call(t, admin, "node.pair.list", nil, &pl)
	if len(pl.Pending) != 1 || strings.Join(pl.Pending[0].RequiredApproveScopes, ",") != "operator.pairing,operator.admin" {
		t.Fatalf("node.pair.list = %+v", pl)
	}
	// Invoking before approval.
	if _, err := invoke(admin, id.DeviceID, "system.which", map[string]any{"bins": []string{"sh"}}, 0); details(protoErr(t, err))["code"] != "PAIRING_CHANGED" {
		t.Fatalf("invoke before approval: %v", err)
	}
	// A pairing-only operator cannot approve system.run.
	pairer := g.Dial(t, protocol.ScopePairing)
	var x any
	if err := pairer.Call(context.Background(), "node.pair.approve", map[string]any{"requestId": pl.Pending[0].RequestID}, &x); err == nil ||
		protoErr(t, err).Code != protocol.CodeForbidden {
		t.Fatalf("approve without admin: %v", err)
	}
	approveNode(t, admin, id.DeviceID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n.mu.Lock()
		got := strings.Join(n.events, ",")
		n.mu.Unlock()
		if strings.Contains(got, "node.pair.resolved") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node did not get node.pair.resolved: %s", got)
		}
		time.Sleep(10 * time.Millisecond)
	}

	res, err := invoke(admin, id.DeviceID, "system.which", map[string]any{"bins": []string{"sh"}}, 0)
	if err != nil || res.PayloadJSON == nil || string(res.Payload) != `{"bins":{"sh":"/bin/sh"}}` {
		t.Fatalf("system.which = %+v, %v", res, err)
	}
	res, err = invoke(admin, id.DeviceID, "system.run", map[string]any{"command": []string{"echo", "hi"}}, 0)
	if err != nil || res.PayloadJSON != nil || !strings.Contains(string(res.Payload), `"stdout":"hi\n"`) {
		t.Fatalf("system.run = %+v, %v", res, err)
	}
	_, err = invoke(admin, id.DeviceID, "system.run", map[string]any{"command": []string{"fail"}}, 0)
	if e := protoErr(t, err); e.Code != protocol.CodeUnavailable || e.Message != "SYSTEM_RUN_DENIED: exec denied" || details(e)["nodeCommandDispatched"] != true {
		t.Fatalf("node error = %+v", e)
	}
	_, err = invoke(admin, id.DeviceID, "system.run", map[string]any{"command": []string{"sleep"}}, 200)
	if e := protoErr(t, err); !strings.HasPrefix(e.Message, "TIMEOUT:") {
		t.Fatalf("timeout = %+v", e)
	}
	// Policy: dangerous without opt-in, not declared, not allowlisted.
	for cmd, want := range map[string]string{
		"camera.snap":  `node command not allowed: "camera.snap" requires explicit gateway.nodes.commands.allow opt-in`,
		"device.info":  `node command not allowed: "device.info" is not in the allowlist for platform "linux"`,
		"computer.act": `node command not allowed: the node (platform: linux) does not support "computer.act"`,
	} {
		_, err := invoke(admin, id.DeviceID, cmd, nil, 0)
		if e := protoErr(t, err); e.Code != protocol.CodeInvalidRequest || e.Message != want {
			t.Fatalf("%s: %+v", cmd, e)
		}
	}
	// browser.proxy needs admin to invoke.
	writer := g.Dial(t, protocol.ScopeWrite)
	if _, err := invoke(writer, id.DeviceID, "browser.proxy", nil, 0); protoErr(t, err).Code != protocol.CodeForbidden {
		t.Fatalf("browser.proxy as writer: %v", err)
	}

	// Pending invokes fail when the node goes away; then the node is unavailable.
	errc := make(chan error, 1)
	go func() {
		_, err := invoke(admin, id.DeviceID, "system.run", map[string]any{"command": []string{"sleep"}}, 10000)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	_ = n.c.Close()
	select {
	case err := <-errc:
		if details(protoErr(t, err))["code"] != "PAIRING_CHANGED" {
			t.Fatalf("invoke during disconnect: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending invoke not failed on disconnect")
	}
	daemontest.Call(t, admin, "node.list", nil, &list)
	if len(list.Nodes) != 1 || list.Nodes[0].Connected || list.Nodes[0].ApprovalState != "approved" {
		t.Fatalf("after disconnect: %+v", list.Nodes)
	}
	// Rename, describe, remove.
	daemontest.Call(t, admin, "node.rename", map[string]any{"nodeId": id.DeviceID, "displayName": "build box"}, nil)
	var desc protocol.NodeRow
	daemontest.Call(t, admin, "node.describe", map[string]any{"nodeId": id.DeviceID}, &desc)
	if desc.DisplayName != "build box" {
		t.Fatalf("describe = %+v", desc)
	}
	if err := admin.Call(context.Background(), "node.describe", map[string]any{"nodeId": "nope"}, &x); err == nil || !strings.Contains(err.Error(), "unknown nodeId") {
		t.Fatalf("describe unknown: %v", err)
	}
	daemontest.Call(t, admin, "node.pair.remove", map[string]any{"nodeId": id.DeviceID}, nil)
	daemontest.Call(t, admin, "node.list", nil, &list)
	if len(list.Nodes) != 0 {
		t.Fatalf("after remove: %+v", list.Nodes)
	}
}

func TestNodeRoleMethodsAndEvents(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, `{gateway: {nodes: {commands: {allow: ["camera.snap"]}}}}`)
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	id := newID(t)
	n := startNode(t, g, id, "linux", "Linux", []string{"camera"}, []string{"camera.snap"}, func(protocol.NodeInvokeRequestEvent) map[string]any {
		return map[string]any{"ok": true, "payload": map[string]any{"format": "jpg"}}
	})
	approveNode(t, admin, id.DeviceID)
	if _, err := invoke(admin, id.DeviceID, "camera.snap", nil, 0); err != nil {
		t.Fatalf("opted-in dangerous command: %v", err)
	}
	var ev protocol.NodeEventResult
	daemontest.Call(t, n.c, "node.event", map[string]any{"event": "node.host.stats", "payloadJSON": `{"cpuCount":2,"memoryTotalBytes":1,"memoryFreeBytes":1}`}, &ev)
	if !ev.Handled || ev.Reason != "updated" {
		t.Fatalf("host stats = %+v", ev)
	}
	daemontest.Call(t, n.c, "node.event", map[string]any{"event": "node.presence.alive", "payload": map[string]any{"trigger": "manual"}}, &ev)
	if !ev.Handled || ev.Reason != "persisted" {
		t.Fatalf("presence alive = %+v", ev)
	}
	daemontest.Call(t, n.c, "node.event", map[string]any{"event": "exec.finished", "payload": map[string]any{"runId": "r"}}, &ev)
	if ev.Handled || ev.Reason != "unmatched_exec_event" {
		t.Fatalf("exec event = %+v", ev)
	}
	var sk map[string]any
	daemontest.Call(t, n.c, "node.skills.update", map[string]any{"skills": []any{}}, &sk)
	if sk["nodeId"] != id.DeviceID {
		t.Fatalf("skills = %v", sk)
	}
	daemontest.Call(t, n.c, "node.pluginTools.update", map[string]any{"tools": []any{}}, &sk)
	daemontest.Call(t, n.c, "node.runnerInventory.update", map[string]any{"protocolFeatures": []string{"node-worker-supervisor-v6"}, "workerHost": map[string]any{"enabled": false}}, &sk)
	daemontest.Call(t, n.c, "node.invoke.progress", map[string]any{"invokeId": "i", "nodeId": id.DeviceID, "seq": 0, "chunk": "x"}, nil)
	var x any
	for params, want := range map[string]string{`{}`: "surface required", `{"surface":"board"}`: "unknown plugin surface"} {
		if err := n.c.Call(context.Background(), "node.pluginSurface.refresh", json.RawMessage(params), &x); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("pluginSurface.refresh %s: %v", params, err)
		}
	}
	var ack map[string]any
	daemontest.Call(t, n.c, "node.invoke.result", map[string]any{"id": "late", "nodeId": id.DeviceID, "ok": true}, &ack)
	if ack["ignored"] != true {
		t.Fatalf("late result = %v", ack)
	}
	if err := n.c.Call(context.Background(), "node.invoke.result", map[string]any{"id": "x", "nodeId": "other", "ok": true}, &x); err == nil ||
		!strings.Contains(err.Error(), "nodeId mismatch") {
		t.Fatalf("mismatched nodeId: %v", err)
	}
	// Role gating both ways.
	if err := n.c.Call(context.Background(), "node.list", nil, &x); err == nil || !strings.Contains(err.Error(), "unauthorized role: node") {
		t.Fatalf("node calling node.list: %v", err)
	}
	if err := admin.Call(context.Background(), "node.event", map[string]any{"event": "x"}, &x); err == nil || !strings.Contains(err.Error(), "unauthorized role: operator") {
		t.Fatalf("operator calling node.event: %v", err)
	}
	// A second node's request is rejected.
	other := newID(t)
	startNode(t, g, other, "linux", "Linux", []string{"system"}, []string{"system.which"}, nil)
	var pl protocol.NodePairListResult
	for deadline := time.Now().Add(5 * time.Second); len(pl.Pending) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		daemontest.Call(t, admin, "node.pair.list", nil, &pl)
	}
	if len(pl.Pending) != 1 || pl.Pending[0].NodeID != other.DeviceID {
		t.Fatalf("pending = %+v", pl.Pending)
	}
	var rej map[string]any
	daemontest.Call(t, admin, "node.pair.reject", map[string]any{"requestId": pl.Pending[0].RequestID}, &rej)
	if rej["decision"] != "rejected" || rej["nodeId"] != other.DeviceID {
		t.Fatalf("reject = %v", rej)
	}
	var row protocol.NodeRow
	daemontest.Call(t, admin, "node.describe", map[string]any{"nodeId": id.DeviceID}, &row)
	if len(row.HostStats) == 0 || row.LastSeenReason != "manual" {
		t.Fatalf("row = %+v", row)
	}
}
