package providers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// captured is one request a fake provider received.
type captured struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// JSON decodes the request body.
func (c captured) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(c.Body, &m); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, c.Body)
	}
	return m
}

// fakeServer is a provider endpoint that answers each request with the
// next scripted reply (the last one repeats) and records what it got.
type fakeServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []captured
	replies []http.HandlerFunc
}

func newFake(t *testing.T, replies ...http.HandlerFunc) *fakeServer {
	t.Helper()
	f := &fakeServer{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, captured{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(f.reqs)
		var h http.HandlerFunc
		if len(f.replies) > 0 {
			h = f.replies[min(n, len(f.replies))-1]
		}
		f.mu.Unlock()
		if h == nil {
			http.Error(w, "no reply scripted", http.StatusTeapot)
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) requests() []captured {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]captured(nil), f.reqs...)
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// sseEvent is one server-sent event; an empty name writes only data.
type sseEvent struct{ name, data string }

// sse replies 200 with a text/event-stream of events, flushed one by one.
func sse(events ...sseEvent) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		for _, e := range events {
			if e.name != "" {
				fmt.Fprintf(w, "event: %s\n", e.name)
			}
			fmt.Fprintf(w, "data: %s\n\n", e.data)
			if fl != nil {
				fl.Flush()
			}
		}
	}
}

// anthropicSSE writes Anthropic's stream: every data line repeats its
// event name as "type", so the events are given as data only.
func anthropicSSE(datas ...string) http.HandlerFunc {
	events := make([]sseEvent, len(datas))
	for i, d := range datas {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(d), &head); err != nil {
			panic("bad test event: " + d)
		}
		events[i] = sseEvent{head.Type, d}
	}
	return sse(events...)
}

// chatSSE writes Chat Completions chunks (data lines only) and [DONE].
func chatSSE(chunks ...string) http.HandlerFunc {
	events := make([]sseEvent, 0, len(chunks)+1)
	for _, c := range chunks {
		events = append(events, sseEvent{"", c})
	}
	return sse(append(events, sseEvent{"", "[DONE]"})...)
}

// jsonError replies with status and a JSON body, plus extra headers.
func jsonError(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// collector gathers streamed events.
type collector struct {
	text  strings.Builder
	calls []ToolCall
	n     int
}

func (c *collector) on(ev Event) error {
	c.n++
	c.text.WriteString(ev.TextDelta)
	if ev.ToolCall != nil {
		c.calls = append(c.calls, *ev.ToolCall)
	}
	return nil
}

// dig walks a decoded JSON document: keys for objects, ints for arrays.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: not an object: %#v", k, v)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at [%d]: not an array that long: %#v", k, v)
			}
			v = a[k]
		}
	}
	return v
}

func userText(s string) Message {
	return Message{Role: RoleUser, Content: []Part{{Type: "text", Text: s}}}
}

// pngBytes is a 1x1 PNG.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
