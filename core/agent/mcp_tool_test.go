//go:build unix

package agent_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// The model calls a tool of an MCP server from mcp.servers (a stdio server
// built from core/agent/mcp/internal/testserver).
func TestMCPServerToolsReachTheModel(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "mcp-testserver")
	build := exec.Command("go", "build", "-o", bin, "./core/agent/mcp/internal/testserver")
	build.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the MCP test server: %v\n%s", err, b)
	}
	m := fakeModel(t)
	m.SetScript(func(req map[string]any) agenttest.Turn {
		last := agenttest.LastMessage(req)
		if last["role"] == "tool" {
			return agenttest.Turn{Text: "mcp said: " + mustJSON(last["content"])}
		}
		if !strings.Contains(mustJSON(req["tools"]), "t__echo") {
			return agenttest.Turn{Text: "no MCP tool offered"}
		}
		return agenttest.Turn{ToolCalls: []agenttest.ToolCall{{ID: "m1", Name: "t__echo", Args: `{"text":"ping over mcp"}`}}}
	})
	cfg := strings.TrimSuffix(strings.TrimSpace(m.Config()), "}") + `, mcp: {servers: {t: {command: "` + bin + `"}}}}`
	g := daemontest.Start(t, daemon.Options{}, cfg)
	c := g.Dial(t, protocol.ScopeWrite)
	raw, err := callFinal(c, "agent", map[string]any{"message": "use mcp", "idempotencyKey": "mcp-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "ping over mcp") {
		t.Fatalf("final = %s", raw)
	}
}
