package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// run calls tool with args (marshalled when not already JSON) in workspace ws.
func run(t *testing.T, tool Tool, ws string, args any) Result {
	t.Helper()
	return runCall(t, tool, Call{Workspace: ws, SessionKey: "agent:main:main", AgentID: "main", RunID: "run-1", ID: "call-1"}, args)
}

func runCall(t *testing.T, tool Tool, call Call, args any) Result {
	t.Helper()
	switch a := args.(type) {
	case string:
		call.Args = json.RawMessage(a)
	case json.RawMessage:
		call.Args = a
	default:
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		call.Args = b
	}
	call.Name = tool.Spec().Name
	res, err := tool.Run(context.Background(), call)
	if err != nil {
		t.Fatalf("%s(%s): internal error: %v", call.Name, call.Args, err)
	}
	return res
}

func text(r Result) string {
	var b strings.Builder
	for _, p := range r.Content {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func wantOK(t *testing.T, r Result) string {
	t.Helper()
	if r.IsError {
		t.Fatalf("unexpected error result: %s", text(r))
	}
	return text(r)
}

func wantErr(t *testing.T, r Result, contains ...string) string {
	t.Helper()
	s := text(r)
	if !r.IsError {
		t.Fatalf("want an error result, got: %s", clip(s, 500))
	}
	for _, c := range contains {
		if !strings.Contains(s, c) {
			t.Fatalf("error %q does not mention %q", s, c)
		}
	}
	return s
}
