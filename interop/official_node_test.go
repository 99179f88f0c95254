//go:build unix

package interop

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

// TestOfficialNodeHostAgainstPincer: the official `openclaw node run`
// pairs with a Pincer gateway (silently, it is local), waits for capability
// approval, and answers system.which and system.run invokes.
func TestOfficialNodeHostAgainstPincer(t *testing.T) {
	oc := interopTest(t)
	g := startPincer(t)
	u, _ := url.Parse(g.URL)
	out := &lockedBuffer{}
	stop := startOfficialNode(t, oc, t.TempDir(), u.Hostname(), u.Port(), g.Token, out)
	defer func() {
		stop()
		if t.Failed() {
			t.Logf("openclaw node run output:\n%s", tail(out.String(), 8000))
		}
	}()

	bin := buildPincer(t)
	pincer := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := runPincer(t, bin, append(args, "--url", g.URL, "--token", g.Token)...)
		if code != 0 {
			t.Fatalf("pincer %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout
	}

	// The node shows up pending capability approval in `pincer nodes list`.
	var row protocol.NodeRow
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var list struct {
			Nodes []protocol.NodeRow `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(pincer("nodes", "list", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Nodes) == 1 && list.Nodes[0].PendingRequestID != "" {
			row = list.Nodes[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("official node host did not appear pending: %+v", list.Nodes)
		}
	}
	if row.ClientID != "node-host" || row.ApprovalState != "pending-approval" || !contains(row.PendingDeclaredCommands, "system.run") {
		t.Fatalf("pending node row = %+v", row)
	}
	if table := pincer("nodes", "list"); !strings.Contains(table, row.PendingRequestID) {
		t.Fatalf("nodes list table lacks the pending request:\n%s", table)
	}
	// Its device was paired silently (it is local); its capabilities wait.
	if devs := pincer("devices", "list"); !strings.Contains(devs, row.NodeID[:12]) {
		t.Fatalf("devices list lacks the node's device:\n%s", devs)
	}
	pincer("nodes", "approve", row.NodeID[:12], "--yes")

	var w struct{ Bins map[string]string }
	res := pincer("nodes", "invoke", row.NodeID, "system.which", `{"bins":["sh","no-such-binary-xyz"]}`)
	if err := json.Unmarshal([]byte(res), &w); err != nil || !strings.HasSuffix(w.Bins["sh"], "/sh") || len(w.Bins) != 1 {
		t.Fatalf("pincer nodes invoke system.which = %s", res)
	}
	var r struct {
		ExitCode int
		Stdout   string
	}
	res = pincer("nodes", "invoke", row.NodeID, "system.run", `{"command":["echo","pincer-interop"]}`)
	if err := json.Unmarshal([]byte(res), &r); err != nil || r.ExitCode != 0 || r.Stdout != "pincer-interop\n" {
		t.Fatalf("pincer nodes invoke system.run = %s", res)
	}
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
