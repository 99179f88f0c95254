package sessions

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEstimateTokens(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []Message
		want int
	}{
		{"none", nil, 0},
		{"user string", []Message{{Role: RoleUser, Content: TextContent(strings.Repeat("a", 40))}}, 4 + 10},
		{"rounds up", []Message{{Role: RoleUser, Content: TextContent("abcde")}}, 4 + 2},
		{"text parts", []Message{{Role: RoleAssistant, Content: TextParts(strings.Repeat("b", 400))}}, 4 + 100},
		{"tool call arguments count", []Message{{Role: RoleAssistant,
			Content: json.RawMessage(`[{"type":"toolCall","id":"c","name":"read","arguments":{"path":"/etc/hosts"}}]`)}},
			4 + (4+len(`{"path":"/etc/hosts"}`)+3)/4},
		{"image is flat", []Message{{Role: RoleUser,
			Content: json.RawMessage(`[{"type":"image","data":"` + strings.Repeat("A", 100000) + `"}]`)}}, 4 + imageTokens},
		{"tool result", []Message{{Role: RoleTool, ToolName: "ls", Content: TextParts("123456")}}, 4 + 2},
		{"several", []Message{{Role: RoleUser, Content: TextContent("1234")}, {Role: RoleAssistant, Content: TextParts("5678")}}, 8 + 2},
	} {
		if got := EstimateTokens(tc.msgs); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestNeedsCompactionThreshold(t *testing.T) {
	// One message of 4 + n/4 tokens against a 1000-token window: the
	// budget after the 20% reserve is 800.
	msg := func(tokens int) []Message {
		return []Message{{Role: RoleUser, Content: TextContent(strings.Repeat("x", (tokens-4)*4))}}
	}
	if got := EstimateTokens(msg(800)); got != 800 {
		t.Fatalf("fixture estimates %d", got)
	}
	if NeedsCompaction(msg(800), 1000) {
		t.Error("exactly at the budget needs no compaction")
	}
	if !NeedsCompaction(msg(801), 1000) {
		t.Error("one token over the budget should compact")
	}
	if NeedsCompaction(msg(100000), 0) || NeedsCompaction(msg(100000), -1) {
		t.Error("an unknown window never compacts")
	}
	if NeedsCompaction(nil, 10) {
		t.Error("empty context compacts")
	}
}
