package hooks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// toolsConfig lets the main agent run echo without approval, so a test can
// tell "denied over HTTP" from "refused by exec policy".
func toolsConfig(m *agenttest.Model, gatewayTools string) string {
	return fmt.Sprintf(`{models: {providers: {fake: {baseUrl: %q, apiKey: "test", api: "openai-completions",
  models: [{id: "fake-1", contextWindow: 128000}]}}},
  agents: {defaults: {model: {primary: "fake/fake-1"}, tools: {exec: {mode: "allowlist", allowlist: ["echo"]}}}},
  gateway: {tools: {%s}}}`, m.URL, gatewayTools)
}

func invoke(t *testing.T, g *daemontest.Gateway, body any, headers ...string) response {
	t.Helper()
	return do(t, "POST", g.HTTP+"/tools/invoke", body, append([]string{"Authorization", "Bearer " + g.Token}, headers...)...)
}

func resultText(t *testing.T, v map[string]any) string {
	t.Helper()
	res, _ := v["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if len(content) == 0 {
		t.Fatalf("no content in %v", v)
	}
	first, _ := content[0].(map[string]any)
	if first["type"] != "text" {
		t.Fatalf("content = %v", content)
	}
	s, _ := first["text"].(string)
	return s
}

func TestToolsInvokeHTTP(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, toolsConfig(m, `deny: ["sessions_list"]`))

	res := invoke(t, g, map[string]any{"tool": "write", "args": map[string]any{"path": "notes/todo.md", "content": "buy milk\n"}})
	if res.code != 200 || res.json(t)["ok"] != true {
		t.Fatalf("write: %d %s", res.code, res.body)
	}
	res = invoke(t, g, map[string]any{"name": "read", "tool": "ignored", "args": map[string]any{"path": "notes/todo.md"}})
	if v := res.json(t); res.code != 200 || !strings.Contains(resultText(t, v), "buy milk") {
		t.Fatalf("read: %d %s", res.code, res.body)
	}
	res = invoke(t, g, map[string]any{"tool": "ls", "sessionKey": "main", "args": map[string]any{"path": "notes"}})
	if v := res.json(t); res.code != 200 || !strings.Contains(resultText(t, v), "todo.md") {
		t.Fatalf("ls: %d %s", res.code, res.body)
	}

	// Hard-denied over HTTP, configured deny, and unknown tools are 404.
	for _, name := range []string{"exec", "sessions_send", "sessions_list", "no_such_tool"} {
		res := invoke(t, g, map[string]any{"tool": name, "args": map[string]any{"command": "echo hi"}})
		v := res.json(t)
		e, _ := v["error"].(map[string]any)
		if res.code != 404 || v["ok"] != false || e["type"] != "not_found" || e["message"] != "Tool not available: "+name {
			t.Fatalf("%s: %d %s", name, res.code, res.body)
		}
	}
	// A tool's own refusal is a 400 tool_error.
	res = invoke(t, g, map[string]any{"tool": "read", "args": map[string]any{"path": "../outside"}})
	if e, _ := res.json(t)["error"].(map[string]any); res.code != 400 || e["type"] != "tool_error" {
		t.Fatalf("refusal: %d %s", res.code, res.body)
	}
	// Request errors.
	for _, tc := range []struct {
		body any
		code int
	}{
		{map[string]any{"args": map[string]any{}}, 400},
		{"{broken", 400},
		{map[string]any{"tool": "ls", "agentId": "ghost"}, 400},
		{map[string]any{"tool": "ls", "agentId": "ops", "sessionKey": "agent:main:main"}, 400},
		{`{"tool":"write","args":{"path":"x","content":"` + strings.Repeat("y", 2<<20) + `"}}`, 413},
	} {
		if res := invoke(t, g, tc.body); res.code != tc.code {
			t.Fatalf("%.80v: %d %s", tc.body, res.code, res.body)
		}
	}
	// dryRun validates without running.
	res = invoke(t, g, map[string]any{"tool": "write", "dryRun": true, "args": map[string]any{"path": "dry.txt", "content": "x"}})
	if res.code != 200 {
		t.Fatalf("dryRun: %d %s", res.code, res.body)
	}
	if res := invoke(t, g, map[string]any{"tool": "read", "args": map[string]any{"path": "dry.txt"}}); res.code == 200 {
		t.Fatal("a dry run wrote the file")
	}

	// Gateway auth, not hook auth; GET is 405.
	res = do(t, "POST", g.HTTP+"/tools/invoke", map[string]any{"tool": "ls"})
	if e, _ := res.json(t)["error"].(map[string]any); res.code != 401 || e["type"] != "unauthorized" {
		t.Fatalf("no auth: %d %s", res.code, res.body)
	}
	if res := do(t, "GET", g.HTTP+"/tools/invoke", nil, "Authorization", "Bearer "+g.Token); res.code != 405 || res.header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d", res.code)
	}
}

func TestToolsInvokeAllowReenablesADeniedTool(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, toolsConfig(m, `allow: ["exec"]`))
	res := invoke(t, g, map[string]any{"tool": "exec", "args": map[string]any{"command": "echo from-exec"}})
	if v := res.json(t); res.code != 200 || !strings.Contains(resultText(t, v), "from-exec") {
		t.Fatalf("exec allowed by gateway.tools.allow: %d %s", res.code, res.body)
	}
	// The rest of the hard deny list still applies.
	if res := invoke(t, g, map[string]any{"tool": "sessions_send"}); res.code != 404 {
		t.Fatalf("sessions_send: %d %s", res.code, res.body)
	}
}

func TestToolsInvokeMethod(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, toolsConfig(m, ""))
	c := g.Dial(t, protocol.ScopeWrite)

	var out map[string]any
	daemontest.Call(t, c, "tools.invoke", map[string]any{"name": "write", "args": map[string]any{"path": "ws.txt", "content": "over the socket"}}, &out)
	if out["ok"] != true || out["toolName"] != "write" {
		t.Fatalf("write = %v", out)
	}
	out = nil
	daemontest.Call(t, c, "tools.invoke", map[string]any{"name": "read", "args": map[string]any{"path": "ws.txt"}, "sessionKey": "main"}, &out)
	o, _ := out["output"].(map[string]any)
	content, _ := o["content"].([]any)
	if out["ok"] != true || len(content) == 0 || !strings.Contains(content[0].(map[string]any)["text"].(string), "over the socket") {
		t.Fatalf("read = %v", out)
	}
	out = nil
	daemontest.Call(t, c, "tools.invoke", map[string]any{"name": "exec", "args": map[string]any{"command": "echo hi"}}, &out)
	if e, _ := out["error"].(map[string]any); out["ok"] != false || e["code"] != "not_found" {
		t.Fatalf("exec = %v", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Call(ctx, "tools.invoke", map[string]any{"args": map[string]any{}}, nil); err == nil || !strings.Contains(err.Error(), "name") {
		t.Fatalf("missing name: %v", err)
	}
	if err := c.Call(ctx, "tools.invoke", map[string]any{"name": "ls", "dryRun": true}, nil); err == nil {
		t.Fatal("an unknown param was accepted")
	}
	reader := g.Dial(t, protocol.ScopeRead)
	if err := reader.Call(ctx, "tools.invoke", map[string]any{"name": "ls"}, nil); err == nil || !strings.Contains(err.Error(), "scope") {
		t.Fatalf("read scope: %v", err)
	}
}
