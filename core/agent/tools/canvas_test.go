package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type canvasFake struct {
	calls []string
	last  json.RawMessage
}

func (f *canvasFake) List(context.Context) (json.RawMessage, error) { return nil, nil }
func (f *canvasFake) Describe(context.Context, string) (json.RawMessage, error) {
	return nil, nil
}
func (f *canvasFake) Invoke(_ context.Context, id, command string, params json.RawMessage, _ time.Duration) (json.RawMessage, error) {
	f.calls = append(f.calls, id+" "+command)
	f.last = params
	if command == "canvas.snapshot" {
		png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\nfake"))
		return json.RawMessage(`{"format":"png","base64":"` + png + `"}`), nil
	}
	return json.RawMessage(`{"ok":true}`), nil
}

func TestCanvasTool(t *testing.T) {
	f := &canvasFake{}
	tool := NewCanvas(f)
	run := func(args string) Result {
		t.Helper()
		r, err := tool.Run(context.Background(), Call{Args: json.RawMessage(args)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := run(`{"action":"present","node":"mac","url":"https://example.com"}`); r.IsError || !strings.Contains(string(f.last), "example.com") {
		t.Fatalf("present = %+v", r)
	}
	r := run(`{"action":"snapshot","node":"mac","maxWidth":400}`)
	hasImage := false
	for _, p := range r.Content {
		if p.Type == "image" {
			hasImage = true
		}
	}
	if r.IsError || !hasImage {
		t.Fatalf("snapshot = %+v", r)
	}
	for _, bad := range []string{`{"action":"navigate","node":"mac"}`, `{"action":"eval","node":"mac"}`, `{"action":"dance","node":"mac"}`, `{"action":"hide"}`} {
		if r := run(bad); !r.IsError {
			t.Fatalf("%s accepted", bad)
		}
	}
	if strings.Join(f.calls, ",") != "mac canvas.present,mac canvas.snapshot" {
		t.Fatalf("calls = %v", f.calls)
	}
}

type fakeCanvasHost struct {
	pushed  []json.RawMessage
	agent   string
	live    bool
	pushErr error
	urlErr  error
}

func (h *fakeCanvasHost) PushA2UI(agentID string, msgs []json.RawMessage) error {
	if h.pushErr != nil {
		return h.pushErr
	}
	h.agent, h.pushed = agentID, append(h.pushed, msgs...)
	return nil
}

func (h *fakeCanvasHost) A2UIPageURL(agentID, node string) (string, bool, error) {
	if h.urlErr != nil {
		return "", false, h.urlErr
	}
	return "http://gw/__openclaw__/cap/TOKEN/__openclaw__/a2ui/?agent=" + agentID, h.live, nil
}

func (h *fakeCanvasHost) NodeURL(node, p string) (string, error) {
	return "http://gw/__openclaw__/cap/TOKEN" + p, nil
}

func TestCanvasA2UIPush(t *testing.T) {
	f := &canvasFake{}
	run := func(tool *Canvas, agentID, args string) Result {
		t.Helper()
		r, err := tool.Run(context.Background(), Call{Args: json.RawMessage(args), AgentID: agentID})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	text := func(r Result) string {
		var b strings.Builder
		for _, p := range r.Content {
			b.WriteString(p.Text)
		}
		return b.String()
	}

	// Without a canvas host the action says why.
	if r := run(NewCanvas(f), "main", `{"action":"a2ui_push","node":"mac","messages":[{"deleteSurface":{"surfaceId":"a"}}]}`); !r.IsError || !strings.Contains(text(r), "canvas host") {
		t.Fatalf("no host: %+v", r)
	}
	if r := run(NewCanvas(f), "main", `{"action":"navigate","node":"mac","url":"/__openclaw__/canvas/main/index.html"}`); !r.IsError {
		t.Fatalf("hosted path without host: %+v", r)
	}

	host := &fakeCanvasHost{}
	tool := NewCanvas(f).WithHost(host)
	r := run(tool, "ops", `{"action":"a2ui_push","node":"mac","messages":[
		{"surfaceUpdate":{"surfaceId":"s","components":[{"id":"t","component":{"Text":{"text":{"literalString":"hi"}}}}]}},
		{"beginRendering":{"surfaceId":"s","root":"t"}}]}`)
	if r.IsError || host.agent != "ops" || len(host.pushed) != 2 {
		t.Fatalf("push = %+v, host %+v", r, host)
	}
	if f.calls[len(f.calls)-1] != "mac canvas.present" || !strings.Contains(string(f.last), "/__openclaw__/a2ui/?agent=ops") {
		t.Fatalf("present call = %v %s", f.calls, f.last)
	}
	if strings.Contains(text(r), "TOKEN") {
		t.Fatalf("the capability token leaked to the model: %s", text(r))
	}

	// A node already showing the page is only presented (no reload).
	host.live = true
	r = run(tool, "", "{\"action\":\"a2ui_push\",\"node\":\"mac\",\"jsonl\":\"{\\\"deleteSurface\\\":{\\\"surfaceId\\\":\\\"s\\\"}}\\n\\n{\\\"deleteSurface\\\":{\\\"surfaceId\\\":\\\"t\\\"}}\\n\"}")
	if r.IsError || host.agent != "main" || len(host.pushed) != 4 || string(f.last) != "{}" {
		t.Fatalf("jsonl push = %+v, last params %s", r, f.last)
	}

	for _, bad := range []string{
		`{"action":"a2ui_push","node":"mac"}`,
		`{"action":"a2ui_push","node":"mac","jsonl":"not json"}`,
		`{"action":"a2ui_push","node":"mac","jsonl":"[1]"}`,
		`{"action":"a2ui_push","node":"mac","messages":[{}],"jsonl":"{}"}`,
	} {
		if r := run(tool, "main", bad); !r.IsError {
			t.Errorf("%s accepted", bad)
		}
	}
	host.pushErr = errors.New("A2UI message 1: unknown message \"x\"")
	if r := run(tool, "main", `{"action":"a2ui_push","node":"mac","messages":[{"x":{}}]}`); !r.IsError || !strings.Contains(text(r), "unknown message") {
		t.Fatalf("refused push = %+v", r)
	}
	host.pushErr, host.urlErr = nil, errors.New(`node "mac" is not connected`)
	if r := run(tool, "main", `{"action":"a2ui_push","node":"mac","messages":[{"deleteSurface":{"surfaceId":"a"}}]}`); !r.IsError || !strings.Contains(text(r), "not connected") {
		t.Fatalf("offline node = %+v", r)
	}

	// Hosted paths go through the node's capability URL; others pass.
	host.urlErr = nil
	if r := run(tool, "main", `{"action":"navigate","node":"mac","url":"/__openclaw__/canvas/main/index.html"}`); r.IsError ||
		!strings.Contains(string(f.last), "http://gw/__openclaw__/cap/TOKEN/__openclaw__/canvas/main/index.html") {
		t.Fatalf("hosted navigate = %+v %s", r, f.last)
	}
	if r := run(tool, "main", `{"action":"present","node":"mac","url":"https://example.com/x"}`); r.IsError || !strings.Contains(string(f.last), `"https://example.com/x"`) {
		t.Fatalf("plain present = %+v %s", r, f.last)
	}
}
