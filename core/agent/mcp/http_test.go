package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/config"
)

// pixelPNG is a 1×1 red PNG.
func pixelPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testMCPServer is an in-process MCP server with tools add, pixel, fail,
// resource and slow.
func testMCPServer(t *testing.T) *sdk.Server {
	t.Helper()
	pix := pixelPNG(t)
	s := sdk.NewServer(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	type addArgs struct {
		A int `json:"a" jsonschema:"first addend"`
		B int `json:"b" jsonschema:"second addend"`
	}
	sdk.AddTool(s, &sdk.Tool{Name: "add", Description: "Add two numbers."},
		func(_ context.Context, _ *sdk.CallToolRequest, a addArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: jsonNum(a.A + a.B)}}}, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "pixel", Description: "A tiny image."},
		func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{
				&sdk.TextContent{Text: "here it is"},
				&sdk.ImageContent{MIMEType: "image/png", Data: pix},
			}}, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "fail", Description: "Always fails."},
		func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
			return nil, nil, errors.New("division by zero")
		})
	sdk.AddTool(s, &sdk.Tool{Name: "resource", Description: "An embedded resource."},
		func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.EmbeddedResource{Resource: &sdk.ResourceContents{
				URI: "file:///notes.txt", MIMEType: "text/plain", Text: "hello notes",
			}}}}, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "slow", Description: "Never answers."},
		func(ctx context.Context, _ *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			<-ctx.Done()
			return nil, nil, ctx.Err()
		})
	return s
}

func jsonNum(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// serveHTTP serves s over streamable HTTP; the returned value holds the
// last Authorization header seen.
func serveHTTP(t *testing.T, s *sdk.Server) (*httptest.Server, *atomic.Value) {
	t.Helper()
	var auth atomic.Value
	auth.Store("")
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, &auth
}

func newTestManager(t *testing.T) *Manager {
	t.Helper()
	m := NewManager(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	m.stopGrace = 500 * time.Millisecond
	t.Cleanup(func() { _ = m.Close() })
	return m
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func toolNames(ts []tools.Tool) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Spec().Name)
	}
	return out
}

func findTool(t *testing.T, ts []tools.Tool, name string) tools.Tool {
	t.Helper()
	for _, tl := range ts {
		if tl.Spec().Name == name {
			return tl
		}
	}
	t.Fatalf("no tool %q in %v", name, toolNames(ts))
	return nil
}

func call(t *testing.T, tl tools.Tool, args string) tools.Result {
	t.Helper()
	res, err := tl.Run(context.Background(), tools.Call{ID: "c1", Name: tl.Spec().Name, Args: json.RawMessage(args)})
	if err != nil {
		t.Fatalf("%s: %v", tl.Spec().Name, err)
	}
	return res
}

func resultText(r tools.Result) string {
	var parts []string
	for _, p := range r.Content {
		if p.Type == "text" {
			parts = append(parts, p.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func TestHTTPToolsAndCalls(t *testing.T) {
	t.Setenv("PINCER_MCP_TEST_TOKEN", "s3cret")
	srv, auth := serveHTTP(t, testMCPServer(t))
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{
		"web": {URL: srv.URL, Headers: map[string]string{"Authorization": "Bearer ${PINCER_MCP_TEST_TOKEN}"}},
	})

	ts := m.Tools(context.Background())
	want := []string{"web__add", "web__fail", "web__pixel", "web__resource", "web__slow"}
	if got := toolNames(ts); !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	if got := auth.Load().(string); got != "Bearer s3cret" {
		t.Errorf("Authorization header = %q", got)
	}
	add := findTool(t, ts, "web__add")
	spec := add.Spec()
	if spec.Description != "Add two numbers." {
		t.Errorf("description = %q", spec.Description)
	}
	var schema struct {
		Type       string                    `json:"type"`
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(spec.Parameters, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Type != "object" || schema.Properties["a"]["type"] != "integer" || schema.Properties["b"] == nil {
		t.Errorf("parameters = %s", spec.Parameters)
	}
	if st := m.Status(); len(st) != 1 || st[0] != (ServerStatus{Name: "web", Transport: "streamable-http", Connected: true, Tools: 5}) {
		t.Errorf("status = %+v", st)
	}

	// Text.
	if r := call(t, add, `{"a":2,"b":3}`); r.IsError || resultText(r) != "5" {
		t.Errorf("add = %+v", r)
	}
	// Image.
	r := call(t, findTool(t, ts, "web__pixel"), ``)
	if r.IsError || len(r.Content) != 2 || r.Content[0].Text != "here it is" {
		t.Fatalf("pixel = %+v", r)
	}
	if img := r.Content[1]; img.Type != "image" || img.MediaType != "image/png" || !bytes.Equal(img.Data, pixelPNG(t)) {
		t.Errorf("pixel image part = %+v", img)
	}
	// A tool's error result.
	if r := call(t, findTool(t, ts, "web__fail"), `{}`); !r.IsError || !strings.Contains(resultText(r), "division by zero") {
		t.Errorf("fail = %+v", r)
	}
	// Embedded resource.
	if r := call(t, findTool(t, ts, "web__resource"), `{}`); r.IsError || resultText(r) != "Resource file:///notes.txt:\nhello notes" {
		t.Errorf("resource = %+v", r)
	}
	// Bad arguments: refused locally; invalid ones: the server's error.
	if r := call(t, add, `[1]`); !r.IsError || !strings.Contains(resultText(r), "JSON object") {
		t.Errorf("array args = %+v", r)
	}
	if r := call(t, add, `{"a":"x"}`); !r.IsError {
		t.Errorf("invalid args = %+v", r)
	} else {
		t.Logf("invalid args: %s", resultText(r))
	}
}

func TestRequestTimeout(t *testing.T) {
	srv, _ := serveHTTP(t, testMCPServer(t))
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{"web": {URL: srv.URL, RequestTimeoutMs: 300}})
	start := time.Now()
	r := call(t, findTool(t, m.Tools(context.Background()), "web__slow"), `{}`)
	if !r.IsError || !strings.Contains(resultText(r), "timed out after 300ms") {
		t.Errorf("slow = %+v", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	// The connection survives.
	if r := call(t, findTool(t, m.Tools(context.Background()), "web__add"), `{"a":1,"b":1}`); resultText(r) != "2" {
		t.Errorf("add after timeout = %+v", r)
	}
}

func TestToolFilter(t *testing.T) {
	srv, _ := serveHTTP(t, testMCPServer(t))
	m := newTestManager(t)
	servers := map[string]config.MCPServer{"web": {URL: srv.URL, ToolFilter: config.MCPToolFilter{
		Include: []string{"a*", "p*", "resource"},
		Exclude: []string{"*xel"},
	}}}
	m.Sync(context.Background(), servers)
	if got := toolNames(m.Tools(context.Background())); !slices.Equal(got, []string{"web__add", "web__resource"}) {
		t.Errorf("filtered = %v", got)
	}
	if st := m.Status(); st[0].Tools != 2 {
		t.Errorf("status = %+v", st)
	}
	before := m.servers["web"].conn

	// A filter change alone keeps the connection.
	servers["web"] = config.MCPServer{URL: srv.URL, ToolFilter: config.MCPToolFilter{Exclude: []string{"slow", "fail"}}}
	m.Sync(context.Background(), servers)
	if got := toolNames(m.Tools(context.Background())); !slices.Equal(got, []string{"web__add", "web__pixel", "web__resource"}) {
		t.Errorf("filtered = %v", got)
	}
	if m.servers["web"].conn != before {
		t.Error("filter change reconnected")
	}
}

func TestServerDown(t *testing.T) {
	srv, _ := serveHTTP(t, testMCPServer(t))
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + l.Addr().String() + "/mcp"
	l.Close()

	m := newTestManager(t)
	start := time.Now()
	m.Sync(context.Background(), map[string]config.MCPServer{
		"web":  {URL: srv.URL},
		"dead": {URL: deadURL, ConnectionTimeoutMs: 3000},
	})
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Sync took %s", d)
	}
	st := m.Status()
	if len(st) != 2 || st[0].Name != "dead" || st[0].Connected || st[0].Error == "" || !st[1].Connected {
		t.Fatalf("status = %+v", st)
	}
	t.Logf("dead server error: %s", st[0].Error)
	if !strings.Contains(st[0].Error, "refused") {
		t.Errorf("error = %q", st[0].Error)
	}
	ts := m.Tools(context.Background())
	if got := toolNames(ts); len(got) != 5 || !strings.HasPrefix(got[0], "web__") {
		t.Errorf("tools = %v", got)
	}
	if r := call(t, findTool(t, ts, "web__add"), `{"a":1,"b":2}`); resultText(r) != "3" {
		t.Errorf("add = %+v", r)
	}
}

// A server that comes up later is connected on a Tools call after the
// backoff.
func TestRetryAfterBackoff(t *testing.T) {
	var up atomic.Bool
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return testMCPServer(t) }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close) // after the manager closes (it holds streams open)

	m := newTestManager(t)
	m.backoffMin = 300 * time.Millisecond
	m.Sync(context.Background(), map[string]config.MCPServer{"late": {URL: srv.URL}})
	if st := m.Status(); st[0].Connected || st[0].Error == "" {
		t.Fatalf("status = %+v", st)
	}
	t.Logf("while down: %s", m.Status()[0].Error)
	up.Store(true)
	// Within the backoff: no attempt.
	if got := m.Tools(context.Background()); len(got) != 0 {
		t.Errorf("tools during backoff = %v", toolNames(got))
	}
	time.Sleep(400 * time.Millisecond)
	if got := m.Tools(context.Background()); len(got) != 5 {
		t.Errorf("tools after backoff = %v", toolNames(got))
	}
	if st := m.Status(); !st[0].Connected || st[0].Error != "" {
		t.Errorf("status = %+v", st)
	}
}

func TestSyncRemovesServer(t *testing.T) {
	a, _ := serveHTTP(t, testMCPServer(t))
	b, _ := serveHTTP(t, testMCPServer(t))
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{"a": {URL: a.URL}, "b": {URL: b.URL}})
	ts := m.Tools(context.Background())
	if len(ts) != 10 {
		t.Fatalf("tools = %v", toolNames(ts))
	}
	bAdd := findTool(t, ts, "b__add")

	off := false
	m.Sync(context.Background(), map[string]config.MCPServer{"a": {URL: a.URL}, "b": {URL: b.URL, Enabled: &off}})
	got := toolNames(m.Tools(context.Background()))
	if len(got) != 5 || slices.ContainsFunc(got, func(n string) bool { return strings.HasPrefix(n, "b__") }) {
		t.Errorf("tools after disabling b = %v", got)
	}
	if st := m.Status(); len(st) != 1 || st[0].Name != "a" {
		t.Errorf("status = %+v", st)
	}
	if r := call(t, bAdd, `{"a":1,"b":2}`); !r.IsError || !strings.Contains(resultText(r), "no longer configured") {
		t.Errorf("removed tool = %+v", r)
	}

	m.Sync(context.Background(), map[string]config.MCPServer{})
	if got := m.Tools(context.Background()); len(got) != 0 {
		t.Errorf("tools after removing all = %v", toolNames(got))
	}
}

// A URL change reconnects.
func TestSyncChangedServer(t *testing.T) {
	a, _ := serveHTTP(t, testMCPServer(t))
	other := sdk.NewServer(&sdk.Implementation{Name: "other", Version: "1"}, nil)
	sdk.AddTool(other, &sdk.Tool{Name: "only"}, func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "other"}}}, nil, nil
	})
	b, _ := serveHTTP(t, other)
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{"x": {URL: a.URL}})
	if got := m.Tools(context.Background()); len(got) != 5 {
		t.Fatalf("tools = %v", toolNames(got))
	}
	m.Sync(context.Background(), map[string]config.MCPServer{"x": {URL: b.URL}})
	ts := m.Tools(context.Background())
	if got := toolNames(ts); !slices.Equal(got, []string{"x__only"}) {
		t.Fatalf("tools = %v", got)
	}
	if ts[0].Spec().Description == "" || string(ts[0].Spec().Parameters) == "" {
		t.Errorf("spec = %+v", ts[0].Spec())
	}
	if r := call(t, ts[0], ``); resultText(r) != "other" {
		t.Errorf("only = %+v", r)
	}
}

func TestToolListChanged(t *testing.T) {
	s := testMCPServer(t)
	srv, _ := serveHTTP(t, s)
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{"web": {URL: srv.URL}})
	if got := m.Tools(context.Background()); len(got) != 5 {
		t.Fatalf("tools = %v", toolNames(got))
	}
	sdk.AddTool(s, &sdk.Tool{Name: "late", Description: "Added later."},
		func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "late"}}}, nil, nil
		})
	deadline := time.Now().Add(5 * time.Second)
	for {
		ts := m.Tools(context.Background())
		if slices.Contains(toolNames(ts), "web__late") {
			if r := call(t, findTool(t, ts, "web__late"), `{}`); resultText(r) != "late" {
				t.Errorf("late = %+v", r)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("list change not seen: %v", toolNames(ts))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSSE(t *testing.T) {
	s := testMCPServer(t)
	h := sdk.NewSSEHandler(func(*http.Request) *sdk.Server { return s }, nil)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // after the manager closes (it holds streams open)
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{"legacy": {URL: srv.URL, Transport: "sse", ConnectionTimeoutMs: 2000}})
	if st := m.Status(); !st[0].Connected || st[0].Transport != "sse" {
		t.Fatalf("status = %+v", st)
	}
	// The stream outlives the connect timeout.
	time.Sleep(2500 * time.Millisecond)
	ts := m.Tools(context.Background())
	if r := call(t, findTool(t, ts, "legacy__add"), `{"a":20,"b":22}`); resultText(r) != "42" {
		t.Errorf("add = %+v", r)
	}
	if st := m.Status(); !st[0].Connected {
		t.Errorf("status = %+v", st)
	}
}

func TestClosedManager(t *testing.T) {
	srv, _ := serveHTTP(t, testMCPServer(t))
	m := newTestManager(t)
	m.Sync(context.Background(), map[string]config.MCPServer{"web": {URL: srv.URL}})
	add := findTool(t, m.Tools(context.Background()), "web__add")
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := m.Tools(context.Background()); got != nil {
		t.Errorf("tools after close = %v", toolNames(got))
	}
	if r := call(t, add, `{"a":1,"b":2}`); !r.IsError {
		t.Errorf("call after close = %+v", r)
	}
	m.Sync(context.Background(), map[string]config.MCPServer{"web": {URL: srv.URL}})
	if st := m.Status(); len(st) != 0 {
		t.Errorf("status after close = %+v", st)
	}
}
