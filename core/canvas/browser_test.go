package canvas_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium, skipping without one. Every action on
// the returned context is bounded by its deadline.
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Chromium; skipped in -short mode")
	}
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium found; install one (Debian: apt-get install chromium) to run the browser tests")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path), chromedp.Flag("headless", "new"), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Skipf("Chromium %s does not start: %v", path, err)
	}
	return tab
}

// waitJS polls a JavaScript condition until it is true.
func waitJS(t *testing.T, ctx context.Context, cond string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`Boolean(`+cond+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.outerHTML.slice(0, 4000) : ""`))
			t.Fatalf("waited %v for %s (err %v); page: %s", within, cond, err, html)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return out
}

func TestA2UIBrowser(t *testing.T) {
	ctx := browser(t)
	e := start(t, "")
	node := dialNode(t, e.g, "browser")
	page := capURL(t, node) + "/__openclaw__/a2ui/?agent=main"

	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.body.dataset.state === "connected"`, 15*time.Second)

	msgs := []string{
		`{"surfaceUpdate":{"surfaceId":"main","components":[
			{"id":"root","component":{"Column":{"children":{"explicitList":["title","img","form","card","list","tabs","div","modal","submit"]}}}},
			{"id":"title","component":{"Text":{"text":{"literalString":"Order form"},"usageHint":"h1"}}},
			{"id":"img","component":{"Image":{"url":{"literalString":"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='8' height='8'/%3E"},"usageHint":"icon"}}},
			{"id":"form","component":{"Row":{"children":{"explicitList":["name","agree"]},"alignment":"center"}}},
			{"id":"name","component":{"TextField":{"label":{"literalString":"Name"},"text":{"path":"/form/name"}}}},
			{"id":"agree","component":{"CheckBox":{"label":{"literalString":"I agree"},"value":{"path":"/form/agree"}}}},
			{"id":"card","component":{"Card":{"child":"greeting"}}},
			{"id":"greeting","component":{"Text":{"text":{"path":"/greeting"}}}},
			{"id":"list","component":{"List":{"children":{"template":{"componentId":"item","dataBinding":"/items"}}}}},
			{"id":"item","component":{"Text":{"text":{"path":"name"}}}},
			{"id":"tabs","component":{"Tabs":{"tabItems":[{"title":{"literalString":"First"},"child":"tab1"},{"title":{"literalString":"Second"},"child":"tab2"}]}}},
			{"id":"tab1","component":{"Text":{"text":{"literalString":"first tab body"}}}},
			{"id":"tab2","component":{"Text":{"text":{"literalString":"second tab body"}}}},
			{"id":"div","component":{"Divider":{}}},
			{"id":"modal","component":{"Modal":{"entryPointChild":"openText","contentChild":"modalBody"}}},
			{"id":"openText","component":{"Text":{"text":{"literalString":"Details"}}}},
			{"id":"modalBody","component":{"Text":{"text":{"literalString":"modal body text"}}}},
			{"id":"submitText","component":{"Text":{"text":{"literalString":"Submit"}}}},
			{"id":"submit","component":{"Button":{"child":"submitText","primary":true,"action":{"name":"submit","context":[
				{"key":"name","value":{"path":"/form/name"}},{"key":"agree","value":{"path":"/form/agree"}},{"key":"n","value":{"literalNumber":3}}]}}}}]}}`,
		`{"dataModelUpdate":{"surfaceId":"main","contents":[
			{"key":"greeting","valueString":"Hello from the agent"},
			{"key":"form","valueMap":[{"key":"name","valueString":"Ada"},{"key":"agree","valueBoolean":false}]},
			{"key":"items","valueMap":[{"key":"0","valueMap":[{"key":"name","valueString":"apple"}]},{"key":"1","valueMap":[{"key":"name","valueString":"pear"}]}]}]}}`,
		`{"beginRendering":{"surfaceId":"main","root":"root","styles":{"primaryColor":"#AA3300"}}}`,
	}
	raw := make([]json.RawMessage, len(msgs))
	for i, m := range msgs {
		raw[i] = json.RawMessage(m)
	}
	if err := e.host.PushA2UI("main", raw); err != nil {
		t.Fatal(err)
	}
	q := func(id string) string { return `document.querySelector('[data-a2ui-id="` + id + `"]')` }
	waitJS(t, ctx, q("submit"), 10*time.Second)

	checks := map[string]string{
		q("title") + `.tagName`:                     "H1",
		q("title") + `.textContent`:                 "Order form",
		q("img") + `.tagName`:                       "IMG",
		q("form") + `.style.flexDirection`:          "row",
		q("name") + `.querySelector("input").value`: "Ada",
		q("name") + `.textContent`:                  "Name",
		q("agree") + `.textContent`:                 "I agree",
		q("card") + `.className.includes("a2ui-card") && ` + q("card") + `.textContent`:                "Hello from the agent",
		`[...` + q("list") + `.querySelectorAll("[role=listitem]")].map(e => e.textContent).join(",")`: "apple,pear",
		`[...` + q("tabs") + `.querySelectorAll("[role=tab]")].map(e => e.textContent).join(",")`:      "First,Second",
		q("tab2") + `.closest("[role=tabpanel]").hidden`:                                               "true",
		q("modalBody") + `.closest("dialog").open`:                                                     "false",
		q("submit") + `.tagName + " " + ` + q("submit") + `.textContent`:                               "BUTTON Submit",
		`getComputedStyle(` + q("submit") + `).backgroundColor`:                                        "rgb(170, 51, 0)",
		`document.getElementById("empty").hidden`:                                                      "true",
	}
	for expr, want := range checks {
		if got := evalJS[any](t, ctx, expr); strings.TrimSpace(toString(got)) != want {
			t.Errorf("%s = %v, want %s", expr, got, want)
		}
	}
	if got := evalJS[bool](t, ctx, q("agree")+`.querySelector("input").checked`); got {
		t.Error("checkbox starts checked")
	}

	// Inputs write to the data model; tabs and the modal work.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-a2ui-id="name"] input`)),
		chromedp.SendKeys(chromedp.CSS(`[data-a2ui-id="name"] input`), " Lovelace"),
		chromedp.Click(chromedp.CSS(`[data-a2ui-id="agree"] input`)),
		chromedp.Click(chromedp.CSS(`[data-a2ui-id="tabs"] [role=tab]:nth-child(2)`)),
	); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!`+q("tab2")+`.closest("[role=tabpanel]").hidden && `+q("tab1")+`.closest("[role=tabpanel]").hidden`, 5*time.Second)
	waitJS(t, ctx, `pincerA2UI.surfaces.get("main").data.form.name === "Ada Lovelace" && pincerA2UI.surfaces.get("main").data.form.agree === true`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-a2ui-id="openText"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, q("modalBody")+`.closest("dialog").open && `+q("modalBody")+`.checkVisibility()`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`dialog[open] .a2ui-modal-close`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!`+q("modalBody")+`.closest("dialog").open`, 5*time.Second)

	// A data update from the agent re-renders in place, keeping what the
	// user typed and the selected tab.
	if err := e.host.PushA2UI("main", []json.RawMessage{json.RawMessage(
		`{"dataModelUpdate":{"surfaceId":"main","path":"/","contents":[{"key":"greeting","valueString":"Updated"},{"key":"form","valueMap":[{"key":"name","valueString":"Ada Lovelace"},{"key":"agree","valueBoolean":true}]},{"key":"items","valueString":"[{\"name\":\"fig\"}]"}]}}`)}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, q("greeting")+`.textContent === "Updated"`, 5*time.Second)
	waitJS(t, ctx, `[...`+q("list")+`.querySelectorAll("[role=listitem]")].map(e => e.textContent).join(",") === "fig"`, 5*time.Second)
	if !evalJS[bool](t, ctx, `!`+q("tab2")+`.closest("[role=tabpanel]").hidden`) {
		t.Error("the selected tab was lost on re-render")
	}

	// The button's action reaches the agent.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-a2ui-id="submit"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.body.dataset.lastRunId`, 10*time.Second)
	waitModel(t, e.model, `[canvas action] submit {"name":"Ada Lovelace","agree":true,"n":3}`)

	// deleteSurface clears the page.
	if err := e.host.PushA2UI("main", []json.RawMessage{json.RawMessage(`{"deleteSurface":{"surfaceId":"main"}}`)}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!`+q("root")+` && !document.getElementById("empty").hidden`, 5*time.Second)
}

func TestCanvasBrowserLiveReload(t *testing.T) {
	ctx := browser(t)
	e := start(t, "")
	node := dialNode(t, e.g, "browser")
	dir, err := e.host.AgentDir("main")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<html><body><h1 id="v">one</h1></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(capURL(t, node)+"/__openclaw__/canvas/main/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.getElementById("v") && document.getElementById("v").textContent === "one"`, 10*time.Second)
	time.Sleep(700 * time.Millisecond) // the stream is open and the poller has its first fingerprint
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<html><body><h1 id="v">two</h1></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.getElementById("v") && document.getElementById("v").textContent === "two"`, 10*time.Second)
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
