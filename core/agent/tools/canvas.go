package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// CanvasHost is the gateway's canvas host as the canvas tool uses it
// (core/canvas.Host implements it).
type CanvasHost interface {
	// PushA2UI validates A2UI v0.8 messages (all or nothing), applies them
	// to the agent's surfaces and streams them to its open A2UI pages.
	PushA2UI(agentID string, messages []json.RawMessage) error
	// A2UIPageURL is a URL of the agent's A2UI page that node (id, name or
	// id prefix) can load, and whether the node already shows that page
	// (it then updates itself and needs no navigation).
	A2UIPageURL(agentID, node string) (url string, live bool, err error)
	// NodeURL maps a hosted path (/__openclaw__/canvas/… or
	// /__openclaw__/a2ui/…) to a URL node can load.
	NodeURL(node, hostedPath string) (string, error)
}

// Canvas is the `canvas` tool: show and drive the canvas of a paired node
// (canvas.present / navigate / hide / eval / snapshot through node.invoke),
// and push A2UI to it through the gateway's canvas host.
type Canvas struct {
	API NodesAPI
	// Host is the canvas host (nil: no hosted paths, no a2ui_push).
	Host CanvasHost
}

// NewCanvas returns the canvas tool over the node registry.
func NewCanvas(api NodesAPI) *Canvas { return &Canvas{API: api} }

// WithHost sets the canvas host (a2ui_push and hosted paths) and returns t.
func (t *Canvas) WithHost(h CanvasHost) *Canvas {
	t.Host = h
	return t
}

// canvasHostedPrefix marks a url the canvas host serves.
const canvasHostedPrefix = "/__openclaw__/"

// a2uiMaxMessages bounds one a2ui_push (the host enforces its own limits).
const a2uiMaxMessages = 500

// Spec implements Tool.
func (*Canvas) Spec() providers.Tool {
	return providers.Tool{
		Name: "canvas",
		Description: "Show things on a node's canvas (a screen the user sees on a paired Mac, phone or headless node): " +
			"action \"present\" opens it (optionally at url), \"navigate\" loads a url, \"eval\" runs JavaScript in the page " +
			"and returns its JSON value, \"snapshot\" returns a screenshot image, \"hide\" closes it. " +
			"Your own canvas files are served at the hosted path /__openclaw__/canvas/<agentId>/<file> (pass that path as url). " +
			"\"a2ui_push\" sends A2UI v0.8 messages (surfaceUpdate, dataModelUpdate, beginRendering, deleteSurface; " +
			"components Text, Image, Icon, Row, Column, List, Card, Tabs, Divider, Modal, Button, CheckBox, TextField, " +
			"DateTimeInput, MultipleChoice, Slider) and shows them on the node; a Button's action comes back to you as a " +
			"message \"[canvas action] <name> <context JSON>\".",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "action": {"type": "string", "enum": ["present", "navigate", "eval", "snapshot", "hide", "a2ui_push"]},
    "node": {"type": "string", "description": "Node id or name with a canvas."},
    "url": {"type": "string", "description": "http(s), data: or about: URL, or a hosted path such as /__openclaw__/canvas/main/index.html (present, navigate)."},
    "javaScript": {"type": "string", "description": "Expression to evaluate (eval)."},
    "maxWidth": {"type": "integer", "minimum": 1, "description": "Snapshot width cap in pixels."},
    "messages": {"type": "array", "items": {"type": "object"}, "description": "A2UI messages, each an object with one of surfaceUpdate, dataModelUpdate, beginRendering, deleteSurface (a2ui_push)."},
    "jsonl": {"type": "string", "description": "The A2UI messages as JSON Lines, instead of messages (a2ui_push)."}
  },
  "required": ["action", "node"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (t *Canvas) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		Action     string            `json:"action"`
		Node       string            `json:"node"`
		URL        string            `json:"url"`
		JavaScript string            `json:"javaScript"`
		MaxWidth   int               `json:"maxWidth"`
		Messages   []json.RawMessage `json:"messages"`
		JSONL      string            `json:"jsonl"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("canvas", err), nil
	}
	node := strings.TrimSpace(a.Node)
	if node == "" {
		return Error("canvas: node is required"), nil
	}
	params := map[string]any{}
	switch a.Action {
	case "present", "navigate":
		if a.URL == "" {
			if a.Action == "navigate" {
				return Error("canvas: navigate needs a url"), nil
			}
			break
		}
		u, err := t.nodeURL(node, a.URL)
		if err != nil {
			return Error("canvas: " + err.Error()), nil
		}
		params["url"] = u
	case "eval":
		if strings.TrimSpace(a.JavaScript) == "" {
			return Error("canvas: eval needs javaScript"), nil
		}
		params["javaScript"] = a.JavaScript
	case "snapshot":
		params["format"] = "png"
		if a.MaxWidth > 0 {
			params["maxWidth"] = a.MaxWidth
		}
	case "hide":
	case "a2ui_push":
		return t.pushA2UI(ctx, call, node, a.Messages, a.JSONL), nil
	default:
		return Error("canvas: action must be present, navigate, eval, snapshot, hide or a2ui_push"), nil
	}
	raw, _ := json.Marshal(params)
	payload, err := t.API.Invoke(ctx, node, "canvas."+a.Action, raw, NodesInvokeDefaultTimeout)
	if err != nil {
		return Error("canvas." + a.Action + " on " + node + " failed: " + err.Error()), nil
	}
	rest, images := extractImages(payload)
	return payloadResult(rest, images), nil
}

// nodeURL resolves a hosted path through the node's capability URL; other
// URLs pass unchanged (the node validates them).
func (t *Canvas) nodeURL(node, u string) (string, error) {
	if !strings.HasPrefix(u, canvasHostedPrefix) {
		return u, nil
	}
	if t.Host == nil {
		return "", errors.New("hosted paths need the gateway's canvas host, which is not available here")
	}
	return t.Host.NodeURL(node, u)
}

// pushA2UI sends messages to the agent's surfaces and makes the node show
// the A2UI page.
func (t *Canvas) pushA2UI(ctx context.Context, call Call, node string, msgs []json.RawMessage, jsonl string) Result {
	if t.Host == nil {
		return Error("canvas: a2ui_push needs the gateway's canvas host, which is not available here (is canvasHost.enabled false?)")
	}
	if len(msgs) > 0 && strings.TrimSpace(jsonl) != "" {
		return Error("canvas: a2ui_push takes messages or jsonl, not both")
	}
	if len(msgs) == 0 {
		var err error
		if msgs, err = splitJSONL(jsonl); err != nil {
			return Error("canvas: jsonl: " + err.Error())
		}
	}
	if len(msgs) == 0 {
		return Error("canvas: a2ui_push needs messages (an array of A2UI message objects) or jsonl")
	}
	if len(msgs) > a2uiMaxMessages {
		return Error(fmt.Sprintf("canvas: at most %d A2UI messages per push", a2uiMaxMessages))
	}
	agentID := call.AgentID
	if agentID == "" {
		agentID = "main"
	}
	if err := t.Host.PushA2UI(agentID, msgs); err != nil {
		return Error("canvas: a2ui_push refused, nothing was shown: " + err.Error())
	}
	pushed := fmt.Sprintf("Pushed %d A2UI message(s) to agent %s's canvas", len(msgs), agentID)
	url, live, err := t.Host.A2UIPageURL(agentID, node)
	if err != nil {
		return Error(pushed + ", but it cannot be shown on " + node + ": " + err.Error() +
			". The surfaces are kept; push again or present the canvas once the node is connected.")
	}
	params := map[string]any{}
	if !live {
		params["url"] = url
	}
	raw, _ := json.Marshal(params)
	if _, err := t.API.Invoke(ctx, node, "canvas.present", raw, NodesInvokeDefaultTimeout); err != nil {
		return Error(pushed + ", but canvas.present on " + node + " failed: " + err.Error())
	}
	r := Text(pushed + " and showed it on " + node + ". Button actions arrive as messages \"[canvas action] <name> <context JSON>\".")
	r.Details = map[string]any{"node": node, "agentId": agentID, "messages": len(msgs), "navigated": !live}
	return r
}

// splitJSONL parses JSON Lines (blank lines skipped) into objects.
func splitJSONL(s string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !json.Valid([]byte(line)) || line[0] != '{' {
			return nil, fmt.Errorf("line %d is not a JSON object", i+1)
		}
		out = append(out, json.RawMessage(line))
	}
	return out, nil
}
