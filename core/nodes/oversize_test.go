package nodes_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// A node answering with a frame over policy.maxPayload is disconnected
// (1009) and the operator's invoke fails instead of hanging.
func TestOversizedInvokeResultDisconnectsTheNode(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	admin := g.Dial(t, protocol.CLIDefaultScopes...)
	id := newID(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, g.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(-1)
	read := func() map[string]json.RawMessage {
		t.Helper()
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		return m
	}
	var ch protocol.ChallengeEvent
	_ = json.Unmarshal(read()["payload"], &ch)
	tok := g.Token
	p := protocol.ConnectParams{MinProtocol: 4, MaxProtocol: 4, Role: "node", Scopes: []string{}, Commands: []string{"system.which"},
		Client: protocol.ClientInfo{ID: "node-host", Mode: "node", Version: "1", Platform: "linux", DeviceFamily: "Linux"},
		Auth:   &protocol.ConnectAuth{Token: &tok}}
	id.SignConnect(&p, ch)
	b, _ := json.Marshal(map[string]any{"type": "req", "id": "c1", "method": "connect", "params": p})
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	var hello struct {
		OK      bool `json:"ok"`
		Payload struct {
			Policy protocol.HelloPolicy `json:"policy"`
		} `json:"payload"`
	}
	hb, _ := json.Marshal(read())
	_ = json.Unmarshal(hb, &hello)
	if !hello.OK {
		t.Fatalf("connect failed: %s", hb)
	}
	approveNode(t, admin, id.DeviceID)

	errc := make(chan error, 1)
	go func() {
		_, err := invoke(admin, id.DeviceID, "system.which", map[string]any{"bins": []string{"sh"}}, 30000)
		errc <- err
	}()
	var req protocol.NodeInvokeRequestEvent
	for req.ID == "" {
		m := read()
		var ev string
		_ = json.Unmarshal(m["event"], &ev)
		if ev == "node.invoke.request" {
			_ = json.Unmarshal(m["payload"], &req)
		}
	}
	big := strings.Repeat("x", int(hello.Payload.Policy.MaxPayload)+1)
	res, _ := json.Marshal(map[string]any{"type": "req", "id": "r1", "method": "node.invoke.result",
		"params": map[string]any{"id": req.ID, "nodeId": id.DeviceID, "ok": true, "payloadJSON": `"` + big + `"`}})
	_ = ws.Write(ctx, websocket.MessageText, res)
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("node connection after an oversized frame: %v", err)
	}
	select {
	case err := <-errc:
		if details(protoErr(t, err))["code"] != "PAIRING_CHANGED" {
			t.Fatalf("invoke after the node was cut off: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("invoke did not fail when the node was disconnected")
	}
}
