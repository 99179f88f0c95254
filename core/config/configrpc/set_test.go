package configrpc_test

import (
	"context"
	"errors"
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

const initial = `{
  // my gateway
  agents: {entries: {main: {name: "Jarvis"}}},
  models: {providers: {acme: {baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-very-secret-1", api: "openai-completions",
    models: [{id: "m1"}]}}},
}`

func get(t *testing.T, c *client.Client) protocol.ConfigGetResult {
	t.Helper()
	var r protocol.ConfigGetResult
	daemontest.Call(t, c, "config.get", map[string]any{}, &r)
	return r
}

func TestConfigSet(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, initial)
	c := g.Dial(t, protocol.CLIDefaultScopes...)
	cur := get(t, c)
	if cur.Raw == nil || strings.Contains(*cur.Raw, "sk-very-secret-1") || !strings.Contains(*cur.Raw, "__OPENCLAW_REDACTED__") {
		t.Fatalf("config.get raw not redacted: %v", cur.Raw)
	}
	// Edit the redacted text (rename the agent), as the Control UI does.
	edited := strings.Replace(*cur.Raw, `"Jarvis"`, `"Friday"`, 1)
	var res map[string]any
	daemontest.Call(t, c, "config.set", map[string]any{"raw": edited, "baseHash": cur.Hash}, &res)
	if res["ok"] != true || res["hash"] == cur.Hash {
		t.Fatalf("config.set = %v", res)
	}
	file, err := os.ReadFile(filepath.Join(g.State, "pincer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(file), `"Friday"`) || !strings.Contains(string(file), "sk-very-secret-1") ||
		!strings.Contains(string(file), "// my gateway") {
		t.Fatalf("written file lost the secret or the comment:\n%s", file)
	}
	var id protocol.AgentIdentity
	daemontest.Call(t, c, "agent.identity.get", map[string]any{"agentId": "main"}, &id)
	if id.Name != "Friday" {
		t.Fatalf("the running gateway did not take the new config: %+v", id)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.Call(ctx, "config.set", map[string]any{"raw": edited, "baseHash": cur.Hash}, nil)
	if err == nil || !strings.Contains(err.Error(), "config changed since last load") {
		t.Fatalf("stale baseHash: %v", err)
	}
	err = c.Call(ctx, "config.set", map[string]any{"raw": `{gateway: {port: "x"}, agents: {defaults: {tools: {exec: {mode: "sometimes"}}}}}`}, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidRequest {
		t.Fatalf("invalid config: %v", err)
	}
	details, _ := pe.Details.(map[string]any)
	list, _ := details["issues"].([]any)
	paths := map[string]bool{}
	for _, i := range list {
		paths[i.(map[string]any)["path"].(string)] = true
	}
	if !paths["gateway.port"] || !paths["agents.defaults.tools.exec.mode"] {
		t.Fatalf("issues = %v", details)
	}
	if err := c.Call(ctx, "config.set", map[string]any{"raw": `{gateway: {port: `}, nil); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("syntax error: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(g.State, "pincer.json"))
	if string(after) != string(file) {
		t.Fatal("a refused config.set changed the file")
	}
	// A placeholder where nothing is stored cannot be kept.
	err = c.Call(ctx, "config.set", map[string]any{"raw": `{gateway: {auth: {token: "__OPENCLAW_REDACTED__"}}}`}, nil)
	if err == nil || !strings.Contains(err.Error(), "gateway.auth.token") {
		t.Fatalf("dangling placeholder: %v", err)
	}
	daemontest.Call(t, c, "config.set", map[string]any{"raw": `{gateway: {port: 18999}}`}, &res)
	if rr, _ := res["restartRequired"].([]any); len(rr) != 1 || rr[0] != "gateway.port" {
		t.Fatalf("restartRequired = %v", res["restartRequired"])
	}
	daemontest.Call(t, c, "config.set", map[string]any{"raw": `{gateway: {port: 18999}, hooks: {path: "/in"}}`}, &res)
	if rr, _ := res["restartRequired"].([]any); len(rr) != 1 || rr[0] != "hooks.path" {
		t.Fatalf("restartRequired after a hooks.path change = %v", res["restartRequired"])
	}
	// Read-only operators may not write.
	ro := g.Dial(t, protocol.ScopeRead)
	if err := ro.Call(ctx, "config.set", map[string]any{"raw": `{}`}, nil); err == nil {
		t.Fatal("config.set allowed without operator.admin")
	}
}
