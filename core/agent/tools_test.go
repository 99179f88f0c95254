package agent_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// The model writes a file in its workspace, reads it back, then answers;
// tool streams reach only the starter with cap tool-events; the transcript
// holds the calls and results.
func TestToolLoop(t *testing.T) {
	m := fakeModel(t)
	m.SetScript(func(req map[string]any) agenttest.Turn {
		last := agenttest.LastMessage(req)
		if last["role"] == "tool" {
			content, _ := json.Marshal(last["content"])
			if strings.Contains(string(content), "hello from the tool") {
				return agenttest.Turn{Text: "The file says hello."}
			}
			return agenttest.Turn{ToolCalls: []agenttest.ToolCall{{ID: "call-2", Name: "read", Args: `{"path":"notes.txt"}`}}}
		}
		return agenttest.Turn{Text: "Writing it.", ToolCalls: []agenttest.ToolCall{
			{ID: "call-1", Name: "write", Args: `{"path":"notes.txt","content":"hello from the tool"}`}}}
	})
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	starterRec := &recorder{ch: make(chan struct{}, 256)}
	opt := g.Options(protocol.ScopeWrite, protocol.ScopeRead)
	opt.Caps = []string{"tool-events"}
	opt.OnEvent = starterRec.on
	starter := g.DialWith(t, opt)
	_, other := dialRec(t, g, protocol.ScopeRead)

	raw, err := callFinal(starter, "agent", map[string]any{"message": "note something", "idempotencyKey": "tools-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "The file says hello.") {
		t.Fatalf("final = %s", raw)
	}
	b, err := os.ReadFile(filepath.Join(g.State, "workspace", "notes.txt"))
	if err != nil || string(b) != "hello from the tool" {
		t.Fatalf("workspace file: %q %v", b, err)
	}
	toolEv := func(rec *recorder) int {
		n := 0
		for _, p := range rec.runEvents("tools-1") {
			if p["stream"] == "tool" {
				n++
			}
		}
		return n
	}
	starterRec.waitFor(t, "tool result", func(ev string, p map[string]any) bool {
		d, _ := p["data"].(map[string]any)
		return p["stream"] == "tool" && d["phase"] == "result" && d["name"] == "read"
	})
	other.waitFor(t, "final", func(ev string, p map[string]any) bool {
		return ev == "chat" && p["state"] == "final" && p["runId"] == "tools-1"
	})
	if n := toolEv(other); n != 0 {
		t.Fatalf("a client without tool-events got %d tool events", n)
	}
	var hist struct{ Messages []map[string]any }
	daemontest.Call(t, starter, "chat.history", map[string]any{"sessionKey": "agent:main:main"}, &hist)
	roles := []string{}
	for _, msg := range hist.Messages {
		roles = append(roles, msg["role"].(string))
	}
	if strings.Join(roles, ",") != "user,assistant,toolResult,assistant,toolResult,assistant" {
		t.Fatalf("transcript roles = %v", roles)
	}
	// The final model call saw the tool results.
	reqs := m.Requests()
	if !strings.Contains(mustJSON(reqs[len(reqs)-1]["messages"]), "call-2") {
		t.Fatal("the last model call lacks the tool result")
	}
}

// Traversal out of the workspace is refused and the run goes on.
func TestToolRefusalsReachTheModel(t *testing.T) {
	m := fakeModel(t)
	m.SetScript(func(req map[string]any) agenttest.Turn {
		last := agenttest.LastMessage(req)
		if last["role"] == "tool" {
			return agenttest.Turn{Text: "result: " + mustJSON(last["content"])}
		}
		return agenttest.Turn{ToolCalls: []agenttest.ToolCall{{ID: "c1", Name: "read", Args: `{"path":"../../../etc/passwd"}`}}}
	})
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	c := g.Dial(t, protocol.ScopeWrite)
	raw, err := callFinal(c, "agent", map[string]any{"message": "read passwd", "idempotencyKey": "escape-1"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "root:") || !strings.Contains(string(raw), "leaves the workspace") {
		t.Fatalf("traversal result = %s", raw)
	}
}

// exec under "ask": an approval client approves once and the command runs.
func TestExecAsksForApproval(t *testing.T) {
	m := fakeModel(t)
	m.SetScript(func(req map[string]any) agenttest.Turn {
		last := agenttest.LastMessage(req)
		if last["role"] == "tool" {
			return agenttest.Turn{Text: "exec said: " + mustJSON(last["content"])}
		}
		return agenttest.Turn{ToolCalls: []agenttest.ToolCall{{ID: "x1", Name: "exec", Args: `{"command":"echo approved-run"}`}}}
	})
	g := daemontest.Start(t, daemon.Options{}, m.Config())
	approver := &recorder{ch: make(chan struct{}, 64)}
	aopt := g.Options(protocol.ScopeApprovals, protocol.ScopeRead)
	var ac = new(struct {
		c interface {
			Call(context.Context, string, any, any) error
		}
	})
	aopt.OnEvent = func(ev protocol.EventFrame) {
		if ev.Event != "exec.approval.requested" {
			return
		}
		var p struct{ ID string }
		_ = json.Unmarshal(ev.Payload, &p)
		go func() {
			_ = ac.c.Call(context.Background(), "exec.approval.resolve", map[string]any{"id": p.ID, "decision": "allow-once"}, nil)
		}()
		approver.on(protocol.EventFrame{Event: "chat", Payload: ev.Payload})
	}
	ac.c = g.DialWith(t, aopt)
	c := g.Dial(t, protocol.ScopeWrite)
	raw, err := callFinal(c, "agent", map[string]any{"message": "run it", "idempotencyKey": "exec-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "approved-run") {
		t.Fatalf("exec result = %s", raw)
	}
}
