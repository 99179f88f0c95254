//go:build unix

package interop

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPincerNodeHostAgainstOfficialGateway: `pincer node run` connects to
// the official gateway, is approved with `openclaw nodes approve`, and
// `openclaw gateway call node.invoke` of system.which returns Pincer's
// answer.
func TestPincerNodeHostAgainstOfficialGateway(t *testing.T) {
	oc := interopTest(t)
	bin := buildPincer(t)
	g := officialGatewayFor(t, oc)
	startPincerNode(t, bin, "--url", g.URL, "--token", g.Token, "--display-name", "pincer-interop-node",
		"--exec-policy", "allowlist", "--exec-allow", "echo")
	conn := []string{"--url", g.URL, "--token", g.Token, "--json"}
	call := func(method string, params any) (any, string) {
		t.Helper()
		b, _ := json.Marshal(params)
		stdout, stderr, code := oc.Run(t, append([]string{"gateway", "call", method, "--params", string(b)}, conn...)...)
		if code != 0 {
			t.Fatalf("openclaw gateway call %s: exit %d\nstdout:\n%s\nstderr:\n%s", method, code, stdout, stderr)
		}
		return parseJSON(t, method, stdout, stderr), stdout
	}

	// Wait for the pending capability request of our node.
	var requestID, nodeID string
	deadline := time.Now().Add(60 * time.Second)
	for requestID == "" {
		v, raw := call("node.pair.list", map[string]any{})
		for _, p := range asList(field(v, "pending")) {
			if str(field(p, "displayName")) == "pincer-interop-node" {
				requestID, nodeID = str(field(p, "requestId")), str(field(p, "nodeId"))
			}
		}
		if requestID == "" {
			if time.Now().After(deadline) {
				t.Fatalf("pincer node did not appear in node.pair.list:\n%s", raw)
			}
			time.Sleep(time.Second)
		}
	}
	// `openclaw gateway call node.pair.approve` connects with operator.pairing
	// only, and the official gateway wants operator.admin to approve a node
	// that declares system.run/system.which (spec §4.3): the official CLI's
	// `nodes approve` asks for it.
	if stdout, stderr, code := oc.Run(t, "nodes", "approve", requestID, "--url", g.URL, "--token", g.Token, "--json"); code != 0 {
		t.Fatalf("openclaw nodes approve: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	v, raw := call("node.invoke", map[string]any{"nodeId": nodeID, "command": "system.which",
		"params": map[string]any{"bins": []string{"sh", "no-such-binary-xyz"}}, "idempotencyKey": "pincer-interop-which"})
	sh := str(field(v, "payload", "bins", "sh"))
	if !strings.HasSuffix(sh, "/sh") {
		t.Fatalf("node.invoke system.which through the official gateway: %s", raw)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
