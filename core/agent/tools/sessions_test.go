package tools

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// fakeSessions is a SessionsAPI over fixed data.
type fakeSessions struct {
	sessions []SessionInfo
	history  map[string][]HistoryItem
	sent     [][3]string
	asked    []int // History limits asked for
}

func (f *fakeSessions) List(context.Context) ([]SessionInfo, error) { return f.sessions, nil }

func (f *fakeSessions) History(_ context.Context, key string, limit int) ([]HistoryItem, error) {
	f.asked = append(f.asked, limit)
	h, ok := f.history[key]
	if !ok {
		return nil, errors.New("unknown session " + key)
	}
	if len(h) > limit {
		h = h[len(h)-limit:]
	}
	return h, nil
}

func (f *fakeSessions) Send(_ context.Context, from, to, msg string) (string, error) {
	if to == "agent:ops:gone" {
		return "", errors.New("session agent:ops:gone was deleted")
	}
	f.sent = append(f.sent, [3]string{from, to, msg})
	return "run-42", nil
}

func TestSessionsList(t *testing.T) {
	api := &fakeSessions{sessions: []SessionInfo{
		{Key: "agent:main:main", AgentID: "main", Kind: "direct", UpdatedAt: 3},
		{Key: "agent:main:telegram:group:1", AgentID: "main", Kind: "group", Label: "family", DisplayName: "Family chat", UpdatedAt: 2},
		{Key: "agent:ops:main", AgentID: "ops", Kind: "direct", Status: "running", UpdatedAt: 1},
	}}
	tool := NewSessionsList(api)
	decode := func(r Result) (out struct {
		Count    int           `json:"count"`
		HasMore  bool          `json:"hasMore"`
		Sessions []SessionInfo `json:"sessions"`
	}) {
		t.Helper()
		if err := json.Unmarshal([]byte(wantOK(t, r)), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := decode(run(t, tool, "", map[string]any{})); out.Count != 3 || out.HasMore || out.Sessions[2].Status != "running" {
		t.Fatalf("all = %+v", out)
	}
	if out := decode(run(t, tool, "", map[string]any{"limit": 1})); out.Count != 1 || !out.HasMore || out.Sessions[0].Key != "agent:main:main" {
		t.Fatalf("limit = %+v", out)
	}
	if out := decode(run(t, tool, "", map[string]any{"kinds": []string{"group"}})); out.Count != 1 || out.Sessions[0].Label != "family" {
		t.Fatalf("kinds = %+v", out)
	}
	if out := decode(run(t, tool, "", map[string]any{"agentId": "ops"})); out.Count != 1 || out.Sessions[0].Key != "agent:ops:main" {
		t.Fatalf("agentId = %+v", out)
	}
	if out := decode(run(t, tool, "", map[string]any{"search": "FAMILY"})); out.Count != 1 {
		t.Fatalf("search = %+v", out)
	}
	wantErr(t, run(t, tool, "", map[string]any{"limit": 0}), "limit")
	wantErr(t, run(t, tool, "", map[string]any{"kinds": "group"}), "kinds must be an array")
}

func TestSessionsHistory(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes
	api := &fakeSessions{history: map[string][]HistoryItem{"agent:ops:main": {
		{Role: "user", Text: "hi", Timestamp: 1},
		{Role: "assistant", Text: "calling a tool"},
		{Role: "tool", Text: "tool output", ToolName: "exec"},
		{Role: "assistant", Text: long},
	}}}
	tool := NewSessionsHistory(api)
	type out struct {
		SessionKey       string        `json:"sessionKey"`
		Messages         []HistoryItem `json:"messages"`
		ContentTruncated bool          `json:"contentTruncated"`
	}
	var o out
	if err := json.Unmarshal([]byte(wantOK(t, run(t, tool, "", map[string]any{"sessionKey": "agent:ops:main"}))), &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Messages) != 3 || o.Messages[0].Text != "hi" || o.Messages[2].Role != "assistant" || !o.ContentTruncated ||
		len(o.Messages[2].Text) > historyTextMax+20 || !strings.HasSuffix(o.Messages[2].Text, "[truncated]") {
		t.Fatalf("history = %+v", o)
	}
	o = out{}
	json.Unmarshal([]byte(wantOK(t, run(t, tool, "", map[string]any{"sessionKey": "agent:ops:main", "limit": 2, "includeTools": true}))), &o)
	if len(o.Messages) != 2 || o.Messages[0].ToolName != "exec" || api.asked[len(api.asked)-1] != 2 {
		t.Fatalf("includeTools = %+v, asked %v", o, api.asked)
	}
	wantErr(t, run(t, tool, "", map[string]any{}), "sessionKey is required")
	wantErr(t, run(t, tool, "", map[string]any{"sessionKey": "nope"}), "unknown session nope")
}

func TestSessionsHistoryByteBudget(t *testing.T) {
	var items []HistoryItem
	for range 100 {
		items = append(items, HistoryItem{Role: "user", Text: strings.Repeat("x", 3000)})
	}
	api := &fakeSessions{history: map[string][]HistoryItem{"k": items}}
	var o struct {
		Messages        []HistoryItem `json:"messages"`
		DroppedMessages int           `json:"droppedMessages"`
	}
	json.Unmarshal([]byte(wantOK(t, run(t, NewSessionsHistory(api), "", map[string]any{"sessionKey": "k", "limit": 100}))), &o)
	if len(o.Messages)+o.DroppedMessages != 100 || o.DroppedMessages == 0 || len(o.Messages)*3000 > historyBytesMax {
		t.Fatalf("kept %d, dropped %d", len(o.Messages), o.DroppedMessages)
	}
}

func TestSessionsSend(t *testing.T) {
	api := &fakeSessions{}
	tool := NewSessionsSend(api)
	got := wantOK(t, run(t, tool, "", map[string]any{"sessionKey": "agent:ops:main", "message": "status?"}))
	if !strings.Contains(got, `"runId": "run-42"`) || !strings.Contains(got, `"status": "accepted"`) {
		t.Fatalf("send = %q", got)
	}
	if len(api.sent) != 1 || api.sent[0] != [3]string{"agent:main:main", "agent:ops:main", "status?"} {
		t.Fatalf("sent = %v", api.sent)
	}
	wantErr(t, run(t, tool, "", map[string]any{"sessionKey": "agent:main:main", "message": "me"}), "this session")
	wantErr(t, run(t, tool, "", map[string]any{"sessionKey": "agent:ops:main", "message": " "}), "message is required")
	wantErr(t, run(t, tool, "", map[string]any{"message": "x"}), "sessionKey is required")
	wantErr(t, run(t, tool, "", map[string]any{"sessionKey": "agent:ops:gone", "message": "x"}), "was deleted")
	if len(api.sent) != 1 {
		t.Fatal("a refused send went out")
	}
}
