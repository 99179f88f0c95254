//go:build unix

package interop

import (
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/agent/agenttest"
)

// TestOfficialAgentAgainstPincer: with OPENCLAW_GATEWAY_URL/TOKEN pointing
// at Pincer and a fake model behind it, `openclaw agent --message hi
// --json` prints the model's reply and chat.history shows the turn.
func TestOfficialAgentAgainstPincer(t *testing.T) {
	oc := interopTest(t)
	m, err := agenttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	state := t.TempDir()
	writeConfig(t, state, m.Config())
	g := startPincerIn(t, state)
	env := []string{"OPENCLAW_GATEWAY_URL=" + g.URL, "OPENCLAW_GATEWAY_TOKEN=" + g.Token}

	stdout, stderr, code := oc.RunWith(t, RunOptions{Env: env}, "agent", "--message", "hi", "--agent", "main", "--json")
	if code != 0 {
		t.Fatalf("openclaw agent: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	v := parseJSON(t, "agent", stdout, stderr)
	if !strings.Contains(stdout, "Hello from fake model. Echo: hi") || str(field(v, "status")) != "ok" {
		t.Fatalf("openclaw agent output:\n%s", stdout)
	}

	stdout, stderr, code = oc.Run(t, "gateway", "call", "chat.history", "--params", `{"sessionKey":"agent:main:main"}`,
		"--url", g.URL, "--token", g.Token, "--json")
	if code != 0 {
		t.Fatalf("chat.history: exit %d\n%s\n%s", code, stdout, stderr)
	}
	h := parseJSON(t, "chat.history", stdout, stderr)
	msgs, _ := field(h, "messages").([]any)
	if len(msgs) != 2 || str(field(msgs[0], "content")) != "hi" || str(field(msgs[1], "role")) != "assistant" {
		t.Fatalf("chat.history:\n%s", stdout)
	}
}
