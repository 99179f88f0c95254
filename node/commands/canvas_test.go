//go:build unix

package commands

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func wantNoCanvas(t *testing.T, r *Registry) {
	t.Helper()
	if slices.Contains(r.Caps(), "canvas") {
		t.Errorf("canvas cap declared: %v", r.Caps())
	}
	for _, name := range canvasCommands {
		if hasCommand(r, name) {
			t.Errorf("%s declared without a working Chromium", name)
		}
	}
	if _, err := call(t, r, "canvas.present", nil); err == nil || err.Code != CodeInvalidRequest {
		t.Errorf("canvas.present on a node without canvas: %v, want unknown command", err)
	}
}

func TestCanvasNotDeclaredWithoutChromium(t *testing.T) {
	t.Run("configured path missing", func(t *testing.T) {
		wantNoCanvas(t, probe(t, Config{ChromiumPath: filepath.Join(t.TempDir(), "no-such-chromium")}))
	})
	t.Run("nothing on PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		wantNoCanvas(t, probe(t, Config{}))
	})
	t.Run("binary that does not start", func(t *testing.T) {
		fake := filepath.Join(t.TempDir(), "chromium")
		if err := os.WriteFile(fake, []byte("#!/bin/sh\necho broken >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		wantNoCanvas(t, probe(t, Config{ChromiumPath: fake}))
		if d := time.Since(start); d > canvasStartTimeout {
			t.Errorf("probing a broken Chromium took %s", d)
		}
	})
}

func TestCanvasURLValidation(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080/x", "HTTPS://example.com", "file:///tmp/a.html", "data:text/html,<p>x", "about:blank"} {
		if _, err := canvasURL(ok); err != nil {
			t.Errorf("canvasURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "  ", "javascript:alert(1)", "ftp://x/y", "chrome://settings", "http:///nohost", "example.com/page", "view-source:http://x"} {
		var e *Error
		if _, err := canvasURL(bad); !errors.As(err, &e) || e.Code != CodeInvalidRequest {
			t.Errorf("canvasURL(%q) = %v, want INVALID_REQUEST", bad, err)
		}
	}
}

// chromiumRegistry probes with the host's Chromium, skipping without one.
func chromiumRegistry(t *testing.T) *Registry {
	t.Helper()
	if testing.Short() {
		t.Skip("canvas: starts Chromium; skipped in -short mode")
	}
	path, err := findChromium(Config{})
	if err != nil {
		t.Skipf("canvas: no Chromium found (%v); install one (Debian: apt-get install chromium) to test canvas.*", err)
	}
	r := probe(t, Config{})
	for _, name := range canvasCommands {
		if !hasCommand(r, name) {
			t.Fatalf("Chromium %s found but %s not declared (does it start? caps %v)", path, name, r.Caps())
		}
	}
	if !slices.Contains(r.Caps(), "canvas") {
		t.Fatalf("canvas cap not declared: %v", r.Caps())
	}
	return r
}

// currentCanvas returns the backend's live session (nil when hidden).
func currentCanvas(r *Registry) *canvasSession {
	r.canvas.mu.Lock()
	defer r.canvas.mu.Unlock()
	return r.canvas.sess
}

func decodeSnapshot(t *testing.T, out map[string]any, format string) image.Config {
	t.Helper()
	wantKeys(t, "snapshot", out, "format", "base64", "width", "height")
	if out["format"] != format {
		t.Fatalf("snapshot format = %v, want %s", out["format"], format)
	}
	data, err := base64.StdEncoding.DecodeString(out["base64"].(string))
	if err != nil {
		t.Fatalf("snapshot base64: %v", err)
	}
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("snapshot does not decode: %v", err)
	}
	if got != format {
		t.Fatalf("snapshot decodes as %s, want %s", got, format)
	}
	if ct := http.DetectContentType(data); ct != "image/"+format {
		t.Fatalf("snapshot content type %s, want image/%s", ct, format)
	}
	if out["width"] != float64(cfg.Width) || out["height"] != float64(cfg.Height) {
		t.Fatalf("snapshot reports %vx%v, image is %dx%d", out["width"], out["height"], cfg.Width, cfg.Height)
	}
	return cfg
}

func TestCanvasChromium(t *testing.T) {
	r := chromiumRegistry(t)

	// Nothing presented yet: no browser runs.
	if s := currentCanvas(r); s != nil {
		t.Fatal("a canvas browser runs before the first command")
	}
	e := wantErr(t, r, "canvas.snapshot", nil, CodeCanvasUnavailable)
	if e.Message != "canvas is not presented" {
		t.Fatalf("snapshot before present: %q", e.Message)
	}
	wantErr(t, r, "canvas.eval", map[string]any{"javaScript": "1"}, CodeCanvasUnavailable)

	// Bad params fail before a browser starts.
	wantErr(t, r, "canvas.present", map[string]any{"url": "javascript:alert(1)"}, CodeInvalidRequest)
	wantErr(t, r, "canvas.present", map[string]any{"placement": map[string]any{"width": 0, "height": 10}}, CodeInvalidRequest)
	wantErr(t, r, "canvas.present", `{"placement":"big"}`, CodeInvalidRequest)
	if s := currentCanvas(r); s != nil {
		t.Fatal("an invalid present started the browser")
	}

	page := "data:text/html," + url.PathEscape(`<html><head><title>Pincer Canvas</title></head><body style="margin:0;background:#3a7"><h1>hi</h1></body></html>`)
	out := mustCall(t, r, "canvas.present", map[string]any{
		"url":       page,
		"placement": map[string]any{"x": 10, "y": 20, "width": 640, "height": 480},
	})
	if out["ok"] != true {
		t.Fatalf("present = %v", out)
	}
	s := currentCanvas(r)
	if s == nil {
		t.Fatal("present left no session")
	}
	dir := s.dir
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("user data dir %s: %v", dir, err)
	}

	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", chromedp.FromContext(s.tab).Browser.Process().Pid)); err == nil {
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		for _, want := range []string{"--headless=new", "--user-data-dir=" + dir, "--window-size=640,480"} {
			if !slices.Contains(args, want) {
				t.Errorf("chromium args %q lack %s", args, want)
			}
		}
		if sandboxOff := slices.Contains(args, "--no-sandbox"); sandboxOff != (os.Geteuid() == 0) {
			t.Errorf("chromium --no-sandbox = %v as uid %d", sandboxOff, os.Geteuid())
		}
	}
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "document.title"})["result"]; got != "Pincer Canvas" {
		t.Fatalf("document.title = %#v", got)
	}
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "1+1"})["result"]; got != float64(2) {
		t.Fatalf("1+1 = %#v", got)
	}
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "[innerWidth, innerHeight]"})["result"]; !slices.Equal(asFloats(got), []float64{640, 480}) {
		t.Fatalf("viewport = %#v, want [640 480]", got)
	}
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "({a: [1, 'x', null], b: true})"})["result"]; !strings.Contains(mustJSON(t, got), `"b":true`) {
		t.Fatalf("object result = %#v", got)
	}
	res := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "undefined"})
	if v, ok := res["result"]; !ok || v != nil {
		t.Fatalf("undefined = %#v", res)
	}
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "Promise.resolve(41).then(x => x + 1)"})["result"]; got != float64(42) {
		t.Fatalf("promise = %#v", got)
	}
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "NaN"})["result"]; got != "NaN" {
		t.Fatalf("NaN = %#v", got)
	}
	e = wantErr(t, r, "canvas.eval", map[string]any{"javaScript": "throw new Error('boom')"}, CodeCanvasEvalFailed)
	if !strings.Contains(e.Message, "boom") {
		t.Fatalf("eval exception message = %q", e.Message)
	}
	wantErr(t, r, "canvas.eval", map[string]any{"javaScript": "Promise.reject(new Error('nope'))"}, CodeCanvasEvalFailed)
	wantErr(t, r, "canvas.eval", map[string]any{"javaScript": "this is not javascript"}, CodeCanvasEvalFailed)
	wantErr(t, r, "canvas.eval", map[string]any{}, CodeInvalidRequest)

	// Snapshots.
	cfg := decodeSnapshot(t, mustCall(t, r, "canvas.snapshot", map[string]any{"format": "png", "maxWidth": 320}), "png")
	if cfg.Width != 320 || cfg.Height != 240 {
		t.Fatalf("png snapshot %dx%d, want 320x240", cfg.Width, cfg.Height)
	}
	cfg = decodeSnapshot(t, mustCall(t, r, "canvas.snapshot", nil), "png")
	if cfg.Width != 640 || cfg.Height != 480 {
		t.Fatalf("default snapshot %dx%d, want 640x480", cfg.Width, cfg.Height)
	}
	cfg = decodeSnapshot(t, mustCall(t, r, "canvas.snapshot", map[string]any{"format": "jpeg", "quality": 0.5, "maxWidth": 4000}), "jpeg")
	if cfg.Width != 640 {
		t.Fatalf("jpeg snapshot width %d, want 640 (maxWidth never upscales)", cfg.Width)
	}
	wantErr(t, r, "canvas.snapshot", map[string]any{"format": "gif"}, CodeInvalidRequest)
	wantErr(t, r, "canvas.snapshot", map[string]any{"quality": 2}, CodeInvalidRequest)
	wantErr(t, r, "canvas.snapshot", map[string]any{"maxWidth": -1}, CodeInvalidRequest)

	// Navigation.
	for _, bad := range []string{"javascript:alert(1)", "ftp://example.com/", "chrome://version", "", "nota url"} {
		wantErr(t, r, "canvas.navigate", map[string]any{"url": bad}, CodeInvalidRequest)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<title>served</title><p>over http</p>`))
	}))
	defer srv.Close()
	mustCall(t, r, "canvas.navigate", map[string]any{"url": srv.URL + "/page"})
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "document.title"})["result"]; got != "served" {
		t.Fatalf("title after http navigate = %#v", got)
	}
	mustCall(t, r, "canvas.navigate", map[string]any{"url": "about:blank"})
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "location.href"})["result"]; got != "about:blank" {
		t.Fatalf("href after about:blank = %#v", got)
	}

	// Re-present with a new size resizes the running canvas.
	mustCall(t, r, "canvas.present", map[string]any{"placement": map[string]any{"width": 400, "height": 300}})
	if currentCanvas(r) != s {
		t.Fatal("re-present restarted the browser")
	}
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "innerWidth"})["result"]; got != float64(400) {
		t.Fatalf("innerWidth after resize = %#v", got)
	}

	// Hide closes the browser and removes its profile.
	if out := mustCall(t, r, "canvas.hide", nil); out["ok"] != true {
		t.Fatalf("hide = %v", out)
	}
	if currentCanvas(r) != nil {
		t.Fatal("hide left a session")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("user data dir %s still there after hide: %v", dir, err)
	}
	e = wantErr(t, r, "canvas.snapshot", nil, CodeCanvasUnavailable)
	if e.Message != "canvas is not presented" {
		t.Fatalf("snapshot after hide: %q", e.Message)
	}
	mustCall(t, r, "canvas.hide", nil) // hiding twice is fine

	// navigate presents a hidden canvas.
	mustCall(t, r, "canvas.navigate", map[string]any{"url": page})
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "document.title"})["result"]; got != "Pincer Canvas" {
		t.Fatalf("title after navigate-to-present = %#v", got)
	}
}

func TestCanvasCrashAndClose(t *testing.T) {
	r := chromiumRegistry(t)
	mustCall(t, r, "canvas.present", map[string]any{"url": "data:text/html,<title>one</title>"})
	s := currentCanvas(r)
	proc := chromedp.FromContext(s.tab).Browser.Process()
	if proc == nil {
		t.Fatal("no browser process")
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	// The next command notices and reports CANVAS_UNAVAILABLE promptly.
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for {
		_, err := call(t, r, "canvas.eval", map[string]any{"javaScript": "1"})
		if err != nil {
			if err.Code != CodeCanvasUnavailable {
				t.Fatalf("eval on a killed browser: %v, want CANVAS_UNAVAILABLE", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("eval kept answering after the browser was killed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("crash detection took %s", d)
	}
	if currentCanvas(r) != nil {
		t.Fatal("crashed session kept")
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Fatalf("crashed browser's user data dir still there: %v", err)
	}
	// present restarts it.
	mustCall(t, r, "canvas.present", map[string]any{"url": "data:text/html,<title>two</title>"})
	if got := mustCall(t, r, "canvas.eval", map[string]any{"javaScript": "document.title"})["result"]; got != "two" {
		t.Fatalf("title after restart = %#v", got)
	}

	// Close stops the browser and removes its profile.
	s = currentCanvas(r)
	proc = chromedp.FromContext(s.tab).Browser.Process()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Fatalf("user data dir still there after Close: %v", err)
	}
	if !browserGone(proc.Pid, 10*time.Second) {
		t.Fatalf("browser pid %d still running after Close", proc.Pid)
	}
	wantErr(t, r, "canvas.present", nil, CodeCanvasUnavailable)
}

func asFloats(v any) []float64 {
	xs, _ := v.([]any)
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		f, _ := x.(float64)
		out = append(out, f)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// browserGone waits until pid is gone.
func browserGone(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
