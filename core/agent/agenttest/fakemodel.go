// Package agenttest has a fake model provider for tests and benchmarks: an
// HTTP server speaking the OpenAI Chat Completions streaming format, and
// the gateway config that points an agent at it.
package agenttest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Model is a fake OpenAI-compatible chat completions server. It answers
// "Hello from fake model. Echo: <last user text>" streamed in small
// chunks, unless SetReply changed that.
type Model struct {
	URL string // base URL, e.g. http://127.0.0.1:PORT/v1

	srv   *http.Server
	ln    net.Listener
	calls atomic.Int64

	mu         sync.Mutex
	script     func(req map[string]any) Turn
	reply      func(lastUser string) string
	chunkDelay time.Duration
	status     int
	requests   []map[string]any
	auth       string
}

// Authorization is the Authorization header of the last request.
func (m *Model) Authorization() string { m.mu.Lock(); defer m.mu.Unlock(); return m.auth }

// Turn is one scripted model answer.
type Turn struct {
	Text      string
	ToolCalls []ToolCall
	// Images are data: URLs streamed as OpenRouter does ("images" in a
	// delta), for image-output tests.
	Images []string
}

// ToolCall is a scripted tool call (Args is a JSON object).
type ToolCall struct{ ID, Name, Args string }

// SetScript makes the model answer script(request) — text and/or tool
// calls; it takes precedence over SetReply. nil: back to replies.
func (m *Model) SetScript(script func(req map[string]any) Turn) {
	m.mu.Lock()
	m.script = script
	m.mu.Unlock()
}

// LastMessage is the request's last message (role, content …).
func LastMessage(req map[string]any) map[string]any {
	msgs, _ := req["messages"].([]any)
	if len(msgs) == 0 {
		return nil
	}
	m, _ := msgs[len(msgs)-1].(map[string]any)
	return m
}

// SetReply makes the model answer reply(lastUser); nil: echo.
func (m *Model) SetReply(reply func(lastUser string) string) {
	m.mu.Lock()
	m.reply = reply
	m.mu.Unlock()
}

// SetChunkDelay sleeps d between streamed chunks.
func (m *Model) SetChunkDelay(d time.Duration) { m.mu.Lock(); m.chunkDelay = d; m.mu.Unlock() }

// SetStatus fails every call with the HTTP status (0: succeed).
func (m *Model) SetStatus(status int) { m.mu.Lock(); m.status = status; m.mu.Unlock() }

// Requests are the decoded request bodies so far.
func (m *Model) Requests() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]map[string]any(nil), m.requests...)
}

// ResetRequests forgets the recorded requests.
func (m *Model) ResetRequests() { m.mu.Lock(); m.requests = nil; m.mu.Unlock() }

// Start runs a fake model on a random loopback port.
func Start() (*Model, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &Model{ln: ln, URL: "http://" + ln.Addr().String() + "/v1"}
	m.srv = &http.Server{Handler: http.HandlerFunc(m.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

// Close stops the server.
func (m *Model) Close() error { return m.srv.Close() }

// Calls counts the completions requests served.
func (m *Model) Calls() int64 { return m.calls.Load() }

// StartT starts a fake model that stops when the test ends.
func StartT(t testing.TB) *Model {
	t.Helper()
	m, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// ConfigWith is Config plus extra top-level keys (JSON5, without braces).
func (m *Model) ConfigWith(extra string) string {
	c := strings.TrimSpace(m.Config())
	if strings.TrimSpace(extra) == "" {
		return c
	}
	return strings.TrimSuffix(c, "}") + ",\n  " + extra + "}"
}

// Config is a gateway config (JSON5) whose main agent uses this model as
// "fake/fake-1".
func (m *Model) Config() string {
	return fmt.Sprintf(`{models: {providers: {fake: {baseUrl: %q, apiKey: "test", api: "openai-completions",
  models: [{id: "fake-1", contextWindow: 128000}]}}},
  agents: {defaults: {model: {primary: "fake/fake-1"}}}}`, m.URL)
}

func (m *Model) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.NotFound(w, r)
		return
	}
	m.calls.Add(1)
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	m.mu.Lock()
	m.requests = append(m.requests, req)
	m.auth = r.Header.Get("Authorization")
	script, reply, delay, status := m.script, m.reply, m.chunkDelay, m.status
	m.mu.Unlock()
	if status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"message":"fake failure %d","type":"server_error"}}`, status)
		return
	}
	last := lastUserText(req)
	turn := Turn{Text: "Hello from fake model. Echo: " + last}
	switch {
	case script != nil:
		turn = script(req)
	case reply != nil:
		turn = Turn{Text: reply(last)}
	}
	text := turn.Text
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl, _ := w.(http.Flusher)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	id := fmt.Sprintf("chatcmpl-%d", m.calls.Load())
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": "fake-1",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	for _, piece := range pieces(text, 8) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if !send(chunk(map[string]any{"content": piece}, nil)) {
			return
		}
	}
	if len(turn.Images) > 0 {
		var imgs []any
		for _, u := range turn.Images {
			imgs = append(imgs, map[string]any{"type": "image_url", "image_url": map[string]any{"url": u}})
		}
		send(chunk(map[string]any{"images": imgs}, nil))
	}
	for i, tc := range turn.ToolCalls {
		send(chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": tc.ID, "type": "function",
			"function": map[string]any{"name": tc.Name, "arguments": ""}}}}, nil))
		for _, piece := range pieces(tc.Args, 10) {
			send(chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "function": map[string]any{"arguments": piece}}}}, nil))
		}
	}
	finish := "stop"
	if len(turn.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	send(chunk(map[string]any{}, finish))
	send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": "fake-1",
		"choices": []any{}, "usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
	fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}

func pieces(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > 0 {
		k := min(n, len(r))
		out = append(out, string(r[:k]))
		r = r[k:]
	}
	return out
}

// lastUserText is the text of the request's last user message.
func lastUserText(req map[string]any) string {
	msgs, _ := req["messages"].([]any)
	for i := len(msgs) - 1; i >= 0; i-- {
		m, _ := msgs[i].(map[string]any)
		if m["role"] != "user" {
			continue
		}
		switch c := m["content"].(type) {
		case string:
			return c
		case []any:
			var b strings.Builder
			for _, p := range c {
				if pm, ok := p.(map[string]any); ok && pm["type"] == "text" {
					s, _ := pm["text"].(string)
					b.WriteString(s)
				}
			}
			return b.String()
		}
	}
	return ""
}
