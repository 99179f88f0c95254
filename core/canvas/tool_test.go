package canvas_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// operatorNodes is tools.NodesAPI over an operator connection (node ids
// only; the agent's adapter also resolves names).
type operatorNodes struct{ c *client.Client }

func (o operatorNodes) List(ctx context.Context) (json.RawMessage, error) {
	return o.c.CallRaw(ctx, "node.list", map[string]any{}, client.CallOptions{})
}

func (o operatorNodes) Describe(ctx context.Context, id string) (json.RawMessage, error) {
	return o.c.CallRaw(ctx, "node.describe", map[string]any{"nodeId": id}, client.CallOptions{})
}

func (o operatorNodes) Invoke(ctx context.Context, id, command string, params json.RawMessage, timeout time.Duration) (json.RawMessage, error) {
	var res protocol.NodeInvokeResult
	err := o.c.Call(ctx, "node.invoke", map[string]any{"nodeId": id, "command": command, "params": params,
		"timeoutMs": timeout.Milliseconds(), "idempotencyKey": "k-" + time.Now().Format("150405.000000000")}, &res)
	return res.Payload, err
}

// TestCanvasToolA2UIPush drives the agent's canvas tool against the real
// host: the node is told to open a capability URL of the A2UI page, which
// serves and streams; once it streams, later pushes only present.
func TestCanvasToolA2UIPush(t *testing.T) {
	// canvas.* are plugin-owned commands: no platform allows them by default.
	e := startWith(t, `gateway: {nodes: {commands: {allow: ["canvas.present", "canvas.navigate", "canvas.hide"]}}}`)
	admin := e.g.Dial(t, protocol.ScopeAdmin)

	var mu sync.Mutex
	var presented []map[string]any
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	var node *client.Client
	ready := make(chan struct{})
	opt := client.Options{URL: e.g.URL, Token: e.g.Token, Role: protocol.RoleNode, ClientID: protocol.ClientNodeHost,
		ClientMode: protocol.ModeNode, Platform: "linux", DeviceFamily: "Linux", DisplayName: "wall", Caps: []string{"canvas"}}
	opt.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
		p.Commands = []string{"canvas.present", "canvas.navigate", "canvas.hide"}
		id.SignConnect(p, ch)
	}
	opt.OnEvent = func(ev protocol.EventFrame) {
		if ev.Event != "node.invoke.request" {
			return
		}
		var req protocol.NodeInvokeRequestEvent
		_ = json.Unmarshal(ev.Payload, &req)
		go func() {
			<-ready
			var params map[string]any
			_ = json.Unmarshal([]byte(req.ParamsJSON), &params)
			mu.Lock()
			presented = append(presented, params)
			mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = node.Call(ctx, "node.invoke.result", map[string]any{"id": req.ID, "nodeId": req.NodeID, "ok": true,
				"payload": map[string]any{"ok": true}}, nil)
		}()
	}
	node = e.g.DialWith(t, opt)
	close(ready)
	approve(t, admin, id.DeviceID)

	tool := tools.NewCanvas(operatorNodes{admin}).WithHost(e.host)
	run := func(args string) tools.Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := tool.Run(ctx, tools.Call{Args: json.RawMessage(args), AgentID: "main"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := run(`{"action":"a2ui_push","node":"` + id.DeviceID + `","messages":[
		{"surfaceUpdate":{"surfaceId":"s","components":[{"id":"t","component":{"Text":{"text":{"literalString":"hi"}}}}]}},
		{"beginRendering":{"surfaceId":"s","root":"t"}}]}`)
	if r.IsError {
		t.Fatalf("a2ui_push = %+v", r)
	}
	mu.Lock()
	if len(presented) != 1 {
		t.Fatalf("presented %v", presented)
	}
	u, _ := presented[0]["url"].(string)
	mu.Unlock()
	if !strings.HasPrefix(u, e.g.HTTP+"/__openclaw__/cap/") || !strings.HasSuffix(u, "/__openclaw__/a2ui/?agent=main") {
		t.Fatalf("node told to open %q", u)
	}
	if r := get(t, u, ""); r.status != 200 || !strings.Contains(r.body, "app.js") {
		t.Fatalf("the page the node opens = %d", r.status)
	}
	s := openSSE(t, strings.Replace(u, "/a2ui/?", "/a2ui/stream?", 1), "")
	if snap := s.next(t, "snapshot", 5*time.Second); !strings.Contains(snap, `"hi"`) {
		t.Fatalf("snapshot %s", snap)
	}

	// The page streams: the next push only presents, and the page gets it.
	if r := run(`{"action":"a2ui_push","node":"` + id.DeviceID + `","jsonl":"{\"dataModelUpdate\":{\"surfaceId\":\"s\",\"contents\":[{\"key\":\"k\",\"valueString\":\"v\"}]}}"}`); r.IsError {
		t.Fatalf("second push = %+v", r)
	}
	if ev := s.next(t, "a2ui", 5*time.Second); !strings.Contains(ev, `"dataModelUpdate"`) {
		t.Fatalf("event %s", ev)
	}
	mu.Lock()
	if len(presented) != 2 || presented[1]["url"] != nil {
		t.Fatalf("second present %v", presented)
	}
	mu.Unlock()

	// Hosted paths go through the node's capability URL.
	if r := run(`{"action":"navigate","node":"` + id.DeviceID + `","url":"/__openclaw__/canvas/main/index.html"}`); r.IsError {
		t.Fatalf("navigate = %+v", r)
	}
	mu.Lock()
	nu, _ := presented[2]["url"].(string)
	mu.Unlock()
	if r := get(t, nu, ""); r.status != 200 || !strings.Contains(r.body, "Canvas for agent main") {
		t.Fatalf("hosted navigate to %q = %d", nu, r.status)
	}
}

func approve(t *testing.T, admin *client.Client, nodeID string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var pl protocol.NodePairListResult
		daemontest.Call(t, admin, "node.pair.list", nil, &pl)
		for _, r := range pl.Pending {
			if r.NodeID == nodeID {
				daemontest.Call(t, admin, "node.pair.approve", map[string]any{"requestId": r.RequestID}, nil)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending pairing for %s: %+v", nodeID, pl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
