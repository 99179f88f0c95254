package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestErrorString(t *testing.T) {
	e := &Error{Code: "LOCATION_UNAVAILABLE", Message: "no fix"}
	if got := e.Error(); got != "LOCATION_UNAVAILABLE: no fix" {
		t.Fatalf("Error() = %q", got)
	}
	wrapped := fmt.Errorf("ctx: %w", e)
	if asError(wrapped) != e {
		t.Fatal("asError lost a wrapped *Error")
	}
	if got := asError(errors.New("boom")); got.Code != CodeUnavailable || got.Message != "boom" {
		t.Fatalf("plain error mapped to %v", got)
	}
	if got := asError(context.DeadlineExceeded); got.Code != CodeTimeout {
		t.Fatalf("deadline mapped to %v", got)
	}
}

var canvasCommands = []string{"canvas.eval", "canvas.hide", "canvas.navigate", "canvas.present", "canvas.snapshot"}

func TestRegistryDeclarations(t *testing.T) {
	r := probe(t, Config{})
	cmds := r.Commands()
	if !sort.StringsAreSorted(cmds) {
		t.Fatalf("Commands not sorted: %v", cmds)
	}
	for _, want := range []string{"device.info", "device.status", "location.get", "system.run", "system.which"} {
		if !slices.Contains(cmds, want) {
			t.Errorf("Commands() = %v, missing %s", cmds, want)
		}
	}
	caps := r.Caps()
	if !sort.StringsAreSorted(caps) {
		t.Fatalf("Caps not sorted: %v", caps)
	}
	for _, want := range []string{"device", "system"} {
		if !slices.Contains(caps, want) {
			t.Errorf("Caps() = %v, missing %s", caps, want)
		}
	}
	if slices.Contains(caps, "location") {
		t.Errorf("Caps() = %v declares location without a configured position", caps)
	}
	// Every declared command's cap is declared, except location's.
	for _, name := range cmds {
		c := r.commands[name]
		if c.Name != name || c.Handler == nil {
			t.Errorf("command %s malformed: %+v", name, c)
		}
		if c.Cap != "location" && !slices.Contains(caps, c.Cap) {
			t.Errorf("command %s has undeclared cap %s", name, c.Cap)
		}
	}
	// canvas.* come all together with the canvas cap, or not at all.
	var canvas int
	for _, name := range cmds {
		if strings.HasPrefix(name, "canvas.") {
			canvas++
		}
	}
	if hasCanvas := slices.Contains(caps, "canvas"); canvas != 0 && canvas != len(canvasCommands) || (canvas != 0) != hasCanvas {
		t.Errorf("canvas cap declared = %v with %d canvas commands: %v", hasCanvas, canvas, cmds)
	}
}

func TestInvokeRequestErrors(t *testing.T) {
	r := probe(t, Config{})
	e := wantErr(t, r, "nope.cmd", nil, CodeInvalidRequest)
	if e.Message != "unknown command: nope.cmd" {
		t.Fatalf("unknown command message = %q", e.Message)
	}
	wantErr(t, r, "system.which", `{"bins":`, CodeInvalidRequest)
	wantErr(t, r, "system.which", `["ls"]`, CodeInvalidRequest)
	wantErr(t, r, "device.info", `"x"`, CodeInvalidRequest)
	// No params and JSON null both mean "no params".
	mustCall(t, r, "device.info", nil)
	mustCall(t, r, "device.info", "null")
	mustCall(t, r, "device.info", "  {}  ")
}

func TestInvokeRecoversPanics(t *testing.T) {
	r := probe(t, Config{})
	r.commands["test.panic"] = Command{Name: "test.panic", Cap: "test", Handler: func(context.Context, json.RawMessage) (any, error) {
		panic("kaboom")
	}}
	r.commands["test.plain"] = Command{Name: "test.plain", Cap: "test", Handler: func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New("backend broke")
	}}
	e := wantErr(t, r, "test.panic", nil, CodeUnavailable)
	if !strings.Contains(e.Message, "kaboom") {
		t.Fatalf("panic message = %q", e.Message)
	}
	e = wantErr(t, r, "test.plain", nil, CodeUnavailable)
	if e.Message != "backend broke" {
		t.Fatalf("plain error message = %q", e.Message)
	}
}

func TestDecodeParamsMessages(t *testing.T) {
	var p runParams
	err := decodeParams(json.RawMessage(`{"command":"ls"}`), &p)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidRequest {
		t.Fatalf("want INVALID_REQUEST, got %v", err)
	}
	if !strings.Contains(e.Message, "command") || !strings.Contains(e.Message, "array of strings") {
		t.Fatalf("message does not name the field and type: %q", e.Message)
	}
	err = decodeParams(json.RawMessage(`{"timeoutMs":"soon"}`), &p)
	if !errors.As(err, &e) || !strings.Contains(e.Message, "timeoutMs must be a number") {
		t.Fatalf("timeoutMs message: %v", err)
	}
}
