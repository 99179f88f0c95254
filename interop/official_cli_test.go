//go:build unix

package interop

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOfficialCLIAgainstPincer runs the official OpenClaw CLI against an
// in-process Pincer gateway.
func TestOfficialCLIAgainstPincer(t *testing.T) {
	oc := interopTest(t)
	g := startPincer(t)
	conn := []string{"--url", g.URL, "--token", g.Token, "--json"}
	call := func(t *testing.T, method string, extra ...string) (any, string, string) {
		t.Helper()
		args := append([]string{"gateway", "call", method}, extra...)
		stdout, stderr, code := oc.Run(t, append(args, conn...)...)
		if code != 0 {
			t.Fatalf("openclaw gateway call %s: exit %d\nstdout:\n%s\nstderr:\n%s", method, code, stdout, stderr)
		}
		return parseJSON(t, method, stdout, stderr), stdout, stderr
	}

	t.Run("gateway call health", func(t *testing.T) {
		v, stdout, stderr := call(t, "health")
		defer failDump(t, stdout, stderr)
		h := asObject(t, "health", v, stdout)
		if h["ok"] != true {
			t.Errorf("health: ok = %v, want true", h["ok"])
		}
		if _, ok := h["ts"].(json.Number); !ok {
			t.Errorf("health: ts = %v, want a number", h["ts"])
		}
	})

	t.Run("gateway call status", func(t *testing.T) {
		v, stdout, stderr := call(t, "status")
		defer failDump(t, stdout, stderr)
		st := asObject(t, "status", v, stdout)
		if str(st["runtimeVersion"]) == "" {
			t.Errorf("status: runtimeVersion = %v, want a non-empty string", st["runtimeVersion"])
		}
	})

	t.Run("gateway call system-presence", func(t *testing.T) {
		v, stdout, stderr := call(t, "system-presence")
		defer failDump(t, stdout, stderr)
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			t.Fatalf("system-presence: want a non-empty JSON array, got %T", v)
		}
		self := asObject(t, "system-presence[0]", list[0], stdout)
		if self["mode"] != "gateway" || self["reason"] != "self" {
			t.Errorf("system-presence[0]: mode=%v reason=%v, want gateway/self", self["mode"], self["reason"])
		}
		if _, ok := self["ts"].(json.Number); !ok {
			t.Errorf("system-presence[0].ts = %v, want a number", self["ts"])
		}
		// cli/backend/probe connections are ephemeral: never listed (as the official gateway does).
		for i, e := range list[1:] {
			switch m := str(field(e, "mode")); m {
			case "cli", "backend", "probe":
				t.Errorf("system-presence[%d]: ephemeral %q connection listed: %v", i+1, m, e)
			}
		}
	})

	t.Run("gateway probe", func(t *testing.T) {
		stdout, stderr, code := oc.Run(t, "gateway", "probe", "--url", g.URL, "--token", g.Token, "--json")
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("openclaw gateway probe: exit %d", code)
		}
		p := asObject(t, "probe", parseJSON(t, "probe", stdout, stderr), stdout)
		if p["ok"] != true {
			t.Errorf("probe: ok = %v, want true", p["ok"])
		}
		var target map[string]any
		targets, _ := p["targets"].([]any)
		for _, x := range targets {
			if field(x, "id") == "explicit" {
				target, _ = x.(map[string]any)
			}
		}
		if target == nil {
			t.Fatalf("probe: no target with id \"explicit\" in %d targets", len(targets))
		}
		if str(target["url"]) != g.URL {
			t.Errorf("probe target url = %v, want %s", target["url"], g.URL)
		}
		if field(target, "connect", "ok") != true {
			t.Errorf("probe: connect.ok = %v (error %v), want true", field(target, "connect", "ok"), field(target, "connect", "error"))
		}
		// The probe connects with client.mode "probe" and no device: like the
		// official gateway, Pincer grants it no scopes.
		if c := str(field(target, "auth", "capability")); c != "connected_no_operator_scope" {
			t.Errorf("probe: auth.capability = %q, want connected_no_operator_scope (as against the official gateway)", c)
		}
		if r := field(target, "auth", "role"); r != "operator" {
			t.Errorf("probe: auth.role = %v, want operator", r)
		}
		if str(field(target, "server", "version")) == "" || str(field(target, "server", "connId")) == "" {
			t.Errorf("probe: server = %v, want version and connId", field(target, "server"))
		}
	})

	t.Run("health via OPENCLAW_GATEWAY_URL", func(t *testing.T) {
		stdout, stderr, code := oc.RunWith(t, RunOptions{Env: []string{
			"OPENCLAW_GATEWAY_URL=" + g.URL, "OPENCLAW_GATEWAY_TOKEN=" + g.Token,
		}}, "health", "--json")
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("openclaw health: exit %d", code)
		}
		h := asObject(t, "health", parseJSON(t, "health", stdout, stderr), stdout)
		if h["ok"] != true {
			t.Errorf("health: ok = %v, want true", h["ok"])
		}
	})

	t.Run("gateway call config.get", func(t *testing.T) {
		v, stdout, stderr := call(t, "config.get")
		defer failDump(t, stdout, stderr)
		c := asObject(t, "config.get", v, stdout)
		for _, k := range []string{"path", "exists", "valid", "hash", "config", "issues"} {
			if _, ok := c[k]; !ok {
				t.Errorf("config.get: no %q field", k)
			}
		}
		if h := str(c["hash"]); h == "" {
			t.Errorf("config.get: hash = %v, want a string", c["hash"])
		}
	})

	t.Run("gateway call logs.tail", func(t *testing.T) {
		v, stdout, stderr := call(t, "logs.tail", "--params", `{"limit":5}`)
		defer failDump(t, stdout, stderr)
		l := asObject(t, "logs.tail", v, stdout)
		if str(l["file"]) == "" {
			t.Errorf("logs.tail: file = %v, want a path", l["file"])
		}
		for _, k := range []string{"cursor", "size"} {
			if _, ok := l[k].(json.Number); !ok {
				t.Errorf("logs.tail: %s = %v, want a number", k, l[k])
			}
		}
		lines, ok := l["lines"].([]any)
		if !ok {
			t.Fatalf("logs.tail: lines = %v, want an array", l["lines"])
		}
		if len(lines) > 5 {
			t.Errorf("logs.tail: %d lines, want at most 5 (limit)", len(lines))
		}
		for i, x := range lines {
			s, ok := x.(string)
			if !ok || !json.Valid([]byte(s)) {
				t.Errorf("logs.tail: lines[%d] = %v, want a JSON record string", i, x)
			}
		}
	})

	// Last: a failed shared-secret attempt slows the next ones from loopback.
	t.Run("gateway call with a wrong token", func(t *testing.T) {
		stdout, stderr, code := oc.Run(t, "gateway", "call", "health", "--url", g.URL, "--token", "wrong", "--json")
		defer failDump(t, stdout, stderr)
		if code == 0 {
			t.Fatalf("openclaw gateway call with a wrong token: exit 0, want failure")
		}
		// Against the official gateway the CLI prints (exit 1)
		//   stdout: {"ok":false,"error":{"type":"gateway_request_error","code":"INVALID_REQUEST",
		//            "message":"unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)",
		//            "details":{"code":"AUTH_TOKEN_MISMATCH","authReason":"token_mismatch","canRetryWithDeviceToken":false,
		//                       "recommendedNextStep":"update_auth_credentials"},"retryable":false}}
		//   stderr: gateway connect failed: GatewayClientRequestError: unauthorized: gateway token mismatch (…)
		r := asObject(t, "wrong token", parseJSON(t, "wrong token", stdout, stderr), stdout)
		if r["ok"] != false {
			t.Errorf("ok = %v, want false", r["ok"])
		}
		if c := field(r, "error", "code"); c != "INVALID_REQUEST" {
			t.Errorf("error.code = %v, want INVALID_REQUEST", c)
		}
		if c := field(r, "error", "details", "code"); c != "AUTH_TOKEN_MISMATCH" {
			t.Errorf("error.details.code = %v, want AUTH_TOKEN_MISMATCH", c)
		}
		if c := field(r, "error", "details", "authReason"); c != "token_mismatch" {
			t.Errorf("error.details.authReason = %v, want token_mismatch", c)
		}
		if c := field(r, "error", "details", "recommendedNextStep"); c != "update_auth_credentials" {
			t.Errorf("error.details.recommendedNextStep = %v, want update_auth_credentials", c)
		}
		if m := str(field(r, "error", "message")); !strings.Contains(m, "gateway token mismatch") {
			t.Errorf("error.message = %q, want it to mention the gateway token mismatch", m)
		}
		if !strings.Contains(stderr, "gateway token mismatch") {
			t.Errorf("stderr does not mention the gateway token mismatch")
		}
	})
}
