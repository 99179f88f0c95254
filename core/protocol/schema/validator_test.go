package schema

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Real connect params captured from the official clients (spec §2.2).
const (
	cliConnect = `{"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","mode":"cli","instanceId":"338c"},"caps":[],"auth":{"token":"T"},"role":"operator","scopes":["operator.read"]}`

	backendConnect = `{"minProtocol":4,"maxProtocol":4,"client":{"id":"gateway-client","displayName":"gateway:health","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","mode":"backend","instanceId":"x"},"caps":[],"auth":{"token":"T"},"role":"operator","scopes":["operator.read"]}`

	nodeHostConnect = `{"minProtocol":4,"maxProtocol":4,"client":{"id":"node-host","displayName":"test-headless","version":"2026.9.6","platform":"linux","deviceFamily":"Linux","mode":"node","instanceId":"c877"},
 "caps":["browser","file","local-inference","mcp","system"],
 "commands":["browser.proxy","browser.proxy.upload.v1","desktop.stream","dir.fetch","dir.list","file.create","file.fetch","file.stat","file.write","fs.listDir","mcp.tools.call.v1","ollama.chat","ollama.models","system.execApprovals.get","system.execApprovals.set","system.run","system.run.prepare","system.which","terminal.upload","workspace.memory","workspace.skills"],
 "pathEnv":"/usr/bin:/bin","auth":{"token":"T"},"role":"node","scopes":[],
 "device":{"id":"90086b2e220d7f","publicKey":"6_7kNGl5P0IjUx2yrXc7kIFrM0FpcUzbvesxQl4T73g","signature":"VxyJ9y5eyHoDg","signedAt":1795311569184,"nonce":"d4d39dbe-9938-424a-b06e-208d6d1446ea"}}`
)

func newTestValidator(t testing.TB) *Validator {
	t.Helper()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// patch decodes a JSON object, applies edits (path → value; nil deletes)
// and re-encodes it.
func patch(t testing.TB, doc string, edits map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	for path, val := range edits {
		parts := strings.Split(path, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			cur = cur[p].(map[string]any)
		}
		last := parts[len(parts)-1]
		if val == nil {
			delete(cur, last)
		} else {
			cur[last] = val
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidateConnect(t *testing.T) {
	v := newTestValidator(t)
	tests := []struct {
		name   string
		params string
		want   string // "" = valid
	}{
		{"cli", cliConnect, ""},
		{"backend", backendConnect, ""},
		{"node host", nodeHostConnect, ""},
		{"probe", `{"minProtocol":3,"maxProtocol":4,"client":{"id":"openclaw-probe","version":"dev","platform":"linux","mode":"probe"}}`, ""},
		{"docs client id", patch(t, cliConnect, map[string]any{"client.id": "ios-node"}), "at /client/id: must be equal to one of the allowed values"},
		{"bad mode", patch(t, cliConnect, map[string]any{"client.mode": "phone"}), "at /client/mode: must be equal to one of the allowed values"},
		{"extra top-level", patch(t, cliConnect, map[string]any{"foo": 1}), "at root: unexpected property 'foo'"},
		{"extra in client", patch(t, cliConnect, map[string]any{"client.foo": 1}), "at /client: unexpected property 'foo'"},
		{"no client.version", patch(t, cliConnect, map[string]any{"client.version": nil}), "at /client: must have required property 'version'"},
		{"no client.version nor platform", patch(t, cliConnect, map[string]any{"client.version": nil, "client.platform": nil}), "at /client: must have required property 'version'"},
		{"no client", patch(t, cliConnect, map[string]any{"client": nil}), "must have required property 'client'"},
		{"no minProtocol", patch(t, cliConnect, map[string]any{"minProtocol": nil}), "must have required property 'minProtocol'"},
		{"empty", `{}`, "must have required property 'minProtocol'"},
		{"minProtocol string", patch(t, cliConnect, map[string]any{"minProtocol": "4"}), "at /minProtocol: must be integer"},
		{"minProtocol fraction", strings.Replace(cliConnect, `"minProtocol":4`, `"minProtocol":4.5`, 1), "at /minProtocol: must be integer"},
		{"minProtocol 0", patch(t, cliConnect, map[string]any{"minProtocol": 0}), "at /minProtocol: must be >= 1"},
		{"minProtocol 4.0", strings.Replace(cliConnect, `"minProtocol":4`, `"minProtocol":4.0`, 1), "at /minProtocol: must be integer"},
		{"minProtocol overflow", strings.Replace(cliConnect, `"minProtocol":4`, `"minProtocol":1e30`, 1), "at /minProtocol: must be integer"},
		{"client not object", patch(t, cliConnect, map[string]any{"client": "cli"}), "at /client: must be object"},
		{"client id number", patch(t, cliConnect, map[string]any{"client.id": 7}), "at /client/id: must be string"},
		{"empty version", patch(t, cliConnect, map[string]any{"client.version": ""}), "at /client/version: must NOT have fewer than 1 characters"},
		{"long timeZone", patch(t, cliConnect, map[string]any{"client.timeZone": strings.Repeat("x", 65)}), "at /client/timeZone: must NOT have more than 64 characters"},
		{"empty cap", patch(t, cliConnect, map[string]any{"caps": []any{"a", ""}}), "at /caps/1: must NOT have fewer than 1 characters"},
		{"caps not array", patch(t, cliConnect, map[string]any{"caps": "x"}), "at /caps: must be array"},
		{"permission not bool", patch(t, cliConnect, map[string]any{"permissions": map[string]any{"camera.capture": "yes"}}), "at /permissions/camera.capture: must be boolean"},
		{"auth token number", patch(t, cliConnect, map[string]any{"auth.token": 1}), "at /auth/token: must be string"},
		{"auth extra", patch(t, cliConnect, map[string]any{"auth.secret": "x"}), "at /auth: unexpected property 'secret'"},
		{"device signedAt negative", patch(t, nodeHostConnect, map[string]any{"device.signedAt": -1}), "at /device/signedAt: must be >= 0"},
		{"device without nonce", patch(t, nodeHostConnect, map[string]any{"device.nonce": nil}), "at /device: must have required property 'nonce'"},
		{"worker runs bad hash", patch(t, cliConnect, map[string]any{"workerRuns": map[string]any{"bundleHash": strings.Repeat("G", 64), "openclawVersion": "1", "protocolFeatures": []any{}}}), `at /workerRuns/bundleHash: must match pattern "^[a-f0-9]{64}$"`},
		{"worker runs too many features", patch(t, cliConnect, map[string]any{"workerRuns": map[string]any{"bundleHash": strings.Repeat("a", 64), "openclawVersion": "1", "protocolFeatures": make([]any, 65)}}), "at /workerRuns/protocolFeatures: must NOT have more than 64 items"},
		{"model catalog short id", patch(t, cliConnect, map[string]any{"modelCatalog": map[string]any{"shortId": "a", "slugHint": "b"}}), ""},
		{"model catalog session", patch(t, cliConnect, map[string]any{"modelCatalog": map[string]any{"agentId": "a", "sessionKey": "b"}}), ""},
		{"model catalog mixed", patch(t, cliConnect, map[string]any{"modelCatalog": map[string]any{"sessionKey": "a", "shortId": "b"}}), "at /modelCatalog: must match a schema in anyOf"},
		{"computerUse anything", patch(t, cliConnect, map[string]any{"computerUse": []any{1, "x", nil}}), ""},
		{"null", `null`, "must be object"},
		{"absent", ``, "must be object"},
		{"array", `[]`, "must be object"},
		{"not json", `{"minProtocol":`, "invalid JSON: unexpected end of JSON input"},
		{"trailing data", cliConnect + ` {}`, "invalid JSON: invalid character '{' after top-level value"},
		{"duplicate key", strings.Replace(cliConnect, `"minProtocol":4`, `"minProtocol":"x","minProtocol":4`, 1), "at root: duplicate property 'minProtocol'"},
		{"duplicate nested key", strings.Replace(cliConnect, `"id":"cli"`, `"id":"cli","i\u0064":"cli"`, 1), "at /client: duplicate property 'id'"},
		{"escapes and unicode", patch(t, cliConnect, map[string]any{"client.displayName": "caf\u00e9 \"x\" ✓"}), ""},
		// Order: required before additionalProperties before properties.
		{"missing and extra", `{"foo":1,"maxProtocol":4,"client":{}}`, "must have required property 'minProtocol'"},
		{"extra and bad property", `{"minProtocol":"x","maxProtocol":4,"client":{"id":"cli","version":"1","platform":"p","mode":"cli"},"zz":1,"aa":2}`, "at root: unexpected property 'zz'"},
		// Properties in schema order, not instance order.
		{"two bad properties", `{"client":{"id":"nope","version":"1","platform":"p","mode":"cli"},"maxProtocol":4,"minProtocol":"x"}`, "at /minProtocol: must be integer"},
		{"bad items in order", patch(t, cliConnect, map[string]any{"scopes": []any{"a", 1, ""}}), "at /scopes/1: must be string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.ValidateConnect([]byte(tc.params))
			checkErr(t, err, tc.want)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("got %v (%T), want *ValidationError %q", err, err, want)
	}
	if verr.Reason != want || err.Error() != want {
		t.Fatalf("got %q, want %q", verr.Reason, want)
	}
}

// With every error reported, the order is the reference's (allErrors)
// order: required, additionalProperties, then properties in schema order.
func TestReasonAll(t *testing.T) {
	v := newTestValidator(t)
	e := v.shapes["ConnectParams"]
	if err := v.load(e); err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"zz":1,"client":{"version":"","mode":"cli","id":"x","platform":"p","extra":true},"maxProtocol":"4","foo":2,"caps":[1,"",1]}`)
	inst, err := decodeInstance(data)
	if err != nil {
		t.Fatal(err)
	}
	var verr *jsonschema.ValidationError
	if !errors.As(e.sch.Validate(inst), &verr) {
		t.Fatal("valid")
	}
	got := newReporter(e.doc, data).reason(verr, true)
	want := strings.Join([]string{
		"must have required property 'minProtocol'",
		"at root: unexpected property 'zz'",
		"at root: unexpected property 'foo'",
		"at /maxProtocol: must be integer",
		"at /client: unexpected property 'extra'",
		"at /client/id: must be equal to one of the allowed values",
		"at /client/version: must NOT have fewer than 1 characters",
		"at /caps/0: must be string",
		"at /caps/1: must NOT have fewer than 1 characters",
		"at /caps/2: must be string",
	}, "; ")
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if first := newReporter(e.doc, data).reason(verr, false); first != "must have required property 'minProtocol'" {
		t.Fatalf("first: %s", first)
	}
}

func TestValidateParams(t *testing.T) {
	v := newTestValidator(t)
	tests := []struct {
		method, params, want string
	}{
		{"logs.tail", `{"limit":0}`, "at /limit: must be >= 1"},
		{"logs.tail", `{"limit":5001}`, "at /limit: must be <= 5000"},
		{"logs.tail", `{"limit":10,"cursor":0,"maxBytes":1000}`, ""},
		{"logs.tail", `{"cursor":-1}`, "at /cursor: must be >= 0"},
		{"logs.tail", `{"tail":1}`, "at root: unexpected property 'tail'"},
		{"logs.tail", ``, ""},
		{"system-event", `{}`, "must have required property 'text'"},
		{"system-event", `{"text":"hi","lastInputSeconds":1.5,"wake":true}`, ""},
		{"system-event", `{"text":"hi","lastInputSeconds":1e400}`, "at /lastInputSeconds: must be number"},
		{"system-event", `{"text":1}`, "at /text: must be string"},
		{"system-event", `{"text":"x","idempotencyKey":""}`, "at /idempotencyKey: must NOT have fewer than 1 characters"},
		{"health", `{"anything":1}`, ""},
		{"health", ``, ""},
		{"health", `{"probe":"yes"}`, "at /probe: must be boolean"},
		{"wake", `{"mode":"now"}`, "must have required property 'text'"},
		{"wake", `{"mode":"now","text":"hi","extra":true}`, ""},
		{"wake", `{"mode":"later","text":"hi"}`, "at /mode: must be equal to one of the allowed values"},
		{"wake", `{"text":"hi","mode":"now","agentId":""}`, "at /agentId: must NOT have fewer than 1 characters"},
		{"set-heartbeats", `{}`, "must have required property 'enabled'"},
		{"set-heartbeats", `{"enabled":false}`, ""},
		{"system-presence", `{}`, ""},
		{"system-presence", `{"x":1}`, "at root: unexpected property 'x'"},
		{"config.get", `{}`, ""},
		{"models.list", `{"view":"everything"}`, "at /view: must be equal to one of the allowed values"},
		{"models.list", `{"view":"all","refresh":true}`, ""},
		{"channels.status", `{"timeoutMs":-5}`, "at /timeoutMs: must be >= 0"},
		{"status", `[]`, "must be object"},
		{"no.such.method", `{"anything":1}`, ""},
		{"no.such.method", `not json`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.params, func(t *testing.T) {
			checkErr(t, v.ValidateParams(tc.method, []byte(tc.params)), tc.want)
		})
	}
	if err := v.ValidateParams("health", nil); err != nil {
		t.Fatalf("nil params: %v", err)
	}
}

func TestValidateShape(t *testing.T) {
	v := newTestValidator(t)
	tests := []struct {
		shape, doc, want string
	}{
		{"RequestFrame", `{"type":"req","id":"2:x","method":"health"}`, ""},
		{"RequestFrame", `{"type":"req","id":"1","method":"connect","params":{"a":[1]}}`, ""},
		{"RequestFrame", `{"type":"req","id":"1","method":"health","extra":1}`, "at root: unexpected property 'extra'"},
		{"RequestFrame", `{"type":"req","method":"health"}`, "must have required property 'id'"},
		{"RequestFrame", `{"type":"res","id":"1","method":"health"}`, "at /type: must be equal to one of the allowed values"},
		{"RequestFrame", `{"type":"req","id":"","method":"health"}`, "at /id: must NOT have fewer than 1 characters"},
		{"RequestFrame", `{"type":"req","id":"1","method":"m","traceparent":"` + strings.Repeat("0", 129) + `"}`, "at /traceparent: must NOT have more than 128 characters"},
		{"ResponseFrame", `{"type":"res","id":"1","ok":false,"error":{"code":"INVALID_REQUEST","message":"x","details":{"any":"thing"}}}`, ""},
		{"ResponseFrame", `{"type":"res","id":"1","ok":false,"error":{"code":"X"}}`, "at /error: must have required property 'message'"},
		{"EventFrame", `{"type":"event","event":"tick","payload":{"ts":1},"seq":3,"stateVersion":{"presence":1,"health":2}}`, ""},
		{"EventFrame", `{"type":"event","event":"tick","seq":-1}`, "at /seq: must be >= 0"},
		{"HeartbeatEvent", `{"ts":1,"status":"sent"}`, ""},
		{"StatusResult", `{}`, "must have required property 'runtimeVersion'"},
	}
	for _, tc := range tests {
		t.Run(tc.shape+" "+tc.doc, func(t *testing.T) {
			checkErr(t, v.ValidateShape(tc.shape, []byte(tc.doc)), tc.want)
		})
	}
	if err := v.ValidateShape("NoSuchShape", []byte(`{}`)); err == nil {
		t.Fatal("unknown shape passed")
	} else if _, ok := err.(*ValidationError); ok {
		t.Fatal("unknown shape reported as a ValidationError")
	}
}

// Every schema compiles, and the zero value of each Go type fails or passes
// consistently with its required fields (smoke test of all assets).
func TestAllSchemasCompile(t *testing.T) {
	v := newTestValidator(t)
	for m, e := range v.methods {
		if err := v.load(e); err != nil {
			t.Errorf("method %s: %v", m, err)
		}
	}
	for s, e := range v.shapes {
		if err := v.load(e); err != nil {
			t.Errorf("shape %s: %v", s, err)
		}
	}
}

func TestNewIsCheap(t *testing.T) {
	start := time.Now()
	const n = 100
	for range n {
		if _, err := New(); err != nil {
			t.Fatal(err)
		}
	}
	if per := time.Since(start) / n; per > time.Millisecond {
		t.Fatalf("New takes %v, want < 1ms", per)
	}
}

func TestConcurrent(t *testing.T) {
	v := newTestValidator(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := v.ValidateConnect([]byte(nodeHostConnect)); err != nil {
					t.Error(err)
					return
				}
				err := v.ValidateParams("logs.tail", []byte(`{"limit":0}`))
				if err == nil || err.Error() != "at /limit: must be >= 1" {
					t.Errorf("goroutine %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkValidateConnect(b *testing.B) {
	v := newTestValidator(b)
	params := []byte(nodeHostConnect)
	if err := v.ValidateConnect(params); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(params)))
	for b.Loop() {
		if err := v.ValidateConnect(params); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateConnectInvalid(b *testing.B) {
	v := newTestValidator(b)
	params := []byte(strings.Replace(nodeHostConnect, `"node-host"`, `"ios-node"`, 1))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.ValidateConnect(params); err == nil {
			b.Fatal("passed")
		}
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}
