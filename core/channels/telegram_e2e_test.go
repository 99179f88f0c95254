package channels_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/telegram/telegramtest"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/secrets"
)

func waitTG(t *testing.T, tg *telegramtest.Server, n int) []telegramtest.SentMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent, err := tg.WaitSent(ctx, n)
	if err != nil {
		t.Fatalf("telegram sends: %v (got %+v)", err, tg.Sent())
	}
	return sent
}

// A Telegram user pairs, talks to the agent through the real gateway, and
// a restart neither loses nor repeats anything.
func TestTelegramRoundTrip(t *testing.T) {
	m := startModel(t)
	m.SetReply(func(last string) string { return "**Hello** from the agent: " + last })
	tg := telegramtest.New(t, "123456:test-token")
	tg.RetainConfirmed() // only Pincer's stored offset prevents reprocessing
	state := t.TempDir()
	cfg := gatewayConfig(m, fmt.Sprintf(`channels: {telegram: {botToken: %q, apiRoot: %q}},
  messages: {inbound: {debounceMs: 0}}, session: {dmScope: "per-channel-peer"}`, tg.Token(), tg.URL()))
	g := daemontest.StartIn(t, state, daemon.Options{}, cfg)
	c := g.Dial(t, protocol.CLIDefaultScopes...)

	tg.UserText(555, 555, "alice", "hi bot")
	sent := waitTG(t, tg, 1)
	if sent[0].ChatID != "555" || !strings.Contains(sent[0].Text, "Pairing code") {
		t.Fatalf("pairing reply = %+v", sent[0])
	}
	if m.Calls() != 0 {
		t.Fatal("an unpaired sender reached the agent")
	}
	list := call(t, c, "channels.pairing.list", map[string]any{"channel": "telegram"})
	req := list["requests"].([]any)[0].(map[string]any)
	if req["metadata"].(map[string]any)["username"] != "alice" {
		t.Fatalf("request = %v", req)
	}
	call(t, c, "channels.pairing.approve", map[string]any{"channel": "telegram", "accountId": "default", "requestId": req["requestId"]})

	tg.UserText(555, 555, "alice", "what time is it?")
	sent = waitTG(t, tg, 2)
	reply := sent[1]
	if reply.ChatID != "555" || reply.ParseMode != "HTML" || !strings.Contains(reply.Text, "<b>Hello</b> from the agent: what time is it?") {
		t.Fatalf("reply = %+v", reply)
	}
	for deadline := time.Now().Add(5 * time.Second); len(tg.Actions()) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if len(tg.Actions()) == 0 || tg.Actions()[0].Action != "typing" {
		t.Fatalf("no typing indicator: %+v", tg.Actions())
	}
	key := "agent:main:telegram:direct:555"
	hist := call(t, c, "chat.history", map[string]any{"sessionKey": key})
	if n := len(hist["messages"].([]any)); n != 2 {
		t.Fatalf("history of %s = %v", key, hist)
	}
	st := call(t, c, "channels.status", map[string]any{"channel": "telegram", "probe": true})
	acct := st["channelAccounts"].(map[string]any)["telegram"].([]any)[0].(map[string]any)
	if acct["healthState"] != "healthy" || acct["connected"] != true {
		t.Fatalf("telegram status = %v", acct)
	}
	tele := st["channels"].(map[string]any)["telegram"].(map[string]any)
	if tele["tokenSource"] != "config" || tele["probe"].(map[string]any)["ok"] != true {
		t.Fatalf("telegram summary = %v", tele)
	}

	// send goes out through the same account, once per idempotency key.
	r := call(t, c, "send", map[string]any{"channel": "telegram", "to": "555", "message": "a note", "idempotencyKey": "n1"})
	call(t, c, "send", map[string]any{"channel": "telegram", "to": "555", "message": "a note", "idempotencyKey": "n1"})
	if r["messageId"] == "" || r["chatId"] != "555" || len(tg.Sent()) != 3 {
		t.Fatalf("send = %v, sent %d", r, len(tg.Sent()))
	}

	// Restart: Telegram would hand the old updates again from offset 0;
	// the stored offset skips them.
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	calls := m.Calls()
	g2 := daemontest.StartIn(t, state, daemon.Options{}, cfg)
	tg.UserText(555, 555, "alice", "after restart")
	sent = waitTG(t, tg, 4)
	if !strings.Contains(sent[3].Text, "after restart") {
		t.Fatalf("after restart = %+v", sent[3])
	}
	time.Sleep(300 * time.Millisecond)
	if len(tg.Sent()) != 4 || m.Calls() != calls+1 {
		t.Fatalf("restart reprocessed updates: sent %d, model calls %d (was %d)", len(tg.Sent()), m.Calls(), calls)
	}
	_ = g2
}

// Group messages need a mention; replies quote the message in its topic.
func TestTelegramGroupMention(t *testing.T) {
	m := startModel(t)
	tg := telegramtest.New(t, "777:group-token")
	cfg := gatewayConfig(m, fmt.Sprintf(`channels: {telegram: {botToken: %q, apiRoot: %q, groupPolicy: "open",
  groupAllowFrom: ["*"]}}, messages: {inbound: {debounceMs: 0}}`, tg.Token(), tg.URL()))
	daemontest.Start(t, daemon.Options{}, cfg)
	bot := tg.Bot()
	group := models.Chat{ID: -100200, Type: models.ChatTypeSupergroup, Title: "Team", IsForum: true}
	from := &models.User{ID: 9, FirstName: "Bob", Username: "bob"}
	tg.AddUpdate(models.Update{Message: &models.Message{ID: 50, Date: int(time.Now().Unix()), Chat: group, From: from,
		Text: "chatting among ourselves", MessageThreadID: 3, IsTopicMessage: true}})
	mention := "@" + bot.Username + " summarise please"
	tg.AddUpdate(models.Update{Message: &models.Message{ID: 51, Date: int(time.Now().Unix()), Chat: group, From: from,
		Text: mention, MessageThreadID: 3, IsTopicMessage: true,
		Entities: []models.MessageEntity{{Type: models.MessageEntityTypeMention, Offset: 0, Length: len(bot.Username) + 1}}}})
	sent := waitTG(t, tg, 1)
	if sent[0].ChatID != "-100200" || sent[0].ThreadID != 3 || sent[0].ReplyTo != 51 || !strings.Contains(sent[0].Text, "summarise please") {
		t.Fatalf("group reply = %+v", sent[0])
	}
	time.Sleep(300 * time.Millisecond)
	if m.Calls() != 1 || len(tg.Sent()) != 1 {
		t.Fatalf("unmentioned message answered: calls %d, sent %d", m.Calls(), len(tg.Sent()))
	}
}

// The agent reacts to the message it answers through the message tool.
func TestTelegramReactionFromAgent(t *testing.T) {
	m := startModel(t)
	m.SetScript(func(req map[string]any) agenttest.Turn {
		if agenttest.LastMessage(req)["role"] == "tool" {
			return agenttest.Turn{Text: "reacted"}
		}
		return agenttest.Turn{ToolCalls: []agenttest.ToolCall{{ID: "r1", Name: "message", Args: `{"react":"👍"}`}}}
	})
	tg := telegramtest.New(t, "888:react-token")
	cfg := gatewayConfig(m, fmt.Sprintf(`channels: {telegram: {botToken: %q, apiRoot: %q, dmPolicy: "allowlist", allowFrom: ["tg:42"]}},
  messages: {inbound: {debounceMs: 0}}`, tg.Token(), tg.URL()))
	daemontest.Start(t, daemon.Options{}, cfg)
	tg.UserText(42, 42, "carol", "nice work")
	sent := waitTG(t, tg, 1)
	if sent[0].Text != "reacted" {
		t.Fatalf("reply = %+v", sent[0])
	}
	rs := tg.Reactions()
	if len(rs) != 1 || rs[0].Emoji != "👍" || rs[0].ChatID != "42" || rs[0].MessageID == 0 {
		t.Fatalf("reactions = %+v", rs)
	}
}

// In webhook mode Telegram posts updates to the gateway's own port; the
// secret token is checked and the update is committed before the 200.
func TestTelegramWebhookOnGatewayPort(t *testing.T) {
	m := startModel(t)
	tg := telegramtest.New(t, "999:hook-token")
	cfg := gatewayConfig(m, fmt.Sprintf(`channels: {telegram: {botToken: %q, apiRoot: %q, dmPolicy: "open", allowFrom: ["*"],
  webhookUrl: "https://bot.example.com/telegram-webhook", webhookSecret: "s3cret-token"}}, messages: {inbound: {debounceMs: 0}}`,
		tg.Token(), tg.URL()))
	g := daemontest.Start(t, daemon.Options{}, cfg)
	deadline := time.Now().Add(10 * time.Second)
	for tg.Webhook()["url"] == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if tg.Webhook()["url"] != "https://bot.example.com/telegram-webhook" || tg.Webhook()["secret_token"] != "s3cret-token" {
		t.Fatalf("setWebhook = %v", tg.Webhook())
	}
	update := `{"update_id": 1001, "message": {"message_id": 5, "date": 1700000000, "chat": {"id": 321, "type": "private"},
  "from": {"id": 321, "is_bot": false, "first_name": "Dan"}, "text": "via webhook"}}`
	post := func(secret string) int {
		req, _ := http.NewRequest(http.MethodPost, g.HTTP+"/telegram-webhook", strings.NewReader(update))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := post("s3cret-token"); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	if code := post("s3cret-token"); code != http.StatusOK { // Telegram retries
		t.Fatalf("webhook retry: %d", code)
	}
	sent := waitTG(t, tg, 1)
	if sent[0].ChatID != "321" || !strings.Contains(sent[0].Text, "via webhook") {
		t.Fatalf("reply = %+v", sent[0])
	}
	time.Sleep(300 * time.Millisecond)
	if len(tg.Sent()) != 1 || m.Calls() != 1 {
		t.Fatalf("duplicate update processed: sent %d, calls %d", len(tg.Sent()), m.Calls())
	}
}

// The token stored by `pincer channels login telegram` (the secret store)
// is picked up by channels.start without a restart; logout forgets it.
func TestTelegramTokenFromSecretStore(t *testing.T) {
	t.Setenv("PINCER_SECRETS_BACKEND", "file")
	m := startModel(t)
	tg := telegramtest.New(t, "4242:stored-token")
	state := t.TempDir()
	cfg := gatewayConfig(m, fmt.Sprintf(`channels: {telegram: {apiRoot: %q}}`, tg.URL()))
	g := daemontest.StartIn(t, state, daemon.Options{}, cfg)
	c := g.Dial(t, protocol.CLIDefaultScopes...)
	st := call(t, c, "channels.status", map[string]any{"channel": "telegram"})
	acct := st["channelAccounts"].(map[string]any)["telegram"].([]any)[0].(map[string]any)
	if acct["healthState"] != "misconfigured" || !strings.Contains(fmt.Sprint(acct["lastError"]), "pincer channels login telegram") {
		t.Fatalf("without a token: %v", acct)
	}
	store, err := secrets.Open(state, "ai.pincer.default")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Set(channel.SecretKey("telegram", "default", "botToken"), tg.Token()); err != nil {
		t.Fatal(err)
	}
	call(t, c, "channels.start", map[string]any{"channel": "telegram"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		st = call(t, c, "channels.status", map[string]any{"channel": "telegram"})
		acct = st["channelAccounts"].(map[string]any)["telegram"].([]any)[0].(map[string]any)
		if acct["connected"] == true || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if acct["connected"] != true || st["channels"].(map[string]any)["telegram"].(map[string]any)["tokenSource"] != "secrets" {
		t.Fatalf("after login: %v / %v", acct, st["channels"])
	}
	call(t, c, "channels.logout", map[string]any{"channel": "telegram"})
	if _, err := store.Get(channel.SecretKey("telegram", "default", "botToken")); err == nil {
		t.Fatal("logout kept the stored token")
	}
}

// A channel whose credentials exist outside the config runs without a
// channels block.
func TestImplicitChannel(t *testing.T) {
	t.Setenv("FAKE_IMPLICIT", "1")
	m := startModel(t)
	k := newFakeChat()
	kind := k.kind()
	kind.Implicit = func(env channel.Env) bool { return env.Getenv("FAKE_IMPLICIT") == "1" }
	g := daemontest.Start(t, daemon.Options{ChannelKinds: []channel.Kind{kind}}, gatewayConfig(m, `session: {}`))
	k.account(t, "default")
	c := g.Dial(t, protocol.CLIDefaultScopes...)
	st := call(t, c, "channels.status", map[string]any{})
	if st["channelDefaultAccountId"].(map[string]any)["fake"] != "default" {
		t.Fatalf("status = %v", st)
	}
}
