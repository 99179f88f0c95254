//go:build unix

package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/channels/telegram/telegramtest"
)

// TestOfficialChannelsAgainstPincer: the official CLI reads Pincer's
// channel status and sends a Telegram message and a reaction through it
// (`openclaw message send|react` call message.action).
func TestOfficialChannelsAgainstPincer(t *testing.T) {
	oc := interopTest(t)
	m, err := agenttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tg := telegramtest.New(t, "31337:interop-token")
	state := t.TempDir()
	writeConfig(t, state, strings.TrimSuffix(strings.TrimSpace(m.Config()), "}")+
		fmt.Sprintf(`, channels: {telegram: {botToken: %q, apiRoot: %q}}}`, tg.Token(), tg.URL()))
	g := startPincerIn(t, state)
	env := []string{"OPENCLAW_GATEWAY_URL=" + g.URL, "OPENCLAW_GATEWAY_TOKEN=" + g.Token}

	// The account connects (getMe, long polling) in the background.
	deadline := time.Now().Add(20 * time.Second)
	var stdout, stderr string
	var code int
	for {
		stdout, stderr, code = oc.RunWith(t, RunOptions{Env: env}, "channels", "status", "--json")
		if code == 0 && strings.Contains(stdout, `"healthState": "healthy"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code != 0 {
		t.Fatalf("openclaw channels status: exit %d\n%s\n%s", code, stdout, stderr)
	}
	v := parseJSON(t, "channels status", stdout, stderr)
	accts, _ := field(v, "channelAccounts", "telegram").([]any)
	if len(accts) != 1 || field(accts[0], "connected") != true || str(field(accts[0], "healthState")) != "healthy" {
		t.Fatalf("channels status:\n%s", stdout)
	}
	stdout, stderr, code = oc.RunWith(t, RunOptions{Env: env}, "channels", "status")
	if code != 0 || !strings.Contains(stdout, "Telegram default") || !strings.Contains(stdout, "connected") {
		t.Fatalf("openclaw channels status (text): exit %d\n%s\n%s", code, stdout, stderr)
	}

	stdout, stderr, code = oc.RunWith(t, RunOptions{Env: env}, "message", "send", "--channel", "telegram", "--target", "555",
		"--message", "**hello** from the official CLI")
	if code != 0 {
		t.Fatalf("openclaw message send: exit %d\n%s\n%s", code, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sent, err := tg.WaitSent(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].ChatID != "555" || !strings.Contains(sent[0].Text, "<b>hello</b> from the official CLI") {
		t.Fatalf("telegram got %+v", sent[0])
	}
	if !strings.Contains(stdout, fmt.Sprint(sent[0].MessageID)) {
		t.Fatalf("message send output lacks the message id %d:\n%s", sent[0].MessageID, stdout)
	}

	stdout, stderr, code = oc.RunWith(t, RunOptions{Env: env}, "message", "react", "--channel", "telegram", "--target", "555",
		"--message-id", fmt.Sprint(sent[0].MessageID), "--emoji", "👍")
	if code != 0 {
		t.Fatalf("openclaw message react: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if rs := tg.Reactions(); len(rs) != 1 || rs[0].Emoji != "👍" || rs[0].MessageID != sent[0].MessageID {
		t.Fatalf("reactions = %+v\n%s", rs, stdout)
	}
}
