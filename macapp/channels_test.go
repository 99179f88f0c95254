package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/telegram/telegramtest"
	"github.com/pincerhq/pincer/core/client/clienttest"
	"github.com/pincerhq/pincer/core/protocol"
)

// wireCall is one request the fake gateway received.
type wireCall struct {
	Method string
	Params string // canonical JSON (sorted keys)
	Scopes []string
}

// recorder is a fake gateway that records every call of the methods it
// answers, with the params exactly as the CLI sent them.
type recorder struct {
	mu    sync.Mutex
	calls []wireCall
	srv   *clienttest.Server
}

func newRecorder(t *testing.T, methods map[string]func(params map[string]any) (any, error)) *recorder {
	t.Helper()
	rec := &recorder{}
	handlers := map[string]clienttest.Handler{}
	for name, fn := range methods {
		handlers[name] = func(r *clienttest.Request) (any, error) {
			var p map[string]any
			if err := json.Unmarshal(r.Params, &p); err != nil {
				return nil, protocol.InvalidParams(name, fmt.Sprintf("params %s: %v", r.Params, err))
			}
			rec.mu.Lock()
			rec.calls = append(rec.calls, wireCall{Method: name, Params: canonJSON(t, r.Params), Scopes: r.Conn.Params.Scopes})
			rec.mu.Unlock()
			return fn(p)
		}
	}
	rec.srv = clienttest.NewServer(t, clienttest.Config{Token: "T", Methods: handlers})
	return rec
}

// run runs the CLI against the fake gateway.
func (rec *recorder) run(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runCLI(t, append(args, "--url", rec.srv.URL, "--token", "T")...)
}

// take returns the calls received since the last take.
func (rec *recorder) take() []wireCall {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	c := rec.calls
	rec.calls = nil
	return c
}

// expectCalls checks the calls since the last take: method, params and
// the scopes the connection asked for.
func (rec *recorder) expectCalls(t *testing.T, what string, scopes []string, want ...string) {
	t.Helper()
	got := rec.take()
	var gotS []string
	for _, c := range got {
		gotS = append(gotS, c.Method+" "+c.Params)
		if !slices.Equal(c.Scopes, scopes) {
			t.Errorf("%s: %s asked for scopes %v, want %v", what, c.Method, c.Scopes, scopes)
		}
	}
	if !slices.Equal(gotS, want) {
		t.Fatalf("%s: calls\n  %s\nwant\n  %s", what, strings.Join(gotS, "\n  "), strings.Join(want, "\n  "))
	}
}

func canonJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", raw, err)
	}
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustOutput(t *testing.T, what string, r cliResult, want string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", what, r.code, r.stdout, r.stderr)
	}
	if r.stdout != want {
		t.Fatalf("%s: stdout\n%s\nwant\n%s", what, r.stdout, want)
	}
}

// channelsStatusFixture is a channels.status result in OpenClaw's shape,
// with times relative to now.
func channelsStatusFixture(now time.Time) string {
	ms := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	return fmt.Sprintf(`{
  "ts": %d,
  "channelOrder": ["telegram", "discord"],
  "channelLabels": {"telegram": "Telegram", "discord": "Discord"},
  "channels": {"telegram": {"configured": true, "running": true}, "discord": {"configured": false}},
  "channelAccounts": {
    "telegram": [
      {"accountId": "default", "enabled": true, "configured": true, "running": true, "connected": true,
       "lastError": null, "healthState": "healthy", "lastStartAt": %d, "lastStopAt": null,
       "lastInboundAt": %d, "lastOutboundAt": null, "mode": "polling", "dmPolicy": "pairing",
       "tokenSource": "secret", "probe": {"ok": true, "bot": {"username": "pincer_bot"}}},
      {"accountId": "work", "name": "Work bot", "enabled": true, "configured": true, "linked": false,
       "running": false, "connected": false, "lastError": "telegram: getMe rejected the bot token",
       "healthState": "error", "lastStartAt": null, "lastStopAt": null, "lastInboundAt": null,
       "lastOutboundAt": %d, "mode": "webhook", "probe": {"ok": false, "error": "401 Unauthorized"}}
    ],
    "discord": [
      {"accountId": "default", "enabled": false, "configured": false, "running": false, "connected": false,
       "lastError": null, "lastStartAt": null, "lastStopAt": null, "lastInboundAt": null, "lastOutboundAt": null}
    ]
  },
  "channelDefaultAccountId": {"telegram": "default", "discord": "default"},
  "statusIssues": [
    {"channel": "telegram", "accountId": "work", "kind": "auth", "message": "the bot token was rejected",
     "fix": "run pincer channels login telegram --account work"},
    {"channel": "discord", "accountId": "default", "kind": "config", "message": "no token configured"}
  ]
}`, now.UnixMilli(), ms(time.Hour), ms(12500*time.Millisecond), ms(3*time.Minute+500*time.Millisecond))
}

func TestChannelsListAndStatus(t *testing.T) {
	isolate(t)
	rec := newRecorder(t, map[string]func(map[string]any) (any, error){
		"channels.status": func(map[string]any) (any, error) {
			return json.RawMessage(channelsStatusFixture(time.Now())), nil
		},
	})
	read := []string{protocol.ScopeRead}

	mustOutput(t, "channels list", rec.run(t, "channels", "list"),
		"CHANNEL   ACCOUNT  ENABLED  CONFIGURED  LINKED  RUNNING  CONNECTED  HEALTH   MODE     LAST ERROR\n"+
			"telegram  default  yes      yes         -       yes      yes        healthy  polling  -\n"+
			"telegram  work     yes      yes         no      no       no         error    webhook  telegram: getMe rejected the bot token\n"+
			"discord   default  no       no          -       no       no         -        -        -\n"+
			"2 issues; see `pincer channels status`.\n")
	rec.expectCalls(t, "channels list", read, `channels.status {}`)

	r := rec.run(t, "channels", "list", "--json")
	var raw map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &raw) != nil || raw["channelAccounts"] == nil {
		t.Fatalf("channels list --json: %+v", r)
	}
	rec.expectCalls(t, "channels list --json", read, `channels.status {}`)

	mustOutput(t, "channels status", rec.run(t, "channels", "status"),
		"CHANNEL   ACCOUNT  STATE       HEALTH   MODE     DM POLICY  LAST IN  LAST OUT   LAST ERROR\n"+
			"telegram  default  connected   healthy  polling  pairing    12s ago  never      -\n"+
			"telegram  work     not linked  error    webhook  -          never    3m 0s ago  telegram: getMe rejected the bot token\n"+
			"discord   default  disabled    -        -        -          never    never      -\n"+
			"\nIssues (2)\n"+
			"  telegram/work [auth]: the bot token was rejected\n"+
			"    Fix: run pincer channels login telegram --account work\n"+
			"  discord/default [config]: no token configured\n")
	rec.expectCalls(t, "channels status", read, `channels.status {}`)

	r = rec.run(t, "channels", "status", "--channel", "Telegram", "--probe")
	mustContain(t, "channels status --probe", r,
		"LAST ERROR                              PROBE\n",
		"  -                                       ok (@pincer_bot)\n",
		"  telegram: getMe rejected the bot token  failed: 401 Unauthorized\n")
	rec.expectCalls(t, "channels status --probe", read, `channels.status {"channel":"telegram","probe":true,"timeoutMs":8000}`)

	rec.run(t, "channels", "status", "--channel", "telegram", "--json")
	rec.expectCalls(t, "channels status --channel", read, `channels.status {"channel":"telegram"}`)

	mustFail(t, "empty --channel", rec.run(t, "channels", "status", "--channel", " "), exitUsage, "empty channel")
	rec.expectCalls(t, "usage errors", read)
}

func TestChannelsEmptyStatus(t *testing.T) {
	isolate(t)
	rec := newRecorder(t, map[string]func(map[string]any) (any, error){
		"channels.status": func(map[string]any) (any, error) {
			return protocol.ChannelsStatusResult{Ts: 1, ChannelOrder: []string{}, ChannelAccounts: map[string][]protocol.ChannelAccount{}}, nil
		},
	})
	mustOutput(t, "empty list", rec.run(t, "channels", "list"), "No channels configured.\n")
	mustOutput(t, "empty status", rec.run(t, "channels", "status"), "No channels configured.\n")
}

func TestChannelsStartStopLogout(t *testing.T) {
	isolate(t)
	echo := func(extra map[string]any) func(map[string]any) (any, error) {
		return func(p map[string]any) (any, error) {
			res := map[string]any{"channel": p["channel"], "accountId": p["accountId"]}
			if res["accountId"] == nil {
				res["accountId"] = "default"
			}
			for k, v := range extra {
				res[k] = v
			}
			return res, nil
		}
	}
	rec := newRecorder(t, map[string]func(map[string]any) (any, error){
		"channels.start":  echo(map[string]any{"started": true}),
		"channels.stop":   echo(map[string]any{"stopped": true}),
		"channels.logout": echo(map[string]any{"cleared": true}),
	})
	admin := []string{protocol.ScopeAdmin}

	mustOutput(t, "start", rec.run(t, "channels", "start", "telegram"), "Started telegram account default.\n")
	rec.expectCalls(t, "start", admin, `channels.start {"channel":"telegram"}`)
	mustOutput(t, "start --account", rec.run(t, "channels", "start", "telegram", "--account", "work"), "Started telegram account work.\n")
	rec.expectCalls(t, "start --account", admin, `channels.start {"accountId":"work","channel":"telegram"}`)
	mustOutput(t, "stop", rec.run(t, "channels", "stop", "telegram", "--account", "work"), "Stopped telegram account work.\n")
	rec.expectCalls(t, "stop", admin, `channels.stop {"accountId":"work","channel":"telegram"}`)
	r := rec.run(t, "channels", "stop", "telegram", "--json")
	if r.code != 0 || canonJSON(t, []byte(r.stdout)) != `{"accountId":"default","channel":"telegram","stopped":true}` {
		t.Fatalf("stop --json: %+v", r)
	}
	rec.expectCalls(t, "stop --json", admin, `channels.stop {"channel":"telegram"}`)

	// logout asks first; without a terminal it needs --yes.
	withConfirm(t, false, "")
	mustFail(t, "logout without a terminal", rec.run(t, "channels", "logout", "telegram"), exitError,
		"not logging out telegram without confirmation: run this in a terminal, or pass --yes")
	withConfirm(t, true, "n\n")
	mustFail(t, "logout declined", rec.run(t, "channels", "logout", "telegram", "--account", "work"), exitError,
		"telegram account work was not logged out")
	rec.expectCalls(t, "logout refused", admin)
	withConfirm(t, true, "y\n")
	r = rec.run(t, "channels", "logout", "telegram", "--account", "work")
	mustOutput(t, "logout confirmed", r, "Logged out telegram account work.\n")
	if !strings.Contains(r.stderr, "Log out telegram account work? Its stored login is forgotten and it stops. [y/N] ") {
		t.Fatalf("logout question: %q", r.stderr)
	}
	rec.expectCalls(t, "logout confirmed", admin, `channels.logout {"accountId":"work","channel":"telegram"}`)
	withConfirm(t, false, "")
	mustOutput(t, "logout --yes", rec.run(t, "channels", "logout", "telegram", "--yes"), "Logged out telegram account default.\n")
	rec.expectCalls(t, "logout --yes", admin, `channels.logout {"channel":"telegram"}`)

	mustFail(t, "no channel", rec.run(t, "channels", "start"), exitUsage, "accepts 1 arg(s)")
	mustFail(t, "empty account", rec.run(t, "channels", "start", "telegram", "--account", ""), exitUsage, "empty --account")
	rec.expectCalls(t, "usage errors", admin)
}

// fakeBotAPI answers getMe for one bot token, like the Telegram Bot API.
func fakeBotAPI(t *testing.T, token, username string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/bot"+token+"/getMe" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
			return
		}
		fmt.Fprintf(w, `{"ok":true,"result":{"id":123456,"is_bot":true,"first_name":"Pincer","username":%q}}`, username)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func storedSecret(t *testing.T, key string) string {
	t.Helper()
	store, err := openSecrets("")
	if err != nil {
		t.Fatal(err)
	}
	v, err := store.Get(key)
	if err != nil {
		return ""
	}
	return v
}

func TestChannelsLoginTelegram(t *testing.T) {
	dir := isolate(t)
	const token = "123456:AAE-test-token"
	bot := fakeBotAPI(t, token, "pincer_test_bot")
	rec := newRecorder(t, map[string]func(map[string]any) (any, error){
		"channels.start": func(p map[string]any) (any, error) {
			if p["accountId"] == "broken" {
				return nil, protocol.InvalidRequest("channel telegram has no account broken")
			}
			return map[string]any{"channel": p["channel"], "accountId": p["accountId"], "started": true}, nil
		},
	})
	login := func(stdin string, args ...string) cliResult {
		t.Helper()
		args = append([]string{"channels", "login"}, args...)
		return runCLIWithStdin(t, stdin, append(args, "--api-root", bot.URL, "--url", rec.srv.URL, "--gateway-token", "T")...)
	}
	admin := []string{protocol.ScopeAdmin}

	// --token: validated, stored, started.
	r := login("", "telegram", "--token", token)
	mustOutput(t, "login --token", r, "Logged in as @pincer_test_bot; token stored in file\nStarted telegram account default.\n")
	rec.expectCalls(t, "login --token", admin, `channels.start {"accountId":"default","channel":"telegram"}`)
	if got := storedSecret(t, channel.SecretKey("telegram", "", "botToken")); got != token {
		t.Fatalf("stored token %q", got)
	}

	// The token from stdin (no terminal: one line), for another account.
	r = login(token+"\n", "Telegram", "--account", "work")
	mustOutput(t, "login from stdin", r, "Logged in as @pincer_test_bot; token stored in file\nStarted telegram account work.\n")
	rec.expectCalls(t, "login from stdin", admin, `channels.start {"accountId":"work","channel":"telegram"}`)
	if got := storedSecret(t, "channels/telegram/work/botToken"); got != token {
		t.Fatalf("stored work token %q", got)
	}

	// --token-file, and a gateway that cannot start the account: a note.
	tokenPath := filepath.Join(dir, "bot-token")
	writeFile(t, tokenPath, "  "+token+"\n")
	r = login("", "telegram", "--account", "broken", "--token-file", tokenPath)
	mustOutput(t, "login --token-file", r, "Logged in as @pincer_test_bot; token stored in file\n")
	if r.stderr != "Note: the gateway did not start telegram account broken (channel telegram has no account broken); it will use the token the next time it starts.\n" {
		t.Fatalf("start refused: stderr %q", r.stderr)
	}
	rec.expectCalls(t, "login --token-file", admin, `channels.start {"accountId":"broken","channel":"telegram"}`)
	if storedSecret(t, "channels/telegram/broken/botToken") != token {
		t.Fatal("token of account broken not stored")
	}

	// --json.
	r = login("", "telegram", "--token", token, "--json")
	var out map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out["username"] != "pincer_test_bot" ||
		out["secretBackend"] != "file" || out["started"] != true || out["accountId"] != "default" {
		t.Fatalf("login --json: %+v", r)
	}
	rec.take()

	// A rejected token is not stored, and not echoed.
	r = login("", "telegram", "--account", "bad", "--token", "999:wrong-token")
	mustFail(t, "bad token", r, exitError, "the bot token could not be verified with Telegram", "rejected the bot token")
	if strings.Contains(r.stderr, "wrong-token") {
		t.Fatalf("the token leaked into the error: %s", r.stderr)
	}
	if storedSecret(t, "channels/telegram/bad/botToken") != "" {
		t.Fatal("a rejected token was stored")
	}
	rec.expectCalls(t, "bad token", admin)

	mustFail(t, "other channel", login("", "slack", "--token", "x"), exitError, "channel slack has no login; configure it in the config file")
	mustFail(t, "both token flags", login("", "telegram", "--token", token, "--token-file", tokenPath), exitUsage, "not both")
	mustFail(t, "empty stdin", login("\n", "telegram"), exitUsage, "no key given")
	mustFail(t, "missing token file", login("", "telegram", "--token-file", filepath.Join(dir, "nope")), exitError, "cannot read --token-file")
	rec.expectCalls(t, "login errors", admin)
}

func TestChannelsLoginWithoutGateway(t *testing.T) {
	isolate(t)
	const token = "42:offline-token"
	bot := fakeBotAPI(t, token, "offline_bot")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "ws://" + l.Addr().String()
	l.Close()
	r := runCLI(t, "channels", "login", "telegram", "--token", token, "--api-root", bot.URL, "--url", closed)
	mustOutput(t, "login offline", r, "Logged in as @offline_bot; token stored in file\n")
	want := "Note: could not reach the gateway to start telegram (no gateway is listening at " + closed + "); it will use the token the next time it starts.\n"
	if !strings.HasSuffix(r.stderr, want) {
		t.Fatalf("stderr %q, want suffix %q", r.stderr, want)
	}
	if storedSecret(t, channel.SecretKey("telegram", "default", "botToken")) != token {
		t.Fatal("token not stored")
	}
}

// The whole CLI flow against the real gateway and a fake Bot API: log in,
// pair a Telegram user, send to them, stop and log out.
func TestChannelsAgainstGateway(t *testing.T) {
	tg := telegramtest.New(t, "4242:cli-login-token")
	g := startTestGateway(t, fmt.Sprintf(`{channels: {telegram: {apiRoot: %q}}}`, tg.URL()))
	run := func(args ...string) cliResult {
		t.Helper()
		return runAt(t, g, args...)
	}
	mustContain(t, "list before login", run("channels", "list"), "telegram  default  yes      no", "misconfigured", "has no bot token", "1 issue; see `pincer channels status`.")

	r := runCLI(t, "channels", "login", "telegram", "--token", tg.Token(), "--api-root", tg.URL(), "--url", g.URL, "--gateway-token", g.Token)
	mustOutput(t, "login", r, fmt.Sprintf("Logged in as @%s; token stored in file\nStarted telegram account default.\n", tg.Bot().Username))
	if !waitFor(func() bool {
		r := run("channels", "status", "--json")
		return r.code == 0 && strings.Contains(r.stdout, `"connected": true`)
	}) {
		t.Fatalf("telegram did not connect: %s", run("channels", "status").stdout)
	}
	mustContain(t, "status", run("channels", "status", "--probe"), "telegram  default  connected", "ok (@"+tg.Bot().Username+")")

	tg.UserText(555, 555, "alice", "hi bot")
	var list pairingList
	if !waitFor(func() bool {
		r := run("pairing", "list", "--json")
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &list) == nil && len(list.Requests) == 1
	}) {
		t.Fatalf("no pairing request: %s", run("pairing", "list").stdout)
	}
	code := list.Requests[0].Metadata.Code
	mustContain(t, "pairing list", run("pairing", "list"), "telegram  default  "+code+"  User 555 @alice (555)")
	mustOutput(t, "pairing approve", run("pairing", "approve", "telegram", strings.ToLower(code), "--notify"),
		"approved 555 on telegram; notification: sent\n")
	mustOutput(t, "pairing list after", run("pairing", "list"), "No pending pairing requests.\n")

	r = run("send", "--channel", "telegram", "--to", "555", "hello", "from", "the", "CLI")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sent: telegram message ") || !strings.HasSuffix(r.stdout, " to 555\n") {
		t.Fatalf("send: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sent, err := tg.WaitSent(ctx, 3) // pairing code, approval notice, our message
	if err != nil {
		t.Fatalf("sent %+v: %v", tg.Sent(), err)
	}
	if last := sent[len(sent)-1]; last.ChatID != "555" || last.Text != "hello from the CLI" ||
		r.stdout != fmt.Sprintf("sent: telegram message %d to 555\n", last.MessageID) {
		t.Fatalf("sent %+v, CLI said %q", last, r.stdout)
	}

	mustOutput(t, "stop", run("channels", "stop", "telegram"), "Stopped telegram account default.\n")
	mustOutput(t, "logout", run("channels", "logout", "telegram", "--yes"), "Logged out telegram account default.\n")
	if v := storedSecret(t, channel.SecretKey("telegram", "default", "botToken")); v != "" {
		t.Fatal("logout kept the stored token")
	}
}
