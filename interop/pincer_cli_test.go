//go:build unix

package interop

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPincerCLIAgainstOfficialGateway runs Pincer's CLI (./macapp) against
// the official OpenClaw gateway.
func TestPincerCLIAgainstOfficialGateway(t *testing.T) {
	oc := interopTest(t)
	g := officialGatewayFor(t, oc)
	bin := buildPincer(t)
	conn := []string{"--url", g.URL, "--token", g.Token}

	t.Run("health", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, append([]string{"health", "--json"}, conn...)...)
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("pincer health: exit %d", code)
		}
		h := asObject(t, "health", parseJSON(t, "health", stdout, stderr), stdout)
		if h["ok"] != true {
			t.Errorf("health: ok = %v, want true", h["ok"])
		}
		if str(h["defaultAgentId"]) == "" {
			t.Errorf("health: defaultAgentId = %v, want the official gateway's snapshot", h["defaultAgentId"])
		}
	})

	t.Run("health summary", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, append([]string{"health"}, conn...)...)
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("pincer health: exit %d", code)
		}
		// The official gateway reports itself DEGRADED while its event loop
		// is short of CPU (a busy CI box); both are a healthy answer.
		ok := strings.Contains(stdout, "Gateway OK  "+g.URL) ||
			(strings.Contains(stdout, "Gateway DEGRADED  "+g.URL) && strings.Contains(stdout, "Event loop  degraded"))
		if !ok {
			t.Errorf("pincer health: want a \"Gateway OK  %s\" summary (or DEGRADED with the event-loop reason)", g.URL)
		}
	})

	t.Run("status", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, append([]string{"status", "--json"}, conn...)...)
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("pincer status: exit %d", code)
		}
		st := asObject(t, "status", parseJSON(t, "status", stdout, stderr), stdout)
		if v := str(st["runtimeVersion"]); v != OpenClawVersion {
			t.Errorf("status: runtimeVersion = %q, want %s (the official gateway)", v, OpenClawVersion)
		}
	})

	t.Run("call system-presence", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, append([]string{"call", "system-presence"}, conn...)...)
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("pincer call system-presence: exit %d", code)
		}
		list, ok := parseJSON(t, "system-presence", stdout, stderr).([]any)
		if !ok || len(list) == 0 {
			t.Fatalf("system-presence: want a non-empty JSON array")
		}
		if m, r := field(list[0], "mode"), field(list[0], "reason"); m != "gateway" || r != "self" {
			t.Errorf("system-presence[0]: mode=%v reason=%v, want gateway/self", m, r)
		}
		if v := str(field(list[0], "version")); v != OpenClawVersion {
			t.Errorf("system-presence[0].version = %q, want %s", v, OpenClawVersion)
		}
	})

	t.Run("call logs.tail", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, append([]string{"call", "logs.tail", "--params", `{"limit":5}`}, conn...)...)
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("pincer call logs.tail: exit %d", code)
		}
		l := asObject(t, "logs.tail", parseJSON(t, "logs.tail", stdout, stderr), stdout)
		lines, ok := l["lines"].([]any)
		if !ok || len(lines) > 5 {
			t.Errorf("logs.tail: lines = %v, want an array of at most 5", l["lines"])
		}
		if _, ok := l["cursor"].(json.Number); !ok {
			t.Errorf("logs.tail: cursor = %v, want a number", l["cursor"])
		}
	})

	t.Run("logs --json", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, append([]string{"logs", "-n", "5", "--json"}, conn...)...)
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("pincer logs: exit %d", code)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) == 0 || len(lines) > 5 || lines[0] == "" {
			t.Fatalf("pincer logs -n 5: %d lines, want 1..5", len(lines))
		}
		for i, l := range lines {
			if !json.Valid([]byte(l)) {
				t.Errorf("pincer logs --json: line %d is not JSON: %.200s", i, l)
			}
		}
	})

	t.Run("call config.get", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, append([]string{"call", "config.get"}, conn...)...)
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("pincer call config.get: exit %d", code)
		}
		c := asObject(t, "config.get", parseJSON(t, "config.get", stdout, stderr), stdout)
		if !strings.HasPrefix(str(c["hash"]), "hmac-sha256:") {
			t.Errorf("config.get: hash = %v, want hmac-sha256:…", c["hash"])
		}
	})

	t.Run("call unknown method", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, append([]string{"call", "no.such.method"}, conn...)...)
		defer failDump(t, stdout, stderr)
		if code == 0 {
			t.Fatalf("pincer call no.such.method: exit 0, want failure")
		}
		if !strings.Contains(stdout+stderr, "unknown method") {
			t.Errorf("want the gateway's \"unknown method: no.such.method\" error in the output")
		}
	})

	// Last: a failed shared-secret attempt slows the next ones from loopback.
	t.Run("health with a wrong token", func(t *testing.T) {
		stdout, stderr, code := runPincer(t, bin, "health", "--json", "--url", g.URL, "--token", "wrong")
		defer failDump(t, stdout, stderr)
		if code == 0 {
			t.Fatalf("pincer health with a wrong token: exit 0, want failure")
		}
		if !strings.Contains(stdout+stderr, "token mismatch") {
			t.Errorf("pincer health with a wrong token: output does not mention the token mismatch")
		}
	})
}
