package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
