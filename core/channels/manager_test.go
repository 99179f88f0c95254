package channels_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// fakeChat is a channel kind whose accounts are in-process: tests deliver
// inbound messages and read what the gateway sent.
type fakeChat struct {
	mu       sync.Mutex
	accounts map[string]*fakeAccount
	changed  chan struct{}
}

func newFakeChat() *fakeChat {
	return &fakeChat{accounts: map[string]*fakeAccount{}, changed: make(chan struct{}, 1)}
}

type fakeAccount struct {
	k       *fakeChat
	id      string
	mu      sync.Mutex
	h       channel.Handler
	ctx     context.Context
	sent    []channel.Outbound
	typing  int
	nextID  int
	sendErr error
}

func (k *fakeChat) kind() channel.Kind {
	return channel.Kind{ID: "fake", Label: "Fake", DetailLabel: "Fake chat", New: func(_ channel.Env, a channel.AccountConfig) (channel.Plugin, error) {
		if tok, _ := a.Raw["token"].(string); tok == "bad" {
			return nil, fmt.Errorf("channels.fake.token is invalid")
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		acc := &fakeAccount{k: k, id: a.AccountID}
		k.accounts[a.AccountID] = acc
		return acc, nil
	}}
}

func (k *fakeChat) notify() {
	select {
	case k.changed <- struct{}{}:
	default:
	}
}

// account waits for an account to be running.
func (k *fakeChat) account(t testing.TB, id string) *fakeAccount {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		k.mu.Lock()
		a := k.accounts[id]
		k.mu.Unlock()
		if a != nil {
			a.mu.Lock()
			ok := a.h != nil
			a.mu.Unlock()
			if ok {
				return a
			}
		}
		select {
		case <-k.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("fake account %s not started", id)
		}
	}
}

func (a *fakeAccount) Start(ctx context.Context, h channel.Handler) error {
	a.mu.Lock()
	a.h, a.ctx = h, ctx
	a.mu.Unlock()
	a.k.notify()
	<-ctx.Done()
	a.mu.Lock()
	a.h = nil
	a.mu.Unlock()
	return nil
}

func (a *fakeAccount) Send(_ context.Context, msg channel.Outbound) (channel.Delivery, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sendErr != nil {
		err := a.sendErr
		a.sendErr = nil
		return channel.Delivery{}, err
	}
	a.sent = append(a.sent, msg)
	a.nextID++
	a.k.notify()
	return channel.Delivery{MessageID: fmt.Sprint(a.nextID), ChatID: msg.To.ID}, nil
}

func (a *fakeAccount) Typing(context.Context, channel.Peer) error {
	a.mu.Lock()
	a.typing++
	a.mu.Unlock()
	return nil
}

func (a *fakeAccount) Status() channel.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return channel.Status{Configured: true, Running: a.h != nil, Connected: a.h != nil, Linked: true, Mode: "fake"}
}

func (a *fakeAccount) TextLimit() int { return 4096 }

// deliver hands an inbound message to the gateway (as a platform would).
func (a *fakeAccount) deliver(t *testing.T, in channel.Inbound) { a.deliverTB(t, in) }

func (a *fakeAccount) deliverTB(t testing.TB, in channel.Inbound) {
	t.Helper()
	a.mu.Lock()
	h, ctx := a.h, a.ctx
	a.mu.Unlock()
	if h == nil {
		t.Fatal("account not running")
	}
	if in.Peer.Kind == "" {
		in.Peer.Kind = channel.PeerDirect
	}
	if in.Peer.ID == "" {
		in.Peer.ID = in.Sender.ID
	}
	h(ctx, in)
}

// waitSent waits until n messages were sent and returns them.
func (a *fakeAccount) waitSent(t *testing.T, n int) []channel.Outbound {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		a.mu.Lock()
		got := append([]channel.Outbound(nil), a.sent...)
		a.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-a.k.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("sent %d messages, want %d: %+v", len(got), n, got)
		}
	}
}

func (a *fakeAccount) sentCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sent)
}

func startModel(t *testing.T) *agenttest.Model {
	m := agenttest.StartT(t)
	m.SetReply(func(last string) string { return "echo: " + last })
	return m
}

// gatewayConfig is a config with the fake model and a channels block.
func gatewayConfig(m *agenttest.Model, extra string) string { return m.ConfigWith(extra) }

func startGateway(t *testing.T, k *fakeChat, cfg string) (*daemontest.Gateway, *client.Client) {
	t.Helper()
	g := daemontest.Start(t, daemon.Options{ChannelKinds: []channel.Kind{k.kind()}}, cfg)
	return g, g.Dial(t, protocol.CLIDefaultScopes...)
}

func call(t *testing.T, c *client.Client, method string, params any) map[string]any {
	t.Helper()
	var out map[string]any
	daemontest.Call(t, c, method, params, &out)
	return out
}

func dm(sender, text, event string) channel.Inbound {
	return channel.Inbound{Sender: channel.Sender{ID: sender, DisplayName: "User " + sender, Username: "u" + sender},
		MessageID: event, EventID: event, Text: text, Mentioned: true}
}

func TestPairingThenConversation(t *testing.T) {
	m := startModel(t)
	k := newFakeChat()
	_, c := startGateway(t, k, gatewayConfig(m, `channels: {fake: {}}, messages: {inbound: {debounceMs: 0}}`))
	acc := k.account(t, "default")

	acc.deliver(t, dm("42", "hello there", "1"))
	sent := acc.waitSent(t, 1)
	if sent[0].To.ID != "42" || !strings.Contains(sent[0].Text, "Pairing code:") {
		t.Fatalf("pairing reply = %+v", sent[0])
	}
	// A second message while pending gets no second code and no answer.
	acc.deliver(t, dm("42", "hello?", "2"))
	time.Sleep(200 * time.Millisecond)
	if acc.sentCount() != 1 || m.Calls() != 0 {
		t.Fatalf("pending sender was answered: sent %d, model calls %d", acc.sentCount(), m.Calls())
	}

	list := call(t, c, "channels.pairing.list", map[string]any{"channel": "fake"})
	reqs, _ := list["requests"].([]any)
	if len(reqs) != 1 {
		t.Fatalf("pairing list = %v", list)
	}
	req := reqs[0].(map[string]any)
	code := req["metadata"].(map[string]any)["code"].(string)
	if !strings.Contains(sent[0].Text, code) || req["senderId"] != "42" || len(req["requestId"].(string)) != 32 {
		t.Fatalf("request %v vs reply %q", req, sent[0].Text)
	}
	res := call(t, c, "channels.pairing.approve", map[string]any{"channel": "fake", "accountId": "default",
		"requestId": req["requestId"], "notify": true})
	if res["senderId"] != "42" || res["notification"] != "sent" {
		t.Fatalf("approve = %v", res)
	}
	acc.waitSent(t, 2) // the approval notice

	acc.deliver(t, dm("42", "what is up", "3"))
	sent = acc.waitSent(t, 3)
	if sent[2].Text != "echo: what is up" || sent[2].To.ID != "42" {
		t.Fatalf("reply = %+v", sent[2])
	}
	// The turn is in the main session (session.dmScope main), with the route remembered.
	hist := call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:main"})
	msgs, _ := hist["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("history = %v", hist)
	}
	st := call(t, c, "channels.status", map[string]any{})
	accts := st["channelAccounts"].(map[string]any)["fake"].([]any)
	a0 := accts[0].(map[string]any)
	if a0["healthState"] != "healthy" || a0["lastInboundAt"] == nil || a0["lastOutboundAt"] == nil || a0["running"] != true {
		t.Fatalf("status = %v", a0)
	}
	if order := st["channelOrder"].([]any); len(order) != 2 || order[0] != "webchat" {
		t.Fatalf("channelOrder = %v", order)
	}
}

func TestDebounceRedeliveryAndCommands(t *testing.T) {
	m := startModel(t)
	k := newFakeChat()
	_, c := startGateway(t, k, gatewayConfig(m, `channels: {fake: {dmPolicy: "allowlist", allowFrom: ["7"]}},
  session: {dmScope: "per-peer"}, messages: {inbound: {debounceMs: 400}}`))
	acc := k.account(t, "default")

	acc.deliver(t, dm("7", "first part", "10"))
	acc.deliver(t, dm("7", "second part", "11"))
	acc.deliver(t, dm("7", "first part", "10")) // redelivered by the platform
	sent := acc.waitSent(t, 1)
	if !strings.Contains(sent[0].Text, "first part") || !strings.Contains(sent[0].Text, "second part") {
		t.Fatalf("batched reply = %q", sent[0].Text)
	}
	time.Sleep(600 * time.Millisecond)
	if m.Calls() != 1 || acc.sentCount() != 1 {
		t.Fatalf("model calls %d, sent %d; want one batched turn", m.Calls(), acc.sentCount())
	}
	// An unlisted sender is ignored without a pairing code under allowlist.
	acc.deliver(t, dm("8", "let me in", "12"))
	time.Sleep(500 * time.Millisecond)
	if acc.sentCount() != 1 {
		t.Fatal("allowlist answered a stranger")
	}

	key := "agent:main:direct:7"
	before := call(t, c, "chat.history", map[string]any{"sessionKey": key})
	acc.deliver(t, dm("7", "/status", "13"))
	sent = acc.waitSent(t, 2)
	if !strings.Contains(sent[1].Text, "Session: "+key) || !strings.Contains(sent[1].Text, "fake/fake-1") {
		t.Fatalf("/status = %q", sent[1].Text)
	}
	acc.deliver(t, dm("7", "/new", "14"))
	sent = acc.waitSent(t, 3)
	if !strings.Contains(sent[2].Text, "new session") {
		t.Fatalf("/new = %q", sent[2].Text)
	}
	after := call(t, c, "chat.history", map[string]any{"sessionKey": key})
	if after["sessionId"] == before["sessionId"] {
		t.Fatal("/new did not start a new session")
	}
	acc.deliver(t, dm("7", "/model nosuch/model", "15"))
	sent = acc.waitSent(t, 4)
	if !strings.Contains(sent[3].Text, "not changed") {
		t.Fatalf("/model bad = %q", sent[3].Text)
	}
	acc.deliver(t, dm("7", "/stop", "16"))
	sent = acc.waitSent(t, 5)
	if sent[4].Text != "Nothing is running." {
		t.Fatalf("/stop = %q", sent[4].Text)
	}
	if m.Calls() != 1 {
		t.Fatalf("commands reached the model: %d calls", m.Calls())
	}
}

func TestSendIsIdempotentAndWebChatDelivers(t *testing.T) {
	m := startModel(t)
	k := newFakeChat()
	_, c := startGateway(t, k, gatewayConfig(m, `channels: {fake: {}}`))
	acc := k.account(t, "default")

	p := map[string]any{"channel": "fake", "to": "99", "message": "**hi**", "idempotencyKey": "send-1"}
	r1 := call(t, c, "send", p)
	r2 := call(t, c, "send", p)
	if r1["runId"] != "send-1" || r1["messageId"] != "1" || r1["channel"] != "fake" || r1["chatId"] != "99" {
		t.Fatalf("send = %v", r1)
	}
	if r2["messageId"] != r1["messageId"] || acc.sentCount() != 1 {
		t.Fatalf("repeat send delivered again: %v, sent %d", r2, acc.sentCount())
	}
	// A transient failure is retried by the queue.
	acc.mu.Lock()
	acc.sendErr = channel.Transient(fmt.Errorf("rate limited"), 10*time.Millisecond)
	acc.mu.Unlock()
	r3 := call(t, c, "send", map[string]any{"to": "fake:100", "message": "again", "idempotencyKey": "send-2"})
	if r3["chatId"] != "100" || acc.sentCount() != 2 {
		t.Fatalf("retried send = %v (sent %d)", r3, acc.sentCount())
	}
	var perr error
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		acc.mu.Lock()
		acc.sendErr = channel.Permanent(fmt.Errorf("chat not found"))
		acc.mu.Unlock()
		perr = c.Call(ctx, "send", map[string]any{"channel": "fake", "to": "101", "message": "x", "idempotencyKey": "send-3"}, nil)
	}()
	if perr == nil || !strings.Contains(perr.Error(), "chat not found") {
		t.Fatalf("permanent failure = %v", perr)
	}
	st := call(t, c, "channels.status", map[string]any{"channel": "fake"})
	if issues := fmt.Sprint(st["statusIssues"]); !strings.Contains(issues, "delivery to 101 failed: chat not found") {
		t.Fatalf("failed delivery not surfaced: %s", issues)
	}

	w := call(t, c, "send", map[string]any{"channel": "webchat", "to": "agent:main:main", "message": "note for the web", "idempotencyKey": "w-1"})
	if w["channel"] != "webchat" || w["messageId"] == "" {
		t.Fatalf("webchat send = %v", w)
	}
	hist := call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:main"})
	if !strings.Contains(fmt.Sprint(hist["messages"]), "note for the web") {
		t.Fatalf("webchat history = %v", hist["messages"])
	}
}

func TestStartStopAndMisconfiguredAccount(t *testing.T) {
	m := startModel(t)
	k := newFakeChat()
	_, c := startGateway(t, k, gatewayConfig(m, `channels: {fake: {accounts: {work: {}, broken: {token: "bad"}}, defaultAccount: "work"}}`))
	k.account(t, "work")
	st := call(t, c, "channels.status", map[string]any{"channel": "fake"})
	if st["channelDefaultAccountId"].(map[string]any)["fake"] != "work" {
		t.Fatalf("default account: %v", st["channelDefaultAccountId"])
	}
	accts := st["channelAccounts"].(map[string]any)["fake"].([]any)
	if len(accts) != 2 {
		t.Fatalf("accounts = %v", accts)
	}
	broken := accts[0].(map[string]any)
	if broken["accountId"] != "broken" || broken["healthState"] != "misconfigured" || !strings.Contains(fmt.Sprint(broken["lastError"]), "invalid") {
		t.Fatalf("broken = %v", broken)
	}
	if issues := st["statusIssues"].([]any); len(issues) != 1 || issues[0].(map[string]any)["kind"] != "config" {
		t.Fatalf("issues = %v", issues)
	}
	call(t, c, "channels.stop", map[string]any{"channel": "fake", "accountId": "work"})
	st = call(t, c, "channels.status", map[string]any{"channel": "fake"})
	work := st["channelAccounts"].(map[string]any)["fake"].([]any)[1].(map[string]any)
	if work["running"] != false {
		t.Fatalf("stopped account still running: %v", work)
	}
	call(t, c, "channels.start", map[string]any{"channel": "fake", "accountId": "work"})
	k.account(t, "work")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Call(ctx, "channels.start", map[string]any{"channel": "nosuch"}, nil); err == nil || !strings.Contains(err.Error(), "unknown channel") {
		t.Fatalf("unknown channel start: %v", err)
	}
	if err := c.Call(ctx, "channels.logout", map[string]any{"channel": "fake", "accountId": "work"}, nil); err == nil || !strings.Contains(err.Error(), "no login") {
		t.Fatalf("logout without login: %v", err)
	}
}

func TestRestartMidRunAnswersOnce(t *testing.T) {
	m := startModel(t)
	m.SetChunkDelay(300 * time.Millisecond) // the answer streams slowly
	k := newFakeChat()
	state := t.TempDir()
	cfg := gatewayConfig(m, `channels: {fake: {dmPolicy: "open", allowFrom: ["*"]}}, messages: {inbound: {debounceMs: 0}}`)
	g := daemontest.StartIn(t, state, daemon.Options{ChannelKinds: []channel.Kind{k.kind()}}, cfg)
	acc := k.account(t, "default")
	acc.deliver(t, dm("5", "a long question", "77"))
	deadline := time.Now().Add(10 * time.Second)
	for m.Calls() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if acc.sentCount() != 0 {
		t.Fatal("answered before the restart")
	}

	m.SetChunkDelay(0)
	k2 := newFakeChat()
	g2 := daemontest.StartIn(t, state, daemon.Options{ChannelKinds: []channel.Kind{k2.kind()}}, cfg)
	acc2 := k2.account(t, "default")
	sent := acc2.waitSent(t, 1)
	if sent[0].To.ID != "5" || !strings.Contains(sent[0].Text, "restarted") {
		t.Fatalf("after restart = %+v", sent[0])
	}
	// The platform redelivers the same event: nothing runs or is sent again.
	acc2.deliver(t, dm("5", "a long question", "77"))
	time.Sleep(500 * time.Millisecond)
	if acc2.sentCount() != 1 {
		t.Fatalf("sent %d messages after the restart, want 1", acc2.sentCount())
	}
	c := g2.Dial(t, protocol.CLIDefaultScopes...)
	hist := call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:main"})
	if n := len(hist["messages"].([]any)); n < 1 || !strings.Contains(fmt.Sprint(hist["messages"]), "a long question") {
		t.Fatalf("transcript after restart = %v", hist["messages"])
	}
}

// The agent's message tool sends to the session's last conversation, or
// to an explicit channel target, once per tool call.
func TestMessageTool(t *testing.T) {
	m := startModel(t)
	m.SetScript(func(req map[string]any) agenttest.Turn {
		last := agenttest.LastMessage(req)
		if last["role"] == "tool" {
			return agenttest.Turn{Text: "done: " + fmt.Sprint(last["content"])}
		}
		return agenttest.Turn{ToolCalls: []agenttest.ToolCall{
			{ID: "t1", Name: "message", Args: `{"message":"a side note"}`},
			{ID: "t2", Name: "message", Args: `{"channel":"fake","to":"fake:77","message":"to someone else"}`},
		}}
	})
	k := newFakeChat()
	startGateway(t, k, gatewayConfig(m, `channels: {fake: {dmPolicy: "open", allowFrom: ["*"]}}, messages: {inbound: {debounceMs: 0}}`))
	acc := k.account(t, "default")
	acc.deliver(t, dm("31", "tell people", "1"))
	sent := acc.waitSent(t, 3)
	byTo := map[string][]string{}
	for _, s := range sent {
		byTo[s.To.ID] = append(byTo[s.To.ID], s.Text)
	}
	if len(byTo["31"]) != 2 || byTo["31"][0] != "a side note" || !strings.Contains(byTo["31"][1], "delivered") {
		t.Fatalf("to the sender: %q", byTo["31"])
	}
	if len(byTo["77"]) != 1 || byTo["77"][0] != "to someone else" {
		t.Fatalf("to 77: %q", byTo["77"])
	}
}

// An image the model produces is delivered to the chat as an attachment
// and kept in the transcript.
func TestGeneratedImageReachesChat(t *testing.T) {
	m := startModel(t)
	png := "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
	m.SetScript(func(map[string]any) agenttest.Turn {
		return agenttest.Turn{Text: "A red dot.", Images: []string{"data:image/png;base64," + png}}
	})
	k := newFakeChat()
	_, c := startGateway(t, k, gatewayConfig(m, `channels: {fake: {dmPolicy: "open", allowFrom: ["*"]}}, messages: {inbound: {debounceMs: 0}}`))
	acc := k.account(t, "default")
	acc.deliver(t, dm("12", "draw a dot", "1"))
	sent := acc.waitSent(t, 1)
	if sent[0].Text != "A red dot." || len(sent[0].Media) != 1 || sent[0].Media[0].Kind != "image" {
		t.Fatalf("reply = %+v", sent[0])
	}
	data, err := os.ReadFile(sent[0].Media[0].Path)
	if err != nil || len(data) == 0 || string(data[1:4]) != "PNG" {
		t.Fatalf("image file %s: %v", sent[0].Media[0].Path, err)
	}
	hist := call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:main"})
	if !strings.Contains(fmt.Sprint(hist["messages"]), "type:image") {
		t.Fatalf("transcript lacks the image: %v", hist["messages"])
	}
}
