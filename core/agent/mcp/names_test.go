package mcp

import (
	"encoding/json"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pincerhq/pincer/core/config"
)

func TestUniqueName(t *testing.T) {
	used := map[string]bool{}
	if got := uniqueName("my server", "do.thing/now", used); got != "my_server__do_thing_now" {
		t.Errorf("got %q", got)
	}
	if got := uniqueName("my.server", "do thing/now", used); got != "my_server__do_thing_now_2" {
		t.Errorf("collision: got %q", got)
	}
	if got := uniqueName("ünï", "tööl", used); got != "_n___t__l" {
		t.Errorf("non-ascii: got %q", got)
	}
	long := strings.Repeat("x", 80)
	a := uniqueName("srv", long, used)
	b := uniqueName("srv", long+"y", used)
	if len(a) != 64 || len(b) != 64 || a == b || !strings.HasPrefix(a, "srv__xxx") {
		t.Errorf("long names: %q %q", a, b)
	}
	c := uniqueName("srv", long, used) // same again: suffixed, still 64
	if len(c) != 64 || c == a || !strings.HasSuffix(c, "_2") {
		t.Errorf("long duplicate: %q", c)
	}
	for n := range used {
		if strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			t.Errorf("bad characters in %q", n)
		}
	}
}

func TestGlobAndFilter(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"search", "search", true},
		{"search", "search_x", false},
		{"search_*", "search_docs", true},
		{"search_*", "search_", true},
		{"search_*", "research_docs", false},
		{"*_admin", "db_admin", true},
		{"*", "anything", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXcYYb", false},
		{"a*a", "a", false},
		{"a?c", "abc", false},
		{"[ab]", "a", false},
	} {
		if got := glob(c.pat, c.name); got != c.want {
			t.Errorf("glob(%q, %q) = %v", c.pat, c.name, got)
		}
	}
	f := config.MCPToolFilter{Include: []string{"search_*", "get"}, Exclude: []string{"*_admin"}}
	for name, want := range map[string]bool{"search_docs": true, "get": true, "search_admin": false, "put": false} {
		if got := admitted(f, name); got != want {
			t.Errorf("admitted(%q) = %v", name, got)
		}
	}
	if !admitted(config.MCPToolFilter{}, "x") || admitted(config.MCPToolFilter{Exclude: []string{"x"}}, "x") {
		t.Error("empty include / exclude")
	}
}

func TestInputSchema(t *testing.T) {
	for in, want := range map[string]string{
		"null":                    `{"type":"object"}`,
		`{"properties":{}}`:       `{"properties":{},"type":"object"}`,
		`{"type":"object","x":1}`: `{"type":"object","x":1}`,
		`"not an object"`:         `{"type":"object"}`,
	} {
		var v any
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			t.Fatal(err)
		}
		if got := string(inputSchema(v)); got != want {
			t.Errorf("inputSchema(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestConvertResult(t *testing.T) {
	r := convertResult("s", "t", &sdk.CallToolResult{Content: []sdk.Content{
		&sdk.ResourceLink{URI: "https://x/y", Name: "y", MIMEType: "text/html"},
		&sdk.EmbeddedResource{Resource: &sdk.ResourceContents{URI: "file:///a.png", MIMEType: "image/png", Blob: []byte("\x89PNG")}},
		&sdk.EmbeddedResource{Resource: &sdk.ResourceContents{URI: "file:///a.bin", Blob: []byte{1, 2, 3}}},
		&sdk.AudioContent{MIMEType: "audio/wav", Data: []byte{1}},
	}})
	if len(r.Content) != 5 {
		t.Fatalf("parts = %+v", r.Content)
	}
	if r.Content[0].Text != "Resource link: https://x/y (y) [text/html]" ||
		r.Content[1].Text != "Resource file:///a.png:" || r.Content[2].Type != "image" || r.Content[2].MediaType != "image/png" ||
		!strings.Contains(r.Content[3].Text, "3 bytes of binary data omitted") ||
		!strings.Contains(r.Content[4].Text, "audio omitted") {
		t.Errorf("parts = %+v", r.Content)
	}
	// Structured content only.
	r = convertResult("s", "t", &sdk.CallToolResult{StructuredContent: map[string]any{"n": 1}})
	if len(r.Content) != 1 || r.Content[0].Text != `{"n":1}` {
		t.Errorf("structured = %+v", r.Content)
	}
	// Empty error.
	r = convertResult("s", "t", &sdk.CallToolResult{IsError: true})
	if !r.IsError || !strings.Contains(r.Content[0].Text, "without details") {
		t.Errorf("empty error = %+v", r)
	}
}

func TestTransportOf(t *testing.T) {
	for want, cfg := range map[string]config.MCPServer{
		"stdio":           {Command: "x"},
		"streamable-http": {URL: "http://x"},
		"sse":             {URL: "http://x", Transport: "sse"},
	} {
		if got := transportOf(cfg); got != want {
			t.Errorf("transportOf(%+v) = %s", cfg, got)
		}
	}
	if transportOf(config.MCPServer{URL: "http://x", Transport: "http"}) != TransportStreamableHTTP {
		t.Error("http alias")
	}
}

func TestExpandEnv(t *testing.T) {
	t.Setenv("PINCER_MCP_X", "val")
	if got := expandEnv("a ${PINCER_MCP_X} b ${PINCER_MCP_UNSET_Y} $PINCER_MCP_X"); got != "a val b  $PINCER_MCP_X" {
		t.Errorf("got %q", got)
	}
}
