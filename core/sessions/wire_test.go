package sessions

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Messages as the OpenClaw gateway returned them from chat.history
// (spec/wire/agent-chat.log and tool-events.log), text shortened.
var capturedHistory = []string{
	`{"role":"user","content":"hi there","timestamp":1795311433287,"idempotencyKey":"idem-agent-1:user","__openclaw":{"senderIsOwner":true,"id":"55787f01-f29d-4792-9eaa-5776de9a1fee","idempotencyKey":"idem-agent-1:user","recordTimestampMs":1795311441872,"transcriptPosition":{"source":"1hbT","rawSeq":4},"seq":1}}`,
	`{"role":"assistant","content":[{"type":"text","text":"Hello from fake model."}],"api":"openai-completions","provider":"fake","model":"fake-1","usage":{"input":10,"output":5,"totalTokens":15,"cacheRead":0,"cacheWrite":0,"cost":{"input":0,"output":0,"cacheRead":0,"cacheWrite":0,"total":0}},"stopReason":"stop","timestamp":1795311442002,"responseId":"chatcmpl-2","__openclaw":{"runId":"idem-agent-1","id":"94e52272-d711-4cd5-86fa-6d562065a96a","recordTimestampMs":1795311442721,"transcriptPosition":{"source":"1hbT","rawSeq":5},"seq":2}}`,
	`{"role":"assistant","content":[{"type":"toolCall","id":"call_1","name":"ls","arguments":{"path":"."}}],"api":"openai-completions","provider":"fake","model":"fake-1","usage":{"input":0,"output":0,"totalTokens":0,"cacheRead":0,"cacheWrite":0,"cost":{"input":0,"output":0,"cacheRead":0,"cacheWrite":0,"total":0}},"stopReason":"toolUse","timestamp":1795311489218,"responseId":"chatcmpl-1","__openclaw":{"runId":"idem-tool-1795311487365","id":"1f8ab00f-ee05-4bcd-b530-662227b187c2","recordTimestampMs":1795311489280,"transcriptPosition":{"source":"m6_s","rawSeq":7},"seq":4}}`,
	`{"role":"toolResult","toolCallId":"call_1","toolName":"ls","content":[{"type":"text","text":"\"AGENTS.md\"\n\"SOUL.md\""}],"isError":false,"timestamp":1795311489369,"__openclaw":{"runId":"idem-tool-1795311487365","id":"1cfd63bf-fba7-4a6a-a6e0-63ef45eac163","recordTimestampMs":1795311489372,"transcriptPosition":{"source":"m6_s","rawSeq":8},"seq":5}}`,
}

// Fields of the capture Pincer does not produce: they describe OpenClaw's
// JSONL transcript files and connection bookkeeping.
var notProduced = []string{"recordTimestampMs", "transcriptPosition", "transport"}

var storedHistory = []Message{
	{Seq: 1, ID: "55787f01-f29d-4792-9eaa-5776de9a1fee", Role: RoleUser, Content: TextContent("hi there"),
		Timestamp: 1795311433287, IdempotencyKey: "idem-agent-1:user", SenderIsOwner: true},
	{Seq: 2, ID: "94e52272-d711-4cd5-86fa-6d562065a96a", Role: RoleAssistant, Content: TextParts("Hello from fake model."),
		Timestamp: 1795311442002, RunID: "idem-agent-1", API: "openai-completions", Provider: "fake", Model: "fake-1",
		StopReason: "stop", ResponseID: "chatcmpl-2", Usage: &Usage{Input: 10, Output: 5, TotalTokens: 15}},
	{Seq: 4, ID: "1f8ab00f-ee05-4bcd-b530-662227b187c2", Role: RoleAssistant,
		Content:   json.RawMessage(`[{"type":"toolCall","id":"call_1","name":"ls","arguments":{"path":"."}}]`),
		Timestamp: 1795311489218, RunID: "idem-tool-1795311487365", API: "openai-completions", Provider: "fake",
		Model: "fake-1", StopReason: "toolUse", ResponseID: "chatcmpl-1", Usage: &Usage{}},
	{Seq: 5, ID: "1cfd63bf-fba7-4a6a-a6e0-63ef45eac163", Role: RoleTool, ToolCallID: "call_1", ToolName: "ls",
		Content: TextParts("\"AGENTS.md\"\n\"SOUL.md\""), Timestamp: 1795311489369, RunID: "idem-tool-1795311487365"},
}

func TestWireMatchesCapture(t *testing.T) {
	for i, raw := range capturedHistory {
		var want map[string]any
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(err)
		}
		meta := want["__openclaw"].(map[string]any)
		for _, k := range notProduced {
			delete(meta, k)
		}
		got := roundTrip(t, Wire(storedHistory[i]))
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Errorf("message %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func TestWireOmitsEmptyFields(t *testing.T) {
	got := roundTrip(t, Wire(Message{Seq: 3, ID: "x", Role: RoleAssistant, Content: TextParts("note"), Timestamp: 7,
		Kind: KindInject, Label: "memo"}))
	want := map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "text", "text": "note"}},
		"timestamp": float64(7), "__openclaw": map[string]any{"id": "x", "seq": float64(3), "kind": "inject", "label": "memo"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	u := roundTrip(t, Wire(Message{Seq: 1, ID: "u", Role: RoleUser, Timestamp: 1}))
	if u["content"] != "" || u["idempotencyKey"] != nil || len(u["__openclaw"].(map[string]any)) != 2 {
		t.Fatalf("bare user = %v", u)
	}
	tr := roundTrip(t, Wire(Message{Seq: 1, ID: "t", Role: RoleTool, Timestamp: 1, IsError: true}))
	if tr["role"] != "toolResult" || tr["isError"] != true || tr["toolName"] != nil {
		t.Fatalf("tool result = %v", tr)
	}
}

func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
