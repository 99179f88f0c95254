package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/providers"
)

type invokeCall struct {
	id, command string
	params      string
	timeout     time.Duration
}

// fakeNodes answers like the gateway's node registry.
type fakeNodes struct {
	payloads map[string]json.RawMessage // by command
	calls    []invokeCall
}

func (f *fakeNodes) List(context.Context) (json.RawMessage, error) {
	return json.RawMessage(`{"ts":1,"nodes":[{"nodeId":"mac-1","displayName":"Studio","connected":true,"caps":["camera","screen"]}]}`), nil
}

func (f *fakeNodes) Describe(_ context.Context, id string) (json.RawMessage, error) {
	if id != "mac-1" {
		return nil, errors.New("unknown node " + id)
	}
	return json.RawMessage(`{"nodeId":"mac-1","commands":["camera.snap","screen.snapshot"]}`), nil
}

func (f *fakeNodes) Invoke(_ context.Context, id, command string, params json.RawMessage, timeout time.Duration) (json.RawMessage, error) {
	f.calls = append(f.calls, invokeCall{id, command, string(params), timeout})
	if p, ok := f.payloads[command]; ok {
		return p, nil
	}
	return nil, errors.New("node " + id + " does not support " + command)
}

func testImage(t *testing.T, format string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func imagesOf(r Result) []providers.Part {
	var out []providers.Part
	for _, p := range r.Content {
		if p.Type == "image" {
			out = append(out, p)
		}
	}
	return out
}

func TestNodesListDescribe(t *testing.T) {
	api := &fakeNodes{}
	tool := NewNodes(api)
	if got := wantOK(t, run(t, tool, "", map[string]any{"action": "list"})); !strings.Contains(got, `"displayName": "Studio"`) {
		t.Fatalf("list = %q", got)
	}
	if got := wantOK(t, run(t, tool, "", map[string]any{"action": "describe", "node": "mac-1"})); !strings.Contains(got, "screen.snapshot") {
		t.Fatalf("describe = %q", got)
	}
	wantErr(t, run(t, tool, "", map[string]any{"action": "describe", "node": "pi"}), "unknown node pi")
	wantErr(t, run(t, tool, "", map[string]any{"action": "describe"}), "needs node")
	wantErr(t, run(t, tool, "", map[string]any{}), "action is required")
	wantErr(t, run(t, tool, "", map[string]any{"action": "reboot"}), "unknown action")
}

func TestNodesInvoke(t *testing.T) {
	jpg := testImage(t, "jpeg")
	pngData := testImage(t, "png")
	snap, _ := json.Marshal(map[string]any{"format": "jpg", "base64": base64.StdEncoding.EncodeToString(jpg), "width": 8, "height": 8})
	canvas, _ := json.Marshal(map[string]any{"format": "png", "base64": base64.StdEncoding.EncodeToString(pngData)})
	api := &fakeNodes{payloads: map[string]json.RawMessage{
		"camera.snap":     snap,
		"canvas.snapshot": canvas,
		"screen.snapshot": json.RawMessage(`{"format":"png","base64":"!!not base64!!"}`),
		"device.status":   json.RawMessage(`{"battery":0.5,"base64":"aGk=","format":"png"}`),
	}}
	tool := NewNodes(api)

	r := run(t, tool, "", map[string]any{"action": "invoke", "node": "mac-1", "invokeCommand": "camera.snap", "invokeParamsJson": `{"facing":"front"}`, "invokeTimeoutMs": 5000})
	got := wantOK(t, r)
	imgs := imagesOf(r)
	if len(imgs) != 1 || imgs[0].MediaType != "image/jpeg" || !bytes.Equal(imgs[0].Data, jpg) {
		t.Fatalf("images = %d %+v", len(imgs), imgs)
	}
	if strings.Contains(got, base64.StdEncoding.EncodeToString(jpg)[:40]) || !strings.Contains(got, "attached as an image") || !strings.Contains(got, `"width": 8`) ||
		!strings.Contains(got, fmt.Sprintf("<%d bytes of image/jpeg, attached as an image>", len(jpg))) {
		t.Fatalf("text = %q", got)
	}
	if c := api.calls[0]; c != (invokeCall{"mac-1", "camera.snap", `{"facing":"front"}`, 5 * time.Second}) {
		t.Fatalf("call = %+v", c)
	}

	// The brief's aliases: nodeId, command, params object; default timeout.
	r = run(t, tool, "", map[string]any{"action": "invoke", "nodeId": "mac-1", "command": "canvas.snapshot", "params": map[string]any{"x": 1}})
	if imgs := imagesOf(wantOKResult(t, r)); len(imgs) != 1 || imgs[0].MediaType != "image/png" || !bytes.Equal(imgs[0].Data, pngData) {
		t.Fatalf("canvas images = %+v", imgs)
	}
	if c := api.calls[1]; c.params != `{"x":1}` || c.timeout != NodesInvokeDefaultTimeout {
		t.Fatalf("call = %+v", c)
	}

	// Undecodable image data stays text; other commands are never converted.
	if r := run(t, tool, "", map[string]any{"action": "invoke", "node": "mac-1", "invokeCommand": "screen.snapshot"}); len(imagesOf(r)) != 0 || !strings.Contains(text(r), "not base64") {
		t.Fatalf("bad image = %+v", r)
	}
	if r := run(t, tool, "", map[string]any{"action": "invoke", "node": "mac-1", "invokeCommand": "device.status"}); len(imagesOf(r)) != 0 || !strings.Contains(text(r), "aGk=") {
		t.Fatalf("device.status = %+v", r)
	}

	wantErr(t, run(t, tool, "", map[string]any{"action": "invoke", "node": "mac-1"}), "needs invokeCommand")
	wantErr(t, run(t, tool, "", map[string]any{"action": "invoke", "invokeCommand": "camera.snap"}), "needs node")
	wantErr(t, run(t, tool, "", map[string]any{"action": "invoke", "node": "mac-1", "invokeCommand": "camera.snap", "invokeParamsJson": "[1]"}), "JSON object")
	wantErr(t, run(t, tool, "", map[string]any{"action": "invoke", "node": "mac-1", "invokeCommand": "camera.snap", "invokeParamsJson": "{bad"}), "JSON object")
	wantErr(t, run(t, tool, "", map[string]any{"action": "invoke", "node": "mac-1", "invokeCommand": "sms.send"}), "does not support sms.send")
}

func TestExtractImagesArray(t *testing.T) {
	p := base64.StdEncoding.EncodeToString(testImage(t, "png"))
	payload := json.RawMessage(`[{"format":"png","base64":"` + p + `","facing":"front"},{"format":"png","base64":"` + p + `","facing":"back"}]`)
	out, imgs := extractImages(payload)
	if len(imgs) != 2 || strings.Contains(string(out), p) || !strings.Contains(string(out), `"facing":"back"`) {
		t.Fatalf("array: %d images, %s", len(imgs), out)
	}
	payload = json.RawMessage(`{"images":[{"format":"jpeg","base64":"` + p + `"}]}`)
	if _, imgs := extractImages(payload); len(imgs) != 1 || imgs[0].MediaType != "image/png" {
		t.Fatalf("images field: %+v", imgs)
	}
}
