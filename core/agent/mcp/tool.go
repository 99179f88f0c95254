package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/config"
)

// maxNameLen is the longest tool name the model providers accept.
const maxNameLen = 64

// toolEntry is one of a server's tools admitted by its toolFilter.
type toolEntry struct {
	tool *sdk.Tool
}

// Tool is an MCP server's tool offered to the agents.
type Tool struct {
	srv  *server
	tool string // the server's name for it
	spec providers.Tool
}

func newTool(s *server, e *toolEntry, name string) *Tool {
	desc := strings.TrimSpace(e.tool.Description)
	if desc == "" {
		desc = strings.TrimSpace(e.tool.Title)
	}
	if desc == "" && e.tool.Annotations != nil {
		desc = strings.TrimSpace(e.tool.Annotations.Title)
	}
	if desc == "" {
		desc = fmt.Sprintf("Tool %q of the MCP server %q.", e.tool.Name, s.name)
	}
	return &Tool{srv: s, tool: e.tool.Name, spec: providers.Tool{
		Name:        name,
		Description: desc,
		Parameters:  inputSchema(e.tool.InputSchema),
	}}
}

// inputSchema is the tool's input schema as JSON ({"type":"object"} when
// the server gave none).
func inputSchema(schema any) json.RawMessage {
	def := json.RawMessage(`{"type":"object"}`)
	if schema == nil {
		return def
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return def
	}
	var obj map[string]any
	if json.Unmarshal(b, &obj) != nil || obj == nil {
		return def
	}
	if _, ok := obj["type"]; !ok {
		obj["type"] = "object"
		if b, err = json.Marshal(obj); err != nil {
			return def
		}
	}
	return b
}

// Server is the name of the configured server the tool belongs to.
func (t *Tool) Server() string { return t.srv.name }

// MCPName is the tool's name on its server.
func (t *Tool) MCPName() string { return t.tool }

// Spec is the tool as offered to the model.
func (t *Tool) Spec() providers.Tool { return t.spec }

// Run calls the tool on its server.
func (t *Tool) Run(ctx context.Context, call tools.Call) (tools.Result, error) {
	args := bytes.TrimSpace(call.Args)
	if len(args) == 0 || string(args) == "null" {
		args = []byte("{}")
	}
	if args[0] != '{' || !json.Valid(args) {
		return tools.Error("the arguments must be a JSON object"), nil
	}
	c, err := t.srv.live(ctx)
	if err != nil {
		return tools.Error(err.Error()), nil
	}
	timeout := t.srv.requestTimeout()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.sess.CallTool(rctx, &sdk.CallToolParams{Name: t.tool, Arguments: json.RawMessage(args)})
	if err != nil {
		return tools.Error(t.callError(ctx, rctx, c, timeout, err)), nil
	}
	return convertResult(t.srv.name, t.tool, res), nil
}

// callError explains a failed call (not a tool's error result).
func (t *Tool) callError(ctx, rctx context.Context, c *conn, timeout time.Duration, err error) string {
	prefix := fmt.Sprintf("MCP tool %q on server %q", t.tool, t.srv.name)
	var rpcErr *jsonrpc.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Sprintf("%s: call cancelled", prefix)
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("%s timed out after %s", prefix, timeout)
	case errors.As(err, &rpcErr):
		return fmt.Sprintf("%s failed: %s (code %d)", prefix, rpcErr.Message, rpcErr.Code)
	case isConnError(err):
		t.srv.drop(c, err)
		return fmt.Sprintf("%s failed: the connection to the server was lost (%v); it will be reconnected", prefix, err)
	}
	return fmt.Sprintf("%s failed: %v", prefix, err)
}

// convertResult turns a tool result's content blocks into parts.
func convertResult(server, tool string, res *sdk.CallToolResult) tools.Result {
	var parts []providers.Part
	text := func(s string) { parts = append(parts, providers.Part{Type: "text", Text: s}) }
	image := func(mime string, data []byte) {
		if mime == "" {
			mime = http.DetectContentType(data)
		}
		parts = append(parts, providers.Part{Type: "image", MediaType: mime, Data: data})
	}
	for _, c := range res.Content {
		switch c := c.(type) {
		case *sdk.TextContent:
			text(c.Text)
		case *sdk.ImageContent:
			image(c.MIMEType, c.Data)
		case *sdk.AudioContent:
			text(fmt.Sprintf("[audio omitted: %s, %d bytes]", orUnknown(c.MIMEType), len(c.Data)))
		case *sdk.ResourceLink:
			s := "Resource link: " + c.URI
			if name := firstNonEmpty(c.Title, c.Name); name != "" {
				s += " (" + name + ")"
			}
			if c.MIMEType != "" {
				s += " [" + c.MIMEType + "]"
			}
			if c.Description != "" {
				s += "\n" + c.Description
			}
			text(s)
		case *sdk.EmbeddedResource:
			r := c.Resource
			if r == nil {
				continue
			}
			switch {
			case r.Text != "":
				text("Resource " + r.URI + ":\n" + r.Text)
			case len(r.Blob) > 0 && strings.HasPrefix(r.MIMEType, "image/"):
				text("Resource " + r.URI + ":")
				image(r.MIMEType, r.Blob)
			case len(r.Blob) > 0:
				text(fmt.Sprintf("Resource %s: [%s, %d bytes of binary data omitted]", r.URI, orUnknown(r.MIMEType), len(r.Blob)))
			default:
				text("Resource " + r.URI + " (empty)")
			}
		default:
			if b, err := json.Marshal(c); err == nil {
				text(string(b))
			}
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			text(string(b))
		}
	}
	if len(parts) == 0 {
		if res.IsError {
			text(fmt.Sprintf("MCP tool %q on server %q reported an error without details", tool, server))
		} else {
			text("(no output)")
		}
	}
	details := map[string]any{"server": server, "tool": tool}
	if res.StructuredContent != nil {
		details["structuredContent"] = res.StructuredContent
	}
	return tools.Result{Content: parts, IsError: res.IsError, Details: details}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown type"
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// sanitize maps characters outside [A-Za-z0-9_-] to "_".
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// uniqueName is "<server>__<tool>" sanitised, at most 64 characters (a long
// name is cut and ends with a hash of the full one) and not in used.
func uniqueName(server, tool string, used map[string]bool) string {
	base := sanitize(server) + "__" + sanitize(tool)
	if len(base) > maxNameLen {
		h := fnv.New32a()
		h.Write([]byte(server + "\x00" + tool))
		base = fmt.Sprintf("%s_%08x", base[:maxNameLen-9], h.Sum32())
	}
	name := base
	for i := 2; used[name]; i++ {
		suffix := fmt.Sprintf("_%d", i)
		b := base
		if len(b)+len(suffix) > maxNameLen {
			b = b[:maxNameLen-len(suffix)]
		}
		name = b + suffix
	}
	used[name] = true
	return name
}

// admitted applies a server's toolFilter to one of its tools: include
// (when set) must match, exclude must not. Entries are exact names or
// simple "*" globs.
func admitted(f config.MCPToolFilter, name string) bool {
	for _, p := range f.Exclude {
		if glob(p, name) {
			return false
		}
	}
	if len(f.Include) == 0 {
		return true
	}
	for _, p := range f.Include {
		if glob(p, name) {
			return true
		}
	}
	return false
}

// glob matches name against a pattern where "*" matches any run of
// characters and everything else matches itself.
func glob(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}
