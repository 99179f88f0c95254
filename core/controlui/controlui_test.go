package controlui_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/assets"
	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/controlui"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, method, u string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// directives parses a CSP header into directive -> sources.
func directives(csp string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[f[0]] = f[1:]
		}
	}
	return out
}

func checkSecurityHeaders(t *testing.T, what string, r response) {
	t.Helper()
	h := r.header
	csp := h.Get("Content-Security-Policy")
	d := directives(csp)
	for _, name := range []string{"default-src", "script-src", "style-src", "connect-src", "img-src", "frame-ancestors", "base-uri", "form-action", "object-src"} {
		if _, ok := d[name]; !ok {
			t.Errorf("%s: CSP has no %s: %q", what, name, csp)
		}
	}
	if strings.Join(d["script-src"], " ") != "'self'" {
		t.Errorf("%s: script-src = %v, want only 'self'", what, d["script-src"])
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
		t.Errorf("%s: CSP allows inline code, eval or wildcards: %q", what, csp)
	}
	if strings.Join(d["frame-ancestors"], " ") != "'none'" || strings.Join(d["base-uri"], " ") != "'none'" ||
		strings.Join(d["object-src"], " ") != "'none'" || strings.Join(d["form-action"], " ") != "'self'" {
		t.Errorf("%s: CSP %q", what, csp)
	}
	for _, src := range d["connect-src"] {
		if src == "ws:" || src == "wss:" || src == "http:" || src == "https:" {
			t.Errorf("%s: connect-src allows any host by scheme: %v", what, d["connect-src"])
		}
	}
	want := map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
		"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	if v := h.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("%s: Access-Control-Allow-Origin %q: another origin could read the response", what, v)
	}
}

func TestServesUIWithSecurityHeaders(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	index := get(t, "GET", g.HTTP+"/", nil)
	if index.status != 200 || !strings.HasPrefix(index.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", index.status, index.header.Get("Content-Type"))
	}
	checkSecurityHeaders(t, "GET /", index)
	if cc := index.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("index Cache-Control %q, want no-store", cc)
	}
	if !strings.Contains(index.body, `<script type="module" src="/js/main.js"></script>`) {
		t.Errorf("index does not load the app:\n%s", index.body)
	}
	if g.Token == "" || strings.Contains(index.body, g.Token) {
		t.Fatalf("the gateway token (%d chars) is in the served HTML", len(g.Token))
	}
	host := strings.TrimPrefix(g.HTTP, "http://")
	if d := directives(index.header.Get("Content-Security-Policy")); strings.Join(d["connect-src"], " ") != "'self' ws://"+host+" wss://"+host {
		t.Errorf("connect-src %v, want 'self' and this host's ws/wss only", d["connect-src"])
	}

	// Files with their types; revalidated with an ETag.
	for path, ctype := range map[string]string{
		"/app.css": "text/css", "/js/main.js": "text/javascript", "/js/pages/chat.js": "text/javascript",
		"/favicon.ico": "image/x-icon", "/favicon.svg": "image/svg+xml", "/index.html": "text/html",
	} {
		r := get(t, "GET", g.HTTP+path, nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s = %d %q, want 200 %s", path, r.status, r.header.Get("Content-Type"), ctype)
			continue
		}
		checkSecurityHeaders(t, "GET "+path, r)
		if et := r.header.Get("ETag"); et != "" {
			if again := get(t, "GET", g.HTTP+path, map[string]string{"If-None-Match": et}); again.status != http.StatusNotModified {
				t.Errorf("GET %s with its ETag = %d, want 304", path, again.status)
			}
		} else if path != "/index.html" {
			t.Errorf("GET %s: no ETag", path)
		}
	}

	// SPA fallback for the app's routes, not for API-like paths or files.
	for _, path := range []string{"/chat", "/devices", "/overview/x", "/config?x=1", "/no/such/page"} {
		r := get(t, "GET", g.HTTP+path, nil)
		if r.status != 200 || r.body != index.body {
			t.Errorf("GET %s = %d, want the SPA index", path, r.status)
		}
		checkSecurityHeaders(t, "GET "+path, r)
	}
	for _, path := range []string{"/js/nope.js", "/missing.css", "/api/config", "/v1/models/x", "/__openclaw__/nothing"} {
		r := get(t, "GET", g.HTTP+path, nil)
		if r.status != 404 || strings.Contains(r.body, "<html") {
			t.Errorf("GET %s = %d %q, want a plain 404", path, r.status, abbrev(r.body))
		}
	}

	// Other packages' routes are not shadowed.
	if r := get(t, "GET", g.HTTP+"/healthz", nil); r.status != 200 || strings.Contains(r.body, "<html") {
		t.Errorf("GET /healthz = %d %q", r.status, abbrev(r.body))
	}
	if r := get(t, "HEAD", g.HTTP+"/chat", nil); r.status != 200 || r.body != "" {
		t.Errorf("HEAD /chat = %d body %q", r.status, r.body)
	}
	if r := get(t, "POST", g.HTTP+"/", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", r.status)
	}

	// Another origin gets no CORS grant, on any UI path.
	for _, path := range []string{"/", "/js/gateway.js", "/chat"} {
		r := get(t, "GET", g.HTTP+path, map[string]string{"Origin": "http://evil.example"})
		checkSecurityHeaders(t, "cross-origin GET "+path, r)
	}
}

func TestDisabledControlUI(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, `{gateway: {controlUi: {enabled: false}}}`)
	for _, path := range []string{"/", "/chat", "/js/main.js", "/favicon.ico"} {
		r := get(t, "GET", g.HTTP+path, nil)
		if r.status != 404 || strings.Contains(r.body, "<html") {
			t.Errorf("GET %s with the UI disabled = %d %q", path, r.status, abbrev(r.body))
		}
	}
	if r := get(t, "GET", g.HTTP+"/healthz", nil); r.status != 200 {
		t.Errorf("GET /healthz = %d", r.status)
	}
}

func TestCSPNamesOnlyWellFormedHosts(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1:18789":    "connect-src 'self' ws://127.0.0.1:18789 wss://127.0.0.1:18789;",
		"[::1]:18789":        "connect-src 'self' ws://[::1]:18789 wss://[::1]:18789;",
		"gw.example":         "connect-src 'self' ws://gw.example wss://gw.example;",
		"evil; script-src *": "connect-src 'self';",
		"a b":                "connect-src 'self';",
	} {
		if got := controlui.CSP(host); !strings.Contains(got, want) {
			t.Errorf("CSP(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestNoMarkupSinks keeps the UI free of the APIs that turn strings into
// markup or code, and of inline script and style (which the CSP refuses).
func TestNoMarkupSinks(t *testing.T) {
	sinks := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\s*["'\x60]|setAttribute\(\s*["']on|createContextualFragment|DOMParser`)
	n := 0
	err := fs.WalkDir(assets.UI, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets.UI, p)
		if err != nil {
			return err
		}
		s := string(b)
		switch {
		case strings.HasSuffix(p, ".js"):
			n++
			for _, line := range strings.Split(s, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "//") {
					continue
				}
				if m := sinks.FindString(line); m != "" {
					t.Errorf("%s uses %s: %s", p, m, strings.TrimSpace(line))
				}
			}
		case strings.HasSuffix(p, ".html"):
			if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(s) || !strings.Contains(s, "<script") {
				t.Errorf("%s has an inline script", p)
			}
			if regexp.MustCompile(`\sstyle=|<style|\son[a-z]+=`).MatchString(s) {
				t.Errorf("%s has inline style or an event handler attribute", p)
			}
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("walked %d scripts: %v", n, err)
	}
}

// TestWebSocketOriginAndIdentity: the transport half of the web surface's
// security, without a browser.
func TestWebSocketOriginAndIdentity(t *testing.T) {
	g := daemontest.Start(t, daemon.Options{}, "")
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ui := func(origin string, withDevice bool) client.Options {
		o := client.Options{URL: g.URL, Token: g.Token, ClientID: protocol.ClientControlUI, ClientMode: protocol.ModeWebchat,
			Platform: "web", DeviceFamily: "Browser", Scopes: []string{protocol.ScopeAdmin}}
		if origin != "" {
			o.Header = http.Header{"Origin": []string{origin}}
		}
		if withDevice {
			o.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) { id.SignConnect(p, ch) }
		}
		return o
	}
	dial := func(o client.Options) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, o)
		if err == nil {
			c.Close()
		}
		return err
	}
	expect := func(what string, err error, code string) {
		t.Helper()
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.DetailCode() != code {
			t.Errorf("%s: got %v, want %s", what, err, code)
		}
	}
	// A page on another site, even with the right token and a device.
	expect("evil origin", dial(ui("http://evil.example", true)), protocol.DetailControlUIOriginNotAllowed)
	expect("evil origin, webchat-ui id", dial(func() client.Options {
		o := ui("http://evil.example", true)
		o.ClientID = protocol.ClientWebchatUI
		return o
	}()), protocol.DetailControlUIOriginNotAllowed)
	expect("no origin", dial(ui("", true)), protocol.DetailControlUIOriginNotAllowed)
	expect("null origin", dial(ui("null", true)), protocol.DetailControlUIOriginNotAllowed)
	// The Control UI ids without a device identity, even from a loopback origin.
	expect("no device", dial(ui(g.HTTP, false)), protocol.DetailControlUIDeviceIdentityRequired)
	// The real thing: loopback origin, device identity, token.
	if err := dial(ui(g.HTTP, true)); err != nil {
		t.Fatalf("loopback control ui with a device: %v", err)
	}
}
