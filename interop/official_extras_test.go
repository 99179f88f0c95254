//go:build unix

package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOfficialCLIExtrasAgainstPincer covers official CLI paths beyond
// `gateway call`, where the official gateway and Pincer were seen to differ.
func TestOfficialCLIExtrasAgainstPincer(t *testing.T) {
	oc := interopTest(t)
	g := startPincer(t)
	port := g.URL[strings.LastIndex(g.URL, ":")+1:]

	// `openclaw status --deep` reads the gateway port and token from its
	// config and makes one connection per call: health, system-presence
	// (probe, no scopes), status {includeChannelSummary:false,
	// includeCliProjection:true}, health {probe:true}, last-heartbeat.
	t.Run("status --deep", func(t *testing.T) {
		home := t.TempDir()
		cfg := fmt.Sprintf(`{"gateway":{"port":%s,"auth":{"mode":"token","token":%q}}}`, port, g.Token)
		if err := os.MkdirAll(filepath.Join(home, ".openclaw"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".openclaw", "openclaw.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := oc.RunWith(t, RunOptions{Home: home}, "status", "--deep", "--json")
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("openclaw status --deep: exit %d", code)
		}
		st := asObject(t, "status --deep", parseJSON(t, "status --deep", stdout, stderr), stdout)
		if field(st, "gateway", "reachable") != true {
			t.Errorf("gateway.reachable = %v, want true", field(st, "gateway", "reachable"))
		}
		if e := field(st, "gateway", "error"); e != nil {
			t.Errorf("gateway.error = %v, want null (as against the official gateway)", e)
		}
		if field(st, "health", "ok") != true {
			t.Errorf("health.ok = %v, want true", field(st, "health", "ok"))
		}
		if str(st["runtimeVersion"]) == "" {
			t.Errorf("runtimeVersion = %v, want the gateway's version (the status call failed?)", st["runtimeVersion"])
		}
		notCollected, _ := field(st, "collection", "notCollected").([]any)
		for _, n := range notCollected {
			if r := str(field(n, "reason")); strings.Contains(r, "invalid") || strings.Contains(r, "missing scope") {
				t.Errorf("collection.notCollected: %v: %s", field(n, "fields"), r)
			}
		}
	})

	t.Run("health summary", func(t *testing.T) {
		stdout, stderr, code := oc.RunWith(t, RunOptions{Env: []string{
			"OPENCLAW_GATEWAY_URL=" + g.URL, "OPENCLAW_GATEWAY_TOKEN=" + g.Token,
		}}, "health")
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("openclaw health: exit %d", code)
		}
		if !strings.Contains(stdout, "Agents: main (default)") {
			t.Errorf("openclaw health: no \"Agents: main (default)\" line")
		}
		// health.configReload.hotReloadStatus "disabled" makes the official CLI
		// print "Config hot reload: disabled (watcher retries exhausted; restart
		// the gateway to restore it)", which is not what happened.
		for _, line := range strings.Split(stdout, "\n") {
			if strings.Contains(line, "watcher retries exhausted") {
				t.Errorf("openclaw health prints a misleading line: %q", strings.TrimSpace(line))
			}
		}
	})

	// The official gateway only shows filesystem paths in status to admin
	// connections: sessions.byAgent[].path is "[redacted]" for operator.read.
	t.Run("status redacts paths for read scope", func(t *testing.T) {
		stdout, stderr, code := oc.Run(t, "gateway", "call", "status", "--url", g.URL, "--token", g.Token, "--json")
		defer failDump(t, stdout, stderr)
		if code != 0 {
			t.Fatalf("openclaw gateway call status: exit %d", code)
		}
		st := asObject(t, "status", parseJSON(t, "status", stdout, stderr), stdout)
		byAgent, _ := field(st, "sessions", "byAgent").([]any)
		for i, a := range byAgent {
			if p := field(a, "path"); p != nil && p != "[redacted]" {
				t.Errorf("status.sessions.byAgent[%d].path = %v for an operator.read connection, want \"[redacted]\"", i, p)
			}
		}
	})
}
