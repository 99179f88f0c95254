package controlui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// TestControlUIInBrowser drives the real UI in Chromium against a real
// gateway and the fake model: sign-in from the URL fragment, overview,
// chat (streamed reply, new session, abort), device approval, config
// validation errors at their path, logs, a seq gap, and a phone-sized
// screen.
func TestControlUIInBrowser(t *testing.T) {
	b := newBrowser(t, nil)
	b.watchConsole()
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, gatewayConfig(m, `gateway: {trustedProxies: ["127.0.0.1"]}`))
	cli := g.Dial(t, protocol.ScopeAdmin)
	version := cli.Hello().Server.Version

	// First visit: the token comes in the fragment and leaves the address bar.
	b.navigate(g.HTTP + "/#token=" + url.QueryEscape(g.Token))
	b.waitFor("connected", `globalThis.pincerGateway && pincerGateway.state === 'connected'`, 15*time.Second)
	if href := eval[string](b, `location.href`); strings.Contains(href, g.Token) || strings.Contains(href, "token") {
		t.Fatalf("the address bar still has the token: %s", href)
	}
	if hist := eval[string](b, `history.state === null ? '' : JSON.stringify(history.state)`); strings.Contains(hist, g.Token) {
		t.Fatalf("history state holds the token")
	}
	b.waitFor("overview version", `document.querySelector('#ov-version')?.textContent === `+jsString(version), 10*time.Second)
	if got := eval[string](b, `Object.entries(localStorage).map(e => e.join('=')).join('\n')`); strings.Contains(got, g.Token) {
		t.Fatal("the shared token was written to localStorage")
	}
	if eval[string](b, `sessionStorage.getItem('pincer.gateway.token')`) != g.Token {
		t.Fatal("the token is not kept in sessionStorage for this tab")
	}
	// Paired silently on loopback, as a Control UI device, with a device token.
	hello := eval[map[string]any](b, `({method: pincerGateway.hello.auth.method, scopes: pincerGateway.hello.auth.scopes, hasDeviceToken: !!pincerGateway.hello.auth.deviceToken, deviceId: pincerGateway.identity.deviceId})`)
	if hello["hasDeviceToken"] != true || hello["method"] != "token" {
		t.Fatalf("hello-ok auth: %v", hello)
	}
	uiDevice, _ := hello["deviceId"].(string)
	var list protocol.DevicePairListResult
	daemontest.Call(t, cli, "device.pair.list", map[string]any{}, &list)
	found := false
	for _, d := range list.Paired {
		if d.DeviceID == uiDevice {
			found = d.ClientID == protocol.ClientControlUI && d.ClientMode == protocol.ModeWebchat && d.ApprovedVia == "silent"
		}
	}
	if !found {
		t.Fatalf("the browser is not paired silently as openclaw-control-ui/webchat: %+v", list.Paired)
	}
	b.waitFor("presence lists the UI", `[...document.querySelectorAll('#presence-table td')].some(td => td.textContent.includes('openclaw-control-ui'))`, 10*time.Second)

	t.Run("chat", func(t *testing.T) {
		b := b.with(t)
		m.SetChunkDelay(15 * time.Millisecond)
		m.SetReply(func(last string) string {
			return "Hello from fake model. Echo: " + last + "\n\n```go\nfmt.Println(\"<b>not bold</b>\")\n```\n\n**done** <img src=x onerror=alert(1)>"
		})
		b.click(`a.nav-link[data-page=chat]`)
		b.waitFor("chat page", `!!document.querySelector('#chat-input') && location.pathname === '/chat'`, 10*time.Second)
		b.waitFor("history loaded", `!document.querySelector('#chat-log')?.textContent.includes('Connecting')`, 10*time.Second)
		if !eval[bool](b, `!!document.querySelector('#chat-abort')`) {
			t.Fatal("no abort button")
		}
		// Record what the streaming bubble shows while the reply streams.
		eval[bool](b, `(() => { window.seen = []; new MutationObserver(() => {
			const s = document.querySelector('.msg-streaming .msg-text'); if (s) window.seen.push(s.textContent);
		}).observe(document.getElementById('chat-log'), {subtree: true, childList: true, characterData: true}); return true; })()`)
		b.setValue("#chat-input", "hi from the browser")
		b.click("#chat-send")
		want := "Hello from fake model. Echo: hi from the browser"
		b.waitFor("the streamed reply", `[...document.querySelectorAll('.msg-assistant.msg-done')].some(e => e.textContent.includes(`+jsString(want)+`))`, 20*time.Second)
		seen := eval[[]string](b, `window.seen`)
		partial := false
		for _, s := range seen {
			if s != "" && len(s) < len(want) && strings.HasPrefix(want, s) {
				partial = true
			}
		}
		if !partial {
			t.Errorf("the reply was not shown while streaming; bubble texts seen: %q", seen)
		}
		// Markdown: a code block with a copy button, bold; the HTML in the
		// reply stays text.
		md := eval[map[string]any](b, `(() => { const m = [...document.querySelectorAll('.msg-assistant.msg-done')].pop();
			return {code: m.querySelector('pre code.lang-go')?.textContent, copy: !!m.querySelector('.code-copy'),
			strong: m.querySelector('strong')?.textContent, img: m.querySelectorAll('img').length, b: m.querySelectorAll('b').length,
			text: m.textContent}; })()`)
		if md["code"] != `fmt.Println("<b>not bold</b>")` || md["copy"] != true || md["strong"] != "done" ||
			md["img"] != float64(0) || md["b"] != float64(0) || !strings.Contains(md["text"].(string), "<img src=x onerror=alert(1)>") {
			t.Errorf("markdown rendering: %v", md)
		}
		b.waitFor("the session in the list", `[...document.querySelectorAll('#session-list .session')].some(a => a.dataset.key === 'agent:main:main')`, 10*time.Second)

		// A new session starts empty and gets its own reply.
		m.SetReply(nil)
		b.click("#new-session")
		b.waitFor("new session selected", `/^ui-[0-9a-f]{8}$/.test(document.querySelector('#chat-title').textContent)`, 5*time.Second)
		newKey := eval[string](b, `document.querySelector('#chat-title').title`)
		if eval[int](b, `document.querySelectorAll('#chat-log .msg').length`) != 0 {
			t.Fatal("the new session shows old messages")
		}
		b.setValue("#chat-input", "second session")
		b.click("#chat-send")
		b.waitFor("reply in the new session", `[...document.querySelectorAll('.msg-assistant.msg-done')].some(e => e.textContent.includes('Echo: second session'))`, 20*time.Second)
		b.waitFor("both sessions listed", `(() => { const keys = [...document.querySelectorAll('#session-list .session')].map(a => a.dataset.key);
			return keys.includes('agent:main:main') && keys.includes(`+jsString(newKey)+`); })()`, 10*time.Second)
		var hist struct {
			Messages []map[string]any `json:"messages"`
		}
		daemontest.Call(t, cli, "chat.history", map[string]any{"sessionKey": newKey}, &hist)
		if len(hist.Messages) != 2 {
			t.Fatalf("history of %s: %v", newKey, hist.Messages)
		}

		// An image attachment reaches the model.
		png := filepath.Join(t.TempDir(), "dot.png")
		if err := os.WriteFile(png, tinyPNG, 0o600); err != nil {
			t.Fatal(err)
		}
		m.ResetRequests()
		uctx, ucancel := b.bounded(10 * time.Second)
		err := chromedp.Do(uctx, chromedp.SetUploadFiles(chromedp.CSS("#chat-file"), []string{png}))
		ucancel()
		if err != nil {
			t.Fatal(err)
		}
		b.waitFor("attachment preview", `document.querySelectorAll('#attach-previews img').length === 1`, 5*time.Second)
		b.setValue("#chat-input", "what is this")
		b.click("#chat-send")
		b.waitFor("reply to the picture", `[...document.querySelectorAll('.msg-assistant.msg-done')].some(e => e.textContent.includes('Echo: what is this'))`, 20*time.Second)
		if n := eval[int](b, `document.querySelectorAll('.msg-user img.msg-image').length`); n != 1 {
			t.Errorf("%d images shown in the sent message", n)
		}
		sawImage := false
		for _, req := range m.Requests() {
			if raw, _ := json.Marshal(req); strings.Contains(string(raw), "data:image/png;base64,") {
				sawImage = true
			}
		}
		if !sawImage {
			t.Error("the model did not receive the image")
		}

		// Abort a long reply.
		m.SetChunkDelay(150 * time.Millisecond)
		m.SetReply(func(string) string { return strings.Repeat("slow words ", 200) })
		b.setValue("#chat-input", "talk for a while")
		b.click("#chat-send")
		b.waitFor("streaming", `!!document.querySelector('.msg-streaming') && !document.querySelector('#chat-abort').disabled`, 15*time.Second)
		b.click("#chat-abort")
		b.waitFor("aborted", `!!document.querySelector('.msg-assistant.msg-aborted') && !document.querySelector('.msg-streaming')`, 15*time.Second)
		m.SetChunkDelay(0)
		m.SetReply(nil)

		// Paging: the latest page first, older messages load above.
		for i := 0; i < 55; i++ {
			daemontest.Call(t, cli, "chat.inject", map[string]any{"sessionKey": "agent:main:paging", "message": fmt.Sprintf("note %d", i)}, nil)
		}
		b.navigate(g.HTTP + "/chat?session=agent:main:paging")
		b.waitFor("the latest page", `document.querySelectorAll('#chat-log .msg').length === 50 && !document.querySelector('#load-older').hidden`, 15*time.Second)
		if first := eval[string](b, `document.querySelector('#chat-log .msg .msg-body').textContent`); first != "note 5" {
			t.Errorf("first message of the latest page = %q, want note 5", first)
		}
		b.click("#load-older")
		b.waitFor("older messages", `document.querySelectorAll('#chat-log .msg').length === 55 && document.querySelector('#load-older').hidden`, 10*time.Second)
		if first := eval[string](b, `document.querySelector('#chat-log .msg .msg-body').textContent`); first != "note 0" {
			t.Errorf("first message after paging = %q, want note 0", first)
		}
	})

	t.Run("tool activity", func(t *testing.T) {
		b := b.with(t)
		// The model runs exec (which asks for approval; a CLI approver allows
		// it) while the chat page shows the tool live.
		m.SetScript(func(req map[string]any) agenttest.Turn {
			last := agenttest.LastMessage(req)
			if last["role"] == "tool" {
				return agenttest.Turn{Text: "exec finished"}
			}
			return agenttest.Turn{ToolCalls: []agenttest.ToolCall{{ID: "x1", Name: "exec", Args: `{"command":"echo tool-run"}`}}}
		})
		defer m.SetScript(nil)
		approverOpt := g.Options(protocol.ScopeApprovals, protocol.ScopeRead)
		approved := make(chan string, 4)
		var approver *client.Client
		approverOpt.OnEvent = func(ev protocol.EventFrame) {
			if ev.Event != "exec.approval.requested" {
				return
			}
			var p struct{ ID string }
			_ = json.Unmarshal(ev.Payload, &p)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = approver.Call(ctx, "exec.approval.resolve", map[string]any{"id": p.ID, "decision": "allow-once"}, nil)
				approved <- p.ID
			}()
		}
		approver = g.DialWith(t, approverOpt)
		b.navigate(g.HTTP + "/chat?session=agent:main:tools")
		b.waitFor("chat page", `pincerGateway.state === 'connected' && document.querySelector('#chat-title')?.title === 'agent:main:tools' && document.querySelector('.chat-empty')`, 15*time.Second)
		b.setValue("#chat-input", "run something")
		b.click("#chat-send")
		b.waitFor("the tool in the reply", `[...document.querySelectorAll('.msg-assistant .tool-item')].some(i => i.textContent.includes('exec'))`, 20*time.Second)
		b.waitFor("tool done and the final reply", `(() => { const m = [...document.querySelectorAll('.msg-assistant.msg-done')].pop();
			return m && m.querySelector('.tool-item.tool-done') && m.textContent.includes('exec finished'); })()`, 20*time.Second)
		select {
		case <-approved:
		default:
			t.Error("the exec approval never reached the approver")
		}
	})

	t.Run("approvals", func(t *testing.T) {
		b := b.with(t)
		b.click(`a.nav-link[data-page=approvals]`)
		b.waitFor("approvals page", `!!document.querySelector('#approval-list')?.textContent.includes('Nothing is waiting')`, 10*time.Second)
		type result struct {
			raw json.RawMessage
			err error
		}
		done := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			raw, err := cli.CallRaw(ctx, "exec.approval.request", map[string]any{"command": "rm -rf /tmp/precious", "cwd": "/tmp",
				"twoPhase": true, "timeoutMs": 25000}, client.CallOptions{ExpectFinal: true})
			done <- result{raw, err}
		}()
		sel := `#approval-list li.approval`
		b.waitFor("the request, live", `document.querySelector('`+sel+`')?.textContent.includes('rm -rf /tmp/precious')`, 10*time.Second)
		b.waitFor("the approvals badge", `document.querySelector('a.nav-link[data-page=approvals] .badge')?.textContent === '1'`, 10*time.Second)
		b.click(sel + ` button[data-decision=deny]`)
		select {
		case r := <-done:
			if r.err != nil || !strings.Contains(string(r.raw), `"decision":"deny"`) {
				t.Fatalf("exec.approval.request answered %s %v", r.raw, r.err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the decision did not reach the requester")
		}
		b.waitFor("list empty and decision recorded", `!document.querySelector('`+sel+`') && document.querySelector('#approval-recent').textContent.includes('Deny')`, 10*time.Second)
	})

	t.Run("devices", func(t *testing.T) {
		b := b.with(t)
		b.click(`a.nav-link[data-page=devices]`)
		b.waitFor("devices page", `!!document.querySelector('#paired-devices table')`, 10*time.Second)
		if !eval[bool](b, `[...document.querySelectorAll('#paired-devices tr')].some(tr => tr.textContent.includes('this browser'))`) {
			t.Error("the paired list does not mark this browser")
		}
		// A phone behind a proxy asks to pair: remote, so it waits.
		phone, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		phoneOpt := client.Options{URL: g.URL, Token: g.Token, ClientID: "openclaw-ios", ClientMode: "ui",
			Platform: "iOS 18.4.0", DeviceFamily: "iPhone", DisplayName: "Test iPhone",
			Scopes:            []string{protocol.ScopeRead, protocol.ScopeWrite},
			Header:            http.Header{"X-Forwarded-For": []string{"10.1.2.3"}},
			ConnectParamsHook: func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) { phone.SignConnect(p, ch) }}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = client.Dial(ctx, phoneOpt)
		cancel()
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.DetailCode() != protocol.DetailPairingRequired {
			t.Fatalf("remote phone connect: %v", err)
		}
		reqID := detailString(pe, "requestId")
		sel := `#pending-devices li[data-request-id=` + jsString(reqID) + `]`
		b.waitFor("the pending request (live)", `!!document.querySelector(`+jsString(sel)+`) && document.querySelector(`+jsString(sel)+`).textContent.includes('Test iPhone')`, 10*time.Second)
		b.waitFor("the pending badge", `document.querySelector('a.nav-link[data-page=devices] .badge')?.textContent === '1'`, 10*time.Second)
		b.click(sel + ` button[data-action=approve]`)
		b.waitFor("approved", `!document.querySelector(`+jsString(sel)+`) && [...document.querySelectorAll('#paired-devices tr')].some(tr => tr.textContent.includes('Test iPhone'))`, 10*time.Second)
		var list protocol.DevicePairListResult
		daemontest.Call(t, cli, "device.pair.list", map[string]any{}, &list)
		paired := false
		for _, d := range list.Paired {
			paired = paired || d.DeviceID == phone.DeviceID
		}
		if !paired || len(list.Pending) != 0 {
			t.Fatalf("after approving in the UI: %+v", list)
		}
		// The phone can now connect.
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, phoneOpt)
		cancel()
		if err != nil {
			t.Fatalf("approved phone: %v", err)
		}
		c.Close()
		// Rename, then remove the phone from the paired list.
		row := `#paired-devices tr[data-device-id="` + phone.DeviceID + `"]`
		b.click(row + ` button`) // Rename
		b.setValue(row+` .inline-form input`, "Kitchen iPad")
		eval[bool](b, `(document.querySelector('`+row+` .inline-form').requestSubmit(), true)`)
		b.waitFor("renamed", `document.querySelector('`+row+`')?.textContent.includes('Kitchen iPad')`, 10*time.Second)
		eval[bool](b, `(window.confirm = () => true, true)`)
		b.click(row + ` button.btn-danger`)
		b.waitFor("removed", `!document.querySelector('`+row+`')`, 10*time.Second)
		daemontest.Call(t, cli, "device.pair.list", map[string]any{}, &list)
		for _, d := range list.Paired {
			if d.DeviceID == phone.DeviceID {
				t.Fatalf("the phone is still paired: %+v", d)
			}
		}

		// A node connects (paired silently on loopback); its capabilities wait
		// for approval, which the UI gives.
		node, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		nodeOpt := client.Options{URL: g.URL, Token: g.Token, Role: protocol.RoleNode, ClientID: protocol.ClientNodeHost,
			ClientMode: protocol.ModeNode, Platform: "linux", DeviceFamily: "Linux", DisplayName: "build-box", Caps: []string{"system"},
			ConnectParamsHook: func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
				p.Commands = []string{"system.run", "system.which"}
				node.SignConnect(p, ch)
			}}
		g.DialWith(t, nodeOpt)
		nsel := `#pending-nodes li.req`
		b.waitFor("pending node capabilities", `document.querySelector('`+nsel+`')?.textContent.includes('build-box')`, 10*time.Second)
		b.click(nsel + ` button[data-action=approve]`)
		b.waitFor("approved node with its capabilities", `(() => { const n = document.querySelector('#node-list li.node[data-node-id="`+node.DeviceID+`"]');
			return n && !document.querySelector('`+nsel+`') && n.textContent.includes('approved') && n.querySelector('.chip')?.textContent === 'system'; })()`, 10*time.Second)
		b.click(`#node-list li.node[data-node-id="` + node.DeviceID + `"] .actions button`)
		b.waitFor("node details", `document.querySelector('#node-list .node-details')?.textContent.includes('system.which')`, 10*time.Second)

		// The setup-code QR needs a reachable address; on loopback the
		// gateway's reason is shown.
		b.click("#setup-create")
		b.waitFor("setup code error", `document.querySelector('#setup-error')?.textContent.includes('loopback')`, 10*time.Second)
		b.setValue("#setup-public-url", "wss://gateway.example:18789")
		b.click("#setup-create")
		b.waitFor("setup QR", `document.querySelector('#setup-qr')?.complete && document.querySelector('#setup-qr').naturalWidth > 0`, 10*time.Second)
	})

	t.Run("channels", func(t *testing.T) {
		b := b.with(t)
		b.click(`a.nav-link[data-page=channels]`)
		row := `#channel-list .channel[data-channel=webchat] tr[data-account=default]`
		b.waitFor("webchat account", `document.querySelector('`+row+`')?.textContent.includes('healthy')`, 10*time.Second)
		b.waitFor("dm pairing", `document.querySelector('#dm-pairing').textContent.includes('No one is waiting')`, 10*time.Second)
		b.click(row + ` button[data-action=stop]`)
		b.waitFor("stopped", `!!document.querySelector('`+row+` button[data-action=start]')`, 10*time.Second)
		b.click(row + ` button[data-action=start]`)
		b.waitFor("running again", `!!document.querySelector('`+row+` button[data-action=stop]')`, 10*time.Second)
	})

	t.Run("config", func(t *testing.T) {
		b := b.with(t)
		b.click(`a.nav-link[data-page=config]`)
		b.waitFor("config loaded", `document.querySelector('#config-text')?.value.includes('fake-1')`, 10*time.Second)
		if strings.Contains(eval[string](b, `document.querySelector('#config-text').value`), "apiKey: \"test\"") {
			t.Error("a secret is shown in the config editor")
		}
		bad := "{\n  // a comment\n  gateway: {\n    port: \"x\",\n  },\n}\n"
		b.setValue("#config-text", bad)
		b.click("#config-save")
		b.waitFor("the error at its path", `!!document.querySelector('#config-issue-list li[data-path="gateway.port"]')`, 10*time.Second)
		issue := eval[map[string]any](b, `(() => { const li = document.querySelector('#config-issue-list li[data-path="gateway.port"]');
			return {line: li.dataset.line, text: li.textContent, marked: [...document.querySelectorAll('.gutter li.mark')].map(l => l.dataset.line)}; })()`)
		if issue["line"] != "4" || fmt.Sprint(issue["marked"]) != "[4]" {
			t.Errorf("issue not marked at line 4: %v", issue)
		}
		// Nothing was written.
		raw, err := os.ReadFile(filepath.Join(g.State, "pincer.json"))
		if err != nil || strings.Contains(string(raw), `port: "x"`) {
			t.Fatalf("the bad config was written: %v", err)
		}
		// A good edit is saved; the redacted secret keeps its value.
		eval[bool](b, `(window.confirm = () => true, true)`)
		b.click("#config-reload")
		b.waitFor("reloaded", `document.querySelector('#config-text').value.includes('fake-1') && document.querySelector('#config-dirty').hidden`, 10*time.Second)
		text := eval[string](b, `document.querySelector('#config-text').value`)
		if !strings.Contains(text, "__OPENCLAW_REDACTED__") {
			t.Fatalf("the api key is not redacted:\n%s", text)
		}
		b.setValue("#config-text", strings.Replace(text, "contextWindow: 128000", "contextWindow: 64000", 1))
		b.waitFor("dirty", `!document.querySelector('#config-dirty').hidden`, 5*time.Second)
		b.click("#config-save")
		b.waitFor("saved", `!!document.querySelector('#config-saved') && document.querySelector('#config-dirty').hidden`, 10*time.Second)
		raw, err = os.ReadFile(filepath.Join(g.State, "pincer.json"))
		if err != nil || !strings.Contains(string(raw), "contextWindow: 64000") || !strings.Contains(string(raw), `apiKey: "test"`) {
			t.Fatalf("saved config:\n%s (%v)", raw, err)
		}
	})

	t.Run("logs", func(t *testing.T) {
		b := b.with(t)
		b.click(`a.nav-link[data-page=logs]`)
		b.waitFor("log lines", `document.querySelectorAll('#log-lines li').length > 0`, 10*time.Second)
		b.waitFor("a known line", `document.querySelector('#log-lines').textContent.includes('gateway listening')`, 10*time.Second)
		// The level filter hides lower levels.
		eval[bool](b, `(() => { const s = document.querySelector('#log-level'); s.value = 'ERROR'; s.dispatchEvent(new Event('change')); return true; })()`)
		if n := eval[int](b, `[...document.querySelectorAll('#log-lines li')].filter(l => !l.classList.contains('log-error')).length`); n != 0 {
			t.Errorf("%d non-error lines shown with the ERROR filter", n)
		}
	})

	t.Run("gap refetch", func(t *testing.T) {
		b := b.with(t)
		b.click(`a.nav-link[data-page=overview]`)
		b.waitFor("overview", `!!document.querySelector('#ov-version')`, 10*time.Second)
		calls := eval[int](b, `new Promise(resolve => {
			const gw = pincerGateway; const orig = gw.request.bind(gw); let n = 0;
			gw.request = (m, p, o) => { if (m === 'health') n++; return orig(m, p, o); };
			gw.dispatch({type: 'event', event: 'tick', payload: {ts: Date.now()}, seq: (gw.lastSeq || 0) + 5});
			setTimeout(() => { gw.request = orig; resolve(n); }, 500);
		})`)
		if calls == 0 {
			t.Error("a seq gap did not refetch the page")
		}
	})

	t.Run("markdown safety", func(t *testing.T) {
		b := b.with(t)
		got := eval[map[string]any](b, `import('/js/markdown.js').then(({renderMarkdown}) => {
			const hostile = [
				'<script>window.pwned = 1</script>', '<img src=x onerror="window.pwned = 1">', '[click](javascript:window.pwned=1)',
				'[x](data:text/html,<script>1</script>)', '<a href="javascript:1">a</a>', '**<b onmouseover=1>bold</b>**',
				'`+"`"+`<i>code</i>`+"`"+`', '> <iframe src="https://evil.example">', '- [ok](https://example.com/a_b?c=d)', 'see https://example.com/x.',
				'<svg onload=1>', '\u0060\u0060\u0060html\n<script>alert(1)</script>\n\u0060\u0060\u0060',
			].join('\n\n');
			const root = document.createElement('div');
			root.append(renderMarkdown(hostile));
			const els = [...root.querySelectorAll('*')];
			return {
				tags: [...new Set(els.map(e => e.tagName.toLowerCase()))].sort(),
				handlers: els.filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
				hrefs: [...root.querySelectorAll('a')].map(a => a.getAttribute('href') + ' ' + a.rel),
				text: root.textContent, pwned: !!window.pwned,
			};
		})`)
		tags := fmt.Sprint(got["tags"])
		for _, bad := range []string{"script", "img", "iframe", "svg", " b ", " i "} {
			if strings.Contains(" "+strings.Trim(tags, "[]")+" ", " "+strings.TrimSpace(bad)+" ") {
				t.Errorf("markdown made a <%s> element: %s", strings.TrimSpace(bad), tags)
			}
		}
		if got["handlers"] != float64(0) || got["pwned"] != false {
			t.Errorf("event handlers or script ran: %v", got)
		}
		hrefs := fmt.Sprint(got["hrefs"])
		// Only http(s) URLs become links (the iframe's URL is shown as one).
		if hrefs != "[https://evil.example/ noopener noreferrer nofollow https://example.com/a_b?c=d noopener noreferrer nofollow https://example.com/x noopener noreferrer nofollow]" {
			t.Errorf("links: %s", hrefs)
		}
		if txt, _ := got["text"].(string); !strings.Contains(txt, "<script>window.pwned = 1</script>") || !strings.Contains(txt, "[click](javascript:window.pwned=1)") {
			t.Errorf("hostile markup should stay visible as text: %q", txt)
		}
	})

	t.Run("phone", func(t *testing.T) {
		b := b.with(t)
		ctx, cancel := b.bounded(10 * time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		for _, page := range []string{"chat", "overview", "devices", "config"} {
			b.navigate(g.HTTP + "/" + page)
			b.waitFor(page+" connected", `globalThis.pincerGateway?.state === 'connected'`, 15*time.Second)
			time.Sleep(300 * time.Millisecond)
			w := eval[int](b, `document.documentElement.scrollWidth`)
			if w > 375 {
				t.Errorf("%s overflows a 375px screen: %dpx wide", page, w)
			}
		}
		// On a phone the chat composer is on screen and the session list is a
		// drawer.
		b.navigate(g.HTTP + "/chat")
		b.waitFor("composer visible", `(() => { const r = document.querySelector('#chat-send').getBoundingClientRect(); return r.bottom <= innerHeight && r.right <= innerWidth && r.width > 0; })()`, 10*time.Second)
		b.click(".sessions-toggle")
		b.waitFor("session drawer", `document.querySelector('#session-list').getBoundingClientRect().left >= 0`, 5*time.Second)
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
			t.Fatal(err)
		}
	})

	// No script error, and nothing the CSP had to refuse.
	if p := b.consoleProblems(); len(p) > 0 {
		t.Errorf("console problems:\n%s", strings.Join(p, "\n"))
	}

	// The token was never logged.
	logs, _ := filepath.Glob(filepath.Join(g.State, "logs", "*"))
	for _, p := range logs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), g.Token) {
			t.Errorf("the gateway token is in %s", p)
		}
	}
}

// detailString reads a string from an error's details object.
func detailString(pe *protocol.Error, key string) string {
	var m map[string]any
	switch d := pe.Details.(type) {
	case map[string]any:
		m = d
	case json.RawMessage:
		_ = json.Unmarshal(d, &m)
	}
	s, _ := m[key].(string)
	return s
}

// TestReconnectAfterRestart: the UI rides out a gateway restart (banner,
// backoff, reconnect with its device token), a tab without the shared
// token signs in with the device token alone, and a revoked device token
// falls back to the tab's shared token.
func TestReconnectAfterRestart(t *testing.T) {
	b := newBrowser(t, nil)
	g := daemontest.Start(t, daemon.Options{}, "")
	addr := strings.TrimPrefix(g.HTTP, "http://")

	b.navigate(g.HTTP + "/overview#token=" + url.QueryEscape(g.Token))
	b.waitFor("connected", `globalThis.pincerGateway?.state === 'connected'`, 15*time.Second)
	boot1 := eval[string](b, `pincerGateway.hello.server.bootId`)
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	b.waitFor("reconnecting banner", `pincerGateway.state === 'reconnecting' && !document.getElementById('banner').hidden &&
		document.getElementById('banner').textContent.includes('Reconnecting')`, 10*time.Second)
	// Requests fail fast while disconnected, and say so.
	if msg := eval[string](b, `pincerGateway.request('health').then(() => 'ok', e => e.message)`); !strings.Contains(msg, "not connected") {
		t.Errorf("request while disconnected: %q", msg)
	}

	cli := runDaemonOn(t, addr)
	b.waitFor("reconnected", `pincerGateway.state === 'connected' && document.getElementById('banner').hidden`, 30*time.Second)
	if m := eval[string](b, `pincerGateway.hello.auth.method`); m != "device-token" {
		t.Errorf("reconnected with %q, want the device token", m)
	}
	if boot2 := eval[string](b, `pincerGateway.hello.server.bootId`); boot2 == boot1 {
		t.Error("same bootId after a restart?")
	}
	b.waitFor("overview refreshed", `document.querySelector('#ov-version')?.textContent.length > 0`, 10*time.Second)

	// A tab without the shared token: the device token alone signs in.
	eval[bool](b, `(sessionStorage.clear(), true)`)
	b.navigate(g.HTTP + "/overview")
	b.waitFor("connected with the device token", `globalThis.pincerGateway?.state === 'connected' && pincerGateway.hello.auth.method === 'device-token'`, 15*time.Second)

	// Revoking the device token closes the UI's connection; with no shared
	// token in this tab the UI asks to sign in, and signing in pairs anew.
	deviceID := eval[string](b, `pincerGateway.identity.deviceId`)
	daemontest.Call(t, cli, "device.token.revoke", map[string]any{"deviceId": deviceID, "role": "operator"}, nil)
	b.waitFor("sign-in form", `!!document.querySelector('#signin-form')`, 15*time.Second)
	b.setValue("#token-input", g.Token)
	eval[bool](b, `(document.querySelector('#signin-form').requestSubmit(), true)`)
	b.waitFor("signed in again", `pincerGateway.state === 'connected' && pincerGateway.hello.auth.method === 'token' && !!document.querySelector('#ov-version')`, 15*time.Second)
	if v := eval[string](b, `document.querySelector('#token-input')?.value ?? ''`); v != "" {
		t.Error("the token stays in the form")
	}
}

// runDaemonOn runs the gateway (state and config from the environment
// daemontest set) on a fixed address, to restart one on its old port. It
// returns a CLI client; the gateway stops at the end of the test.
func runDaemonOn(t *testing.T, addr string) *client.Client {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s again: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, daemon.Options{Listener: ln, Ready: func(u string) { ready <- u }}) }()
	var wsURL string
	select {
	case wsURL = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("gateway did not restart: %v", err)
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("gateway restart timed out")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("restarted gateway did not stop")
		}
	})
	tok, err := os.ReadFile(filepath.Join(os.Getenv("PINCER_STATE_DIR"), "credentials", "gateway-token"))
	if err != nil {
		t.Fatal(err)
	}
	g := &daemontest.Gateway{URL: wsURL, Token: strings.TrimSpace(string(tok))}
	return g.Dial(t, protocol.ScopeAdmin)
}

// tinyPNG is a 1×1 PNG.
var tinyPNG = []byte{0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
	0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82}
