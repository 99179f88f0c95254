package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// NodesAPI is what the nodes tool needs from the node registry. Payloads
// are the gateway protocol's JSON (node.list, node.describe, node.invoke).
type NodesAPI interface {
	List(ctx context.Context) (json.RawMessage, error)
	Describe(ctx context.Context, id string) (json.RawMessage, error)
	Invoke(ctx context.Context, id, command string, params json.RawMessage, timeout time.Duration) (payload json.RawMessage, err error)
}

// nodes limits.
const (
	NodesInvokeDefaultTimeout = 30 * time.Second
	NodesInvokeMaxTimeout     = 10 * time.Minute
	nodesTextMax              = 200 << 10
)

// imageCommands return {format, base64} images the model should see.
var imageCommands = map[string]bool{"camera.snap": true, "screen.snapshot": true, "canvas.snapshot": true}

// Nodes is the `nodes` tool: list, describe and invoke paired nodes.
type Nodes struct{ API NodesAPI }

// NewNodes returns the nodes tool over api.
func NewNodes(api NodesAPI) *Nodes { return &Nodes{API: api} }

// Spec implements Tool.
func (*Nodes) Spec() providers.Tool {
	return providers.Tool{
		Name: "nodes",
		Description: "Work with the devices (nodes) paired to this gateway: action \"list\" shows them and whether they are connected, " +
			"\"describe\" shows one node's capabilities and commands, \"invoke\" runs a command on a node " +
			"(e.g. camera.snap, screen.snapshot, canvas.snapshot, location.get, device.status) with JSON params. " +
			"Snapshots come back as images.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "action": {"type": "string", "enum": ["list", "describe", "invoke"], "description": "What to do."},
    "node": {"type": "string", "description": "Node id or name (describe, invoke)."},
    "invokeCommand": {"type": "string", "description": "Command to invoke, e.g. camera.snap (invoke)."},
    "invokeParamsJson": {"type": "string", "description": "The command's params as a JSON object string, e.g. {\"facing\":\"front\"} (invoke). Default {}."},
    "invokeTimeoutMs": {"type": "integer", "minimum": 1, "description": "How long to wait for the node, in ms (invoke). Default 30000."}
  },
  "required": ["action"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (t *Nodes) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		Action           string          `json:"action"`
		Node             string          `json:"node"`
		NodeID           string          `json:"nodeId"`
		InvokeCommand    string          `json:"invokeCommand"`
		Command          string          `json:"command"`
		InvokeParamsJSON string          `json:"invokeParamsJson"`
		Params           json.RawMessage `json:"params"`
		InvokeTimeoutMs  *int64          `json:"invokeTimeoutMs"`
		TimeoutMs        *int64          `json:"timeoutMs"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("nodes", err), nil
	}
	node := strings.TrimSpace(firstNonEmpty(a.Node, a.NodeID))
	switch a.Action {
	case "list", "status":
		payload, err := t.API.List(ctx)
		if err != nil {
			return Error("nodes: list failed: " + err.Error()), nil
		}
		return payloadResult(payload, nil), nil
	case "describe":
		if node == "" {
			return Error("nodes: describe needs node (an id or name from action \"list\")"), nil
		}
		payload, err := t.API.Describe(ctx, node)
		if err != nil {
			return Error(fmt.Sprintf("nodes: describe %s failed: %v", node, err)), nil
		}
		return payloadResult(payload, nil), nil
	case "invoke":
	case "":
		return Error("nodes: action is required: list, describe or invoke"), nil
	default:
		return Error(fmt.Sprintf("nodes: unknown action %q; use list, describe or invoke", a.Action)), nil
	}

	command := strings.TrimSpace(firstNonEmpty(a.InvokeCommand, a.Command))
	if node == "" {
		return Error("nodes: invoke needs node (an id or name from action \"list\")"), nil
	}
	if command == "" {
		return Error("nodes: invoke needs invokeCommand (see action \"describe\" for the node's commands)"), nil
	}
	params := json.RawMessage("{}")
	switch {
	case strings.TrimSpace(a.InvokeParamsJSON) != "":
		params = json.RawMessage(strings.TrimSpace(a.InvokeParamsJSON))
	case len(bytes.TrimSpace(a.Params)) > 0 && string(bytes.TrimSpace(a.Params)) != "null":
		params = bytes.TrimSpace(a.Params)
	}
	if !json.Valid(params) || params[0] != '{' {
		return Error(fmt.Sprintf("nodes: invokeParamsJson must be a JSON object, got %s", clip(string(params), 80))), nil
	}
	timeout := NodesInvokeDefaultTimeout
	for _, ms := range []*int64{a.InvokeTimeoutMs, a.TimeoutMs} {
		if ms != nil && *ms > 0 {
			timeout = min(time.Duration(*ms)*time.Millisecond, NodesInvokeMaxTimeout)
			break
		}
	}
	payload, err := t.API.Invoke(ctx, node, command, params, timeout)
	if err != nil {
		return Error(fmt.Sprintf("nodes: invoke %s on %s failed: %v", command, node, err)), nil
	}
	var images []providers.Part
	if imageCommands[command] {
		payload, images = extractImages(payload)
	}
	return payloadResult(payload, images), nil
}

// payloadResult shows a node payload as text, followed by its images.
func payloadResult(payload json.RawMessage, images []providers.Part) Result {
	text := "null"
	if len(payload) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, payload, "", "  ") == nil {
			text = buf.String()
		} else {
			text = string(payload)
		}
	}
	if len(text) > nodesTextMax {
		text = cutUTF8(text, nodesTextMax) + fmt.Sprintf("\n[nodes: payload truncated at %s of %d bytes]", sizeString(nodesTextMax), len(text))
	}
	res := Result{Content: []providers.Part{{Type: "text", Text: text}}, Details: json.RawMessage(payload)}
	res.Content = append(res.Content, images...)
	if len(payload) == 0 || !json.Valid(payload) {
		res.Details = nil
	}
	return res
}

// extractImages decodes {format, base64} image payloads (one object, an
// array of them, or an object's "images" array) into image parts, leaving
// a short placeholder where the base64 was so the text stays readable.
func extractImages(payload json.RawMessage) (json.RawMessage, []providers.Part) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return payload, nil
	}
	var images []providers.Part
	var walk func(any, int) any
	walk = func(v any, depth int) any {
		switch x := v.(type) {
		case map[string]any:
			if img, ok := decodeImage(x); ok {
				images = append(images, img)
				x["base64"] = fmt.Sprintf("<%d bytes of %s, attached as an image>", len(img.Data), img.MediaType)
				return x
			}
			if depth == 0 {
				for _, k := range []string{"images", "frames", "snapshots"} {
					if arr, ok := x[k].([]any); ok {
						x[k] = walk(arr, depth+1)
					}
				}
			}
			return x
		case []any:
			if depth > 1 {
				return x
			}
			for i := range x {
				x[i] = walk(x[i], depth+1)
			}
			return x
		}
		return v
	}
	v = walk(v, 0)
	if len(images) == 0 {
		return payload, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return payload, images
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), images
}

// decodeImage reads {format: "jpg"|"png"|…, base64} into an image part.
func decodeImage(m map[string]any) (providers.Part, bool) {
	b64, ok := m["base64"].(string)
	if !ok || b64 == "" {
		return providers.Part{}, false
	}
	format, _ := m["format"].(string)
	if strings.HasPrefix(b64, "data:") {
		if i := strings.Index(b64, ","); i >= 0 {
			b64 = b64[i+1:]
		}
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(b64)); err != nil {
			return providers.Part{}, false
		}
	}
	if len(data) == 0 {
		return providers.Part{}, false
	}
	mt := imageMediaType(data)
	if mt == "" {
		// Trust the declared format only for the image types providers take.
		switch strings.ToLower(format) {
		case "jpg", "jpeg":
			mt = "image/jpeg"
		case "png", "gif", "webp":
			mt = "image/" + strings.ToLower(format)
		default:
			return providers.Part{}, false
		}
	}
	return providers.Part{Type: "image", MediaType: mt, Data: data}, true
}
