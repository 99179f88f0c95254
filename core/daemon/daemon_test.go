package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// gw adapts daemontest's gateway to this file's names.
type gw struct {
	*daemontest.Gateway
	url, http, token, state string
}

// start runs a gateway on a random loopback port with a fresh state dir.
func start(t *testing.T, opt daemon.Options, config string) *gw {
	t.Helper()
	g := daemontest.Start(t, opt, config)
	return &gw{Gateway: g, url: g.URL, http: g.HTTP, token: g.Token, state: g.State}
}

// startIn runs a gateway on an existing state dir (restarts).
func startIn(t *testing.T, state string, opt daemon.Options, config string) *gw {
	t.Helper()
	g := daemontest.StartIn(t, state, opt, config)
	return &gw{Gateway: g, url: g.URL, http: g.HTTP, token: g.Token, state: g.State}
}

func (g *gw) stop() error { return g.Stop() }

func (g *gw) dial(t *testing.T, scopes ...string) *client.Client {
	t.Helper()
	return g.Dial(t, scopes...)
}

func call(t *testing.T, c *client.Client, method string, params any, out any) {
	t.Helper()
	daemontest.Call(t, c, method, params, out)
}

func TestZeroConfigStartGeneratesToken(t *testing.T) {
	g := start(t, daemon.Options{}, "")
	info, err := os.Stat(filepath.Join(g.state, "credentials", "gateway-token"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || len(g.token) < 32 {
		t.Fatalf("token file mode %v, token length %d", info.Mode().Perm(), len(g.token))
	}
	if _, err := os.Stat(filepath.Join(g.state, "state", "pincer.sqlite")); err != nil {
		t.Fatalf("state database not created: %v", err)
	}
	c := g.dial(t, protocol.ScopeRead)
	var h protocol.HealthSnapshot
	call(t, c, "health", nil, &h)
	if !h.OK || h.DefaultAgentID != "main" || len(h.Agents) == 0 {
		t.Fatalf("health %+v", h)
	}
}

func TestEveryMethodOverTheWire(t *testing.T) {
	g := start(t, daemon.Options{Token: "tok-123"}, `{
	  // JSON5 with comments
	  agents: {entries: {main: {name: "Clawd"}}},
	  models: {providers: {ollama: {baseUrl: "http://127.0.0.1:11434/v1", api: "openai-completions", models: [{id: "llama3.2", contextWindow: 128000}]}}},
	  gateway: {auth: {token: "ignored-because-flag-wins"}},
	}`)
	admin := g.dial(t, protocol.CLIDefaultScopes...)
	hello := admin.Hello()
	want := []string{"health", "status", "system-presence", "system-event", "last-heartbeat", "set-heartbeats", "wake",
		"logs.tail", "channels.status", "config.get", "config.schema", "models.list", "agent.identity.get",
		// exercised over the wire in core/auth/pairing
		"device.pair.list", "device.pair.approve", "device.pair.reject", "device.pair.remove", "device.pair.rename",
		"device.token.rotate", "device.token.revoke",
		// exercised over the wire in core/nodes
		"node.list", "node.describe", "node.invoke", "node.pair.list", "node.pair.approve", "node.pair.reject",
		"node.pair.remove", "node.rename", "node.invoke.result", "node.invoke.progress", "node.event",
		"node.skills.update", "node.pluginTools.update", "node.pluginSurface.refresh",
		// exercised over the wire in core/agent
		"agent", "agent.wait", "chat.send", "chat.history", "chat.abort", "sessions.list", "sessions.subscribe",
		"sessions.reset", "sessions.delete", "agents.list",
		// exercised over the wire in core/approvals
		"exec.approval.request", "exec.approval.resolve", "exec.approval.get", "exec.approval.list", "exec.approval.waitDecision",
		// exercised over the wire in core/channels and the channel tests here
		"channels.start", "channels.stop", "channels.logout", "send", "channels.pairing.list", "channels.pairing.approve",
		"channels.pairing.dismiss", "message.action", "config.set", "tools.invoke"}
	for _, m := range want {
		if !contains(hello.Features.Methods, m) {
			t.Fatalf("features.methods lacks %s: %v", m, hello.Features.Methods)
		}
	}
	if len(hello.Features.Methods) != len(want) {
		t.Fatalf("features.methods advertises more than is implemented: %v", hello.Features.Methods)
	}
	if hello.Snapshot.SessionDefaults == nil || hello.Snapshot.SessionDefaults.MainSessionKey != "agent:main:main" {
		t.Fatalf("sessionDefaults %+v", hello.Snapshot.SessionDefaults)
	}

	var st protocol.StatusResult
	call(t, admin, "status", map[string]any{"includeChannelSummary": false}, &st)
	if st.RuntimeVersion == "" || st.PID != os.Getpid() || st.ProcessMemory.RSSBytes <= 0 {
		t.Fatalf("status %+v", st)
	}

	var pres []protocol.PresenceEntry
	call(t, admin, "system-presence", nil, &pres)
	if len(pres) == 0 || pres[0].Mode != "gateway" || pres[0].Reason != "self" {
		t.Fatalf("presence %+v", pres)
	}

	var ok protocol.OKResult
	call(t, admin, "system-event", map[string]any{"text": "deploy finished", "idempotencyKey": "ev-1"}, &ok)
	call(t, admin, "system-event", map[string]any{"text": "deploy finished", "idempotencyKey": "ev-1"}, &ok)
	call(t, admin, "status", nil, &st)
	if n := count(st.QueuedSystemEvents, "deploy finished"); n != 1 {
		t.Fatalf("system-event with one idempotency key queued %d times: %v", n, st.QueuedSystemEvents)
	}
	call(t, admin, "system-presence", nil, &pres)
	found := false
	for _, p := range pres {
		found = found || p.Text == "deploy finished"
	}
	if !found {
		t.Fatalf("system-event text not in presence: %+v", pres)
	}

	var last json.RawMessage
	call(t, admin, "last-heartbeat", map[string]any{}, &last)
	if string(last) != "null" {
		t.Fatalf("last-heartbeat before any heartbeat: %s", last)
	}
	var sh protocol.SetHeartbeatsResult
	call(t, admin, "set-heartbeats", map[string]any{"enabled": false}, &sh)
	if !sh.OK || sh.Enabled {
		t.Fatalf("set-heartbeats %+v", sh)
	}
	call(t, admin, "wake", map[string]any{"mode": "now", "text": "check the oven"}, &ok)
	deadline := time.Now().Add(5 * time.Second)
	for string(last) == "null" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		call(t, admin, "last-heartbeat", nil, &last)
	}
	var hb protocol.HeartbeatEvent
	if err := json.Unmarshal(last, &hb); err != nil || hb.Status == "" {
		t.Fatalf("wake now produced no heartbeat: %s", last)
	}

	var tail protocol.LogsTailResult
	call(t, admin, "logs.tail", map[string]any{"limit": 50}, &tail)
	if tail.File == "" || len(tail.Lines) == 0 || !json.Valid([]byte(tail.Lines[0])) {
		t.Fatalf("logs.tail %+v", tail)
	}
	var more protocol.LogsTailResult
	call(t, admin, "logs.tail", map[string]any{"cursor": tail.Cursor}, &more)
	if more.Cursor < tail.Cursor {
		t.Fatalf("cursor went back: %d < %d", more.Cursor, tail.Cursor)
	}

	var cs protocol.ChannelsStatusResult
	call(t, admin, "channels.status", map[string]any{"probe": false, "timeoutMs": 8000}, &cs)
	if cs.Ts == 0 || cs.Channels == nil || cs.ChannelAccounts == nil {
		t.Fatalf("channels.status %+v", cs)
	}

	var cg protocol.ConfigGetResult
	call(t, admin, "config.get", map[string]any{}, &cg)
	if !cg.Exists || !cg.Valid || !strings.HasPrefix(cg.Hash, "hmac-sha256:v1:") || cg.Raw == nil {
		t.Fatalf("config.get %+v", cg)
	}
	if strings.Contains(string(cg.Config)+string(cg.Parsed)+*cg.Raw, "ignored-because-flag-wins") ||
		strings.Contains(string(cg.Config), "tok-123") {
		t.Fatal("config.get leaked a secret")
	}
	if !strings.Contains(*cg.Raw, "__OPENCLAW_REDACTED__") {
		t.Fatalf("raw not redacted: %s", *cg.Raw)
	}

	var schema protocol.ConfigSchemaResult
	call(t, admin, "config.schema", nil, &schema)
	if !strings.Contains(string(schema.Schema), "gateway") {
		t.Fatalf("config.schema %s", schema.Schema)
	}

	var ml protocol.ModelsListResult
	call(t, admin, "models.list", nil, &ml)
	if len(ml.Models) != 1 || ml.Models[0].ID != "llama3.2" || ml.Models[0].Provider != "ollama" || !ml.Models[0].Available {
		t.Fatalf("models.list %+v", ml)
	}

	var id protocol.AgentIdentity
	call(t, admin, "agent.identity.get", map[string]any{"sessionKey": "agent:main:main"}, &id)
	if id.AgentID != "main" || id.Name != "Clawd" || id.Avatar != "C" {
		t.Fatalf("agent.identity.get %+v", id)
	}
	err := admin.Call(context.Background(), "agent.identity.get", map[string]any{"agentId": "ghost"}, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.DetailCode() != protocol.DetailUnknownAgentID {
		t.Fatalf("unknown agent: %v", err)
	}

	// Scopes are enforced per method.
	reader := g.dial(t, protocol.ScopeRead)
	err = reader.Call(context.Background(), "system-event", map[string]any{"text": "x"}, nil)
	if !errors.As(err, &pe) || pe.Code != protocol.CodeForbidden || pe.Message != "missing scope: operator.admin" {
		t.Fatalf("reader system-event: %v", err)
	}
	err = reader.Call(context.Background(), "wake", map[string]any{"mode": "soon", "text": "x"}, nil)
	if !errors.As(err, &pe) || pe.Code != protocol.CodeForbidden {
		t.Fatalf("reader wake: %v", err)
	}
	writer := g.dial(t, protocol.ScopeWrite)
	err = writer.Call(context.Background(), "wake", map[string]any{"mode": "soon", "text": "x"}, nil)
	if !errors.As(err, &pe) || pe.Message != "invalid wake params: at /mode: must be equal to one of the allowed values" {
		t.Fatalf("bad wake params: %v", err)
	}
}

func TestHTTPProbes(t *testing.T) {
	g := start(t, daemon.Options{Token: "t"}, "")
	for path, want := range map[string]string{
		"/health": `"status":"live"`, "/healthz": `"status":"live"`,
		"/ready": `"ready":true`, "/readyz": `"ready":true`, "/startupz": `"status":"started"`,
	} {
		resp, err := http.Get(g.http + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestInvalidConfigRefusesToStart(t *testing.T) {
	state := t.TempDir()
	t.Setenv("PINCER_STATE_DIR", state)
	t.Setenv("PINCER_CONFIG_PATH", "")
	_ = os.WriteFile(filepath.Join(state, "pincer.json"), []byte(`{gateway: {port: 70000, auth: {mode: "magic"}}}`), 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	err := daemon.Run(context.Background(), daemon.Options{Listener: ln})
	if err == nil {
		t.Fatal("started with an invalid config")
	}
	for _, want := range []string{"gateway.port", "gateway.auth.mode"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error does not name %s: %v", want, err)
		}
	}
}

func TestOneGatewayPerStateDir(t *testing.T) {
	g := start(t, daemon.Options{Token: "t"}, "")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	t.Setenv("PINCER_STATE_DIR", g.state)
	err := daemon.Run(context.Background(), daemon.Options{Token: "t", Listener: ln})
	if err == nil || !strings.Contains(err.Error(), "another Pincer gateway") {
		t.Fatalf("second gateway on the same state dir: %v", err)
	}
}

func TestGracefulStop(t *testing.T) {
	g := start(t, daemon.Options{Token: "t"}, "")
	c := g.dial(t, protocol.ScopeRead)
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed at shutdown")
	}
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != 1012 {
		t.Fatalf("close = %v, want 1012 service restart", c.Err())
	}
}

func contains(list []string, s string) bool { return count(list, s) > 0 }

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestStateSurvivesRestart(t *testing.T) {
	g := start(t, daemon.Options{Token: "t"}, "")
	admin := g.dial(t, protocol.CLIDefaultScopes...)
	call(t, admin, "set-heartbeats", map[string]any{"enabled": false}, nil)
	call(t, admin, "system-event", map[string]any{"text": "remember me"}, nil)
	_ = admin.Close()
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	g2 := startIn(t, g.state, daemon.Options{Token: "t"}, "")
	c := g2.dial(t, protocol.ScopeRead)
	var st protocol.StatusResult
	call(t, c, "status", nil, &st)
	if len(st.Heartbeat.Agents) == 0 || st.Heartbeat.Agents[0].Enabled {
		t.Fatalf("set-heartbeats false lost across restart: %+v", st.Heartbeat)
	}
	if count(st.QueuedSystemEvents, "remember me") != 1 {
		t.Fatalf("queued system event lost across restart: %v", st.QueuedSystemEvents)
	}
}
