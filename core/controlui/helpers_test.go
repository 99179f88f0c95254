package controlui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pincerhq/pincer/core/agent/agenttest"
)

// startModel runs the fake model for the test.
func startModel(t *testing.T) *agenttest.Model {
	return agenttest.StartT(t)
}

// gatewayConfig points the main agent at m and adds extra top-level keys.
func gatewayConfig(m *agenttest.Model, extra string) string { return m.ConfigWith(extra) }

// browser is a headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
	log *consoleLog
}

// consoleLog collects a tab's console messages.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

// with is the same tab reporting failures to t (a subtest).
func (b *browser) with(t *testing.T) *browser { return &browser{t: t, ctx: b.ctx, log: b.log} }

// newBrowser starts Chromium (skipping the test without one) with extra
// command-line flags; it is stopped at the end of the test.
func newBrowser(t *testing.T, flags map[string]any) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Chromium; skipped in -short mode")
	}
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium found; install one (Debian: apt-get install chromium) to run the Control UI browser tests")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses root with its sandbox (CI containers)
	}
	for k, v := range flags {
		opts = append(opts, chromedp.Flag(k, v))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		allocCancel()
	})
	// The first action starts the browser, which lives as long as the
	// context of that call: give it the tab's context and bound the wait.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Navigate("about:blank")) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("chromium did not start: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not start within 30s")
	}
	return &browser{t: t, ctx: ctx, log: &consoleLog{}}
}

// newTab opens another tab of the same browser.
func (b *browser) newTab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if _, err := runBounded(ctx, 20*time.Second, chromedp.Action[chromedp.Void](chromedp.Navigate("about:blank"))); err != nil {
		b.t.Fatalf("new tab: %v", err)
	}
	return &browser{t: b.t, ctx: ctx, log: &consoleLog{}}
}

// watchConsole records the tab's console messages and exceptions.
func (b *browser) watchConsole() {
	msgs := chromedp.Console(b.ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.log.mu.Lock()
			b.log.msgs = append(b.log.msgs, m)
			b.log.mu.Unlock()
		}
	}()
}

// consoleProblems are the exceptions, errors and CSP reports seen so far.
func (b *browser) consoleProblems() []string {
	b.log.mu.Lock()
	defer b.log.mu.Unlock()
	var out []string
	for _, m := range b.log.msgs {
		if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy") {
			out = append(out, m.String()+" @"+m.URL)
		}
	}
	return out
}

func (b *browser) bounded(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, d)
}

func (b *browser) navigate(u string) {
	b.t.Helper()
	ctx, cancel := b.bounded(20 * time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		b.t.Fatalf("navigate %s: %v", u, err)
	}
}

// eval runs JavaScript (awaiting a promise) and decodes its value into T.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := b.bounded(20 * time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("eval %s: %v", abbrev(js), err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is truthy; on timeout it
// fails with the page's state described by describe (a JS expression).
func (b *browser) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := b.bounded(timeout + 5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		state := b.state()
		b.t.Fatalf("waiting for %s (%s): %v\npage state: %s", what, abbrev(expr), err, state)
	}
}

// state summarizes the page for failure messages.
func (b *browser) state() string {
	ctx, cancel := b.bounded(5 * time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({url: location.href,
		conn: globalThis.pincerGateway && pincerGateway.state, info: globalThis.pincerGateway && pincerGateway.info,
		banner: document.getElementById('banner')?.textContent, main: document.getElementById('main')?.innerText.slice(0, 1500)})`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

// click clicks the first element matching a CSS selector (in the page's own
// event path, like a person's click).
func (b *browser) click(selector string) {
	b.t.Helper()
	sel, _ := json.Marshal(selector)
	b.waitFor("clickable "+selector, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e && !e.disabled; })()`, sel), 10*time.Second)
	eval[bool](b, fmt.Sprintf(`(() => { document.querySelector(%s).click(); return true; })()`, sel))
}

// setValue types into an input or textarea (value + input event).
func (b *browser) setValue(selector, value string) {
	b.t.Helper()
	sel, _ := json.Marshal(selector)
	val, _ := json.Marshal(value)
	b.waitFor("field "+selector, fmt.Sprintf(`!!document.querySelector(%s)`, sel), 10*time.Second)
	eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, sel, val))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}
