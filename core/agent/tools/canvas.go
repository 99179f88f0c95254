package tools

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// Canvas is the `canvas` tool: show and drive the canvas of a paired node
// (canvas.present / navigate / hide / eval / snapshot through node.invoke).
type Canvas struct{ API NodesAPI }

// NewCanvas returns the canvas tool over the node registry.
func NewCanvas(api NodesAPI) *Canvas { return &Canvas{API: api} }

// Spec implements Tool.
func (*Canvas) Spec() providers.Tool {
	return providers.Tool{
		Name: "canvas",
		Description: "Show things on a node's canvas (a screen the user sees on a paired Mac, phone or headless node): " +
			"action \"present\" opens it (optionally at url), \"navigate\" loads a url, \"eval\" runs JavaScript in the page " +
			"and returns its JSON value, \"snapshot\" returns a screenshot image, \"hide\" closes it.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "action": {"type": "string", "enum": ["present", "navigate", "eval", "snapshot", "hide"]},
    "node": {"type": "string", "description": "Node id or name with a canvas."},
    "url": {"type": "string", "description": "http(s), data: or about: URL (present, navigate)."},
    "javaScript": {"type": "string", "description": "Expression to evaluate (eval)."},
    "maxWidth": {"type": "integer", "minimum": 1, "description": "Snapshot width cap in pixels."}
  },
  "required": ["action", "node"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (t *Canvas) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		Action     string `json:"action"`
		Node       string `json:"node"`
		URL        string `json:"url"`
		JavaScript string `json:"javaScript"`
		MaxWidth   int    `json:"maxWidth"`
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
	case "present":
		if a.URL != "" {
			params["url"] = a.URL
		}
	case "navigate":
		if a.URL == "" {
			return Error("canvas: navigate needs a url"), nil
		}
		params["url"] = a.URL
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
	default:
		return Error("canvas: action must be present, navigate, eval, snapshot or hide"), nil
	}
	raw, _ := json.Marshal(params)
	payload, err := t.API.Invoke(ctx, node, "canvas."+a.Action, raw, NodesInvokeDefaultTimeout)
	if err != nil {
		return Error("canvas." + a.Action + " on " + node + " failed: " + err.Error()), nil
	}
	rest, images := extractImages(payload)
	return payloadResult(rest, images), nil
}
