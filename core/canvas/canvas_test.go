package canvas_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/auth/identity"
	"github.com/pincerhq/pincer/core/canvas"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

var _ tools.CanvasHost = (*canvas.Host)(nil)

const unauthorizedJSON = `{"error":{"message":"Unauthorized","type":"unauthorized"}}`

// env is a running gateway with a fake model and its canvas host.
type env struct {
	g     *daemontest.Gateway
	model *agenttest.Model
	host  *canvas.Host
}

// start runs a gateway whose config adds canvasHost (a JSON5 object, "" for
// none).
func start(t *testing.T, canvasHost string) *env {
	t.Helper()
	if canvasHost != "" {
		canvasHost = "canvasHost: " + canvasHost
	}
	return startWith(t, canvasHost)
}

// startWith runs a gateway whose config adds extra top-level keys (JSON5).
func startWith(t *testing.T, extra string) *env {
	t.Helper()
	m, err := agenttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	cfg := m.Config()
	if extra != "" {
		cfg = strings.TrimSuffix(strings.TrimSpace(cfg), "}") + ",\n  " + extra + "}"
	}
	hosts := make(chan *canvas.Host, 1)
	canvas.OnNew(func(h *canvas.Host) { hosts <- h })
	t.Cleanup(func() { canvas.OnNew(nil) })
	g := daemontest.Start(t, daemon.Options{}, cfg)
	select {
	case h := <-hosts:
		return &env{g: g, model: m, host: h}
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon built no canvas host")
	}
	return nil
}

var httpClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, token, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func get(t *testing.T, url, token string) response {
	t.Helper()
	return do(t, http.MethodGet, url, token, "")
}

// rawGet sends the request line as written (no client-side path cleaning).
func rawGet(t *testing.T, base, path, token string) response {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n", path, addr, auth)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// dialNode connects a node (role node, its own device identity).
func dialNode(t *testing.T, g *daemontest.Gateway, name string) *client.Client {
	t.Helper()
	c, _ := dialNodeID(t, g, name)
	return c
}

// dialNodeID also returns the node's id (its device id).
func dialNodeID(t *testing.T, g *daemontest.Gateway, name string) (*client.Client, string) {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	opt := client.Options{URL: g.URL, Token: g.Token, Role: protocol.RoleNode, ClientID: protocol.ClientNodeHost,
		ClientMode: protocol.ModeNode, Platform: "linux", DeviceFamily: "Linux", DisplayName: name, Caps: []string{"canvas"}}
	opt.ConnectParamsHook = func(p *protocol.ConnectParams, ch protocol.ChallengeEvent) {
		p.Commands = []string{"canvas.present", "canvas.navigate", "canvas.hide", "canvas.eval", "canvas.snapshot"}
		id.SignConnect(p, ch)
	}
	return g.DialWith(t, opt), id.DeviceID
}

func capURL(t *testing.T, c *client.Client) string {
	t.Helper()
	u := c.Hello().PluginSurfaceURLs[canvas.SurfaceCanvas]
	if u == "" {
		t.Fatalf("hello-ok.pluginSurfaceUrls = %v, want a canvas URL", c.Hello().PluginSurfaceURLs)
	}
	return u
}

// sse reads one event stream.
type sse struct {
	events chan [2]string // name, data
	cancel context.CancelFunc
}

func openSSE(t *testing.T, url, token string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := (&http.Client{}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		t.Fatalf("GET %s = %d %s %s", url, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	s := &sse{events: make(chan [2]string, 64), cancel: cancel}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		var name, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if name != "" || data != "" {
					s.events <- [2]string{name, data}
				}
				name, data = "", ""
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, ": "):
				s.events <- [2]string{":", strings.TrimPrefix(line, ": ")}
			}
		}
	}()
	return s
}

// next waits for the next event named name (comments are ":").
func (s *sse) next(t *testing.T, name string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("event stream ended waiting for %q", name)
			}
			if ev[0] == name {
				return ev[1]
			}
		case <-deadline:
			t.Fatalf("no %q event within %v", name, within)
		}
	}
}

// closed waits for the stream to end.
func (s *sse) closed(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("event stream still open after %v", within)
		}
	}
}

func TestCanvasFiles(t *testing.T) {
	e := start(t, "")
	base, tok := e.g.HTTP, e.g.Token

	r := get(t, base+"/__openclaw__/canvas/main/", "")
	if r.status != http.StatusUnauthorized || r.body != unauthorizedJSON || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("no auth = %d %q", r.status, r.body)
	}
	for _, p := range []string{"/__openclaw__/a2ui/", "/__openclaw__/a2ui/a2ui.bundle.js", "/__openclaw__/canvas/_events?agent=main"} {
		if r := get(t, base+p, "wrong"); r.status != http.StatusUnauthorized || r.body != unauthorizedJSON {
			t.Fatalf("%s with a wrong token = %d %q", p, r.status, r.body)
		}
	}

	// First use creates the agent's directory with a placeholder.
	r = get(t, base+"/__openclaw__/canvas/main/", tok)
	if r.status != 200 || r.header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(r.body, "Canvas for agent main") ||
		!strings.Contains(r.body, "data-pincer-live-reload") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("placeholder = %d %v %q", r.status, r.header, r.body)
	}
	if i, j := strings.Index(r.body, "data-pincer-live-reload"), strings.LastIndex(r.body, "</body>"); i < 0 || i > j {
		t.Fatalf("reload script not before </body>: %q", r.body)
	}
	dir := filepath.Join(e.g.State, "canvas", "main")
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Fatal(err)
	}
	if r := get(t, base+"/__openclaw__/canvas/main", tok); r.status != http.StatusFound || r.header.Get("Location") != "/__openclaw__/canvas/main/" {
		t.Fatalf("no slash = %d %v", r.status, r.header)
	}

	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("style.css", "body{color:red}")
	write("app.js", "console.log(1)")
	write("data.json", `{"a":1}`)
	write("sub/page.htm", "<p>sub</p>")
	write("empty/.keep", "")
	for p, ct := range map[string]string{"style.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
		"data.json": "application/json", "sub/page.htm": "text/html; charset=utf-8"} {
		r := get(t, base+"/__openclaw__/canvas/main/"+p, tok)
		if r.status != 200 || r.header.Get("Content-Type") != ct || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s = %d %q", p, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := get(t, base+"/__openclaw__/canvas/main/sub/page.htm", tok); !strings.HasPrefix(r.body, "<p>sub</p><script data-pincer-live-reload>") {
		t.Errorf("script not appended without </body>: %q", r.body)
	}
	if r := do(t, http.MethodHead, base+"/__openclaw__/canvas/main/style.css", tok, ""); r.status != 200 || r.body != "" {
		t.Errorf("HEAD = %d %q", r.status, r.body)
	}
	if r := do(t, http.MethodPost, base+"/__openclaw__/canvas/main/style.css", tok, "{}"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d", r.status)
	}
	// No listings: a directory without index.html is not found; one with
	// a trailing-slash-less path is redirected first.
	if r := get(t, base+"/__openclaw__/canvas/main/empty/", tok); r.status != 404 || strings.Contains(r.body, ".keep") {
		t.Errorf("listing = %d %q", r.status, r.body)
	}
	if r := get(t, base+"/__openclaw__/canvas/main/sub", tok); r.status != http.StatusFound {
		t.Errorf("dir without slash = %d", r.status)
	}
	if r := get(t, base+"/__openclaw__/canvas/nobody/", tok); r.status != 404 {
		t.Errorf("unknown agent = %d", r.status)
	}
	if _, err := os.Stat(filepath.Join(e.g.State, "canvas", "nobody")); err == nil {
		t.Error("an unknown agent got a directory")
	}

	// Hosted documents.
	docs := filepath.Join(e.g.State, "canvas", "documents", "d1")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(docs, "index.html"), []byte("<body>doc</body>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := get(t, base+"/__openclaw__/canvas/documents/d1/index.html", tok); r.status != 200 || !strings.Contains(r.body, "doc") ||
		!strings.Contains(r.body, `_events?doc=d1`) {
		t.Errorf("document = %d %q", r.status, r.body)
	}

	// Traversal.
	secret := "TOPSECRET-" + tok
	if err := os.WriteFile(filepath.Join(e.g.State, "secret.txt"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(e.g.State, "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(e.g.State, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", "..", "secret.txt"), filepath.Join(dir, "rel.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("style.css", filepath.Join(dir, "inside.css")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/__openclaw__/canvas/main/../../secret.txt",
		"/__openclaw__/canvas/main/%2e%2e/%2e%2e/secret.txt",
		"/__openclaw__/canvas/main/%2E%2E%2F%2E%2E%2Fsecret.txt",
		"/__openclaw__/canvas/main/..%2f..%2fsecret.txt",
		"/__openclaw__/canvas/main/..%5c..%5csecret.txt",
		"/__openclaw__/canvas/main/link.txt",
		"/__openclaw__/canvas/main/rel.txt",
		"/__openclaw__/canvas/main/linkdir/secret.txt",
		"/__openclaw__/canvas/documents/../secret.txt",
		"/__openclaw__/canvas/main/sub/%00",
	} {
		r := rawGet(t, base, p, tok)
		if r.status == 200 || strings.Contains(r.body, "TOPSECRET") {
			t.Errorf("%s = %d %q", p, r.status, r.body)
		}
		if loc := r.header.Get("Location"); loc != "" {
			// The mux's cleaned path may leave the canvas routes (the
			// Control UI may answer it): only the secret must not show.
			if r := rawGet(t, base, loc, tok); strings.Contains(r.body, "TOPSECRET") {
				t.Errorf("%s -> %s = %d %q", p, loc, r.status, r.body)
			}
		}
	}
	if r := get(t, base+"/__openclaw__/canvas/main/inside.css", tok); r.status != 200 || r.body != "body{color:red}" {
		t.Errorf("symlink inside the directory = %d %q", r.status, r.body)
	}

	// The renderer.
	for p, ct := range map[string]string{"": "text/html; charset=utf-8", "a2ui.bundle.js": "text/javascript; charset=utf-8",
		"app.js": "text/javascript; charset=utf-8", "a2ui.css": "text/css; charset=utf-8"} {
		r := get(t, base+"/__openclaw__/a2ui/"+p, tok)
		if r.status != 200 || r.header.Get("Content-Type") != ct || len(r.body) < 100 {
			t.Errorf("a2ui/%s = %d %q", p, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := get(t, base+"/__openclaw__/a2ui/nope.js", tok); r.status != 404 {
		t.Errorf("a2ui/nope.js = %d", r.status)
	}
}

func TestCanvasLiveReload(t *testing.T) {
	e := start(t, "")
	base, tok := e.g.HTTP, e.g.Token
	dir, err := e.host.AgentDir("main")
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, base+"/__openclaw__/canvas/_events?agent=main", ""); r.status != 401 || r.body != unauthorizedJSON {
		t.Fatalf("events without auth = %d %q", r.status, r.body)
	}
	if r := get(t, base+"/__openclaw__/canvas/_events?agent=ghost", tok); r.status != 404 {
		t.Fatalf("events for an unknown agent = %d", r.status)
	}
	s := openSSE(t, base+"/__openclaw__/canvas/_events?agent=main", tok)
	s.next(t, ":", 5*time.Second)
	time.Sleep(600 * time.Millisecond) // the poller's first fingerprint
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<body>v2</body>"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.next(t, "reload", 5*time.Second)
	if err := os.WriteFile(filepath.Join(dir, "new.css"), []byte("a{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.next(t, "reload", 5*time.Second)
}

func TestCanvasCapabilities(t *testing.T) {
	e := start(t, "")
	base := e.g.HTTP

	op := e.g.Dial(t, protocol.ScopeAdmin)
	if u := op.Hello().PluginSurfaceURLs; len(u) != 0 {
		t.Fatalf("operator got plugin surfaces %v", u)
	}
	node := dialNode(t, e.g, "kitchen")
	cu := capURL(t, node)
	if !strings.HasPrefix(cu, base+canvas.CapPrefix) || strings.HasSuffix(cu, "/") {
		t.Fatalf("cap URL %q, gateway %s", cu, base)
	}
	tokPart := strings.TrimPrefix(cu, base+canvas.CapPrefix)
	if len(tokPart) != 43 || strings.ContainsAny(tokPart, "+/=") {
		t.Fatalf("token %q is not 32 bytes of base64url", tokPart)
	}

	// The capability URL serves canvas and a2ui without a Bearer header.
	r := get(t, cu+"/__openclaw__/canvas/main/", "")
	if r.status != 200 || !strings.Contains(r.body, "Canvas for agent main") {
		t.Fatalf("cap canvas = %d %q", r.status, r.body)
	}
	if !strings.Contains(r.body, `"`+canvas.CapPrefix+tokPart+`/__openclaw__/canvas/_events?agent=main"`) {
		t.Fatalf("the reload script does not keep the capability prefix: %q", r.body)
	}
	if r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("Referrer-Policy = %q", r.header.Get("Referrer-Policy"))
	}
	if r := get(t, cu+"/__openclaw__/a2ui/", ""); r.status != 200 || !strings.Contains(r.body, "a2ui.css") {
		t.Fatalf("cap a2ui = %d", r.status)
	}
	if r := get(t, cu+"/__openclaw__/a2ui?agent=main", ""); r.status != http.StatusFound ||
		r.header.Get("Location") != canvas.CapPrefix+tokPart+"/__openclaw__/a2ui/?agent=main" {
		t.Fatalf("cap a2ui without slash = %d %v", r.status, r.header)
	}
	// …and nothing else on the gateway.
	for _, p := range []string{"/health", "/v1/models", "/__openclaw__/other/", "/tools/invoke"} {
		if r := get(t, cu+p, ""); r.status != 404 {
			t.Errorf("cap %s = %d %q", p, r.status, r.body)
		}
	}
	if r := rawGet(t, base, canvas.CapPrefix+tokPart+"/__openclaw__/canvas/main/%2e%2e/%2e%2e/credentials/gateway-token", ""); r.status == 200 ||
		strings.Contains(r.body, e.g.Token) {
		t.Errorf("cap traversal = %d %q", r.status, r.body)
	}
	// Unknown tokens.
	for _, u := range []string{base + canvas.CapPrefix + "nope/__openclaw__/canvas/main/", base + canvas.CapPrefix + strings.ToUpper(tokPart) + "/__openclaw__/a2ui/",
		base + canvas.CapPrefix} {
		if r := get(t, u, ""); r.status != 401 || r.body != unauthorizedJSON {
			t.Errorf("%s = %d %q", u, r.status, r.body)
		}
	}

	// node.pluginSurface.refresh hands out a new working URL.
	var ref struct {
		Surface           string            `json:"surface"`
		URL               string            `json:"url"`
		PluginSurfaceURLs map[string]string `json:"pluginSurfaceUrls"`
	}
	daemontest.Call(t, node, "node.pluginSurface.refresh", map[string]any{"surface": "canvas"}, &ref)
	if ref.Surface != "canvas" || ref.URL == cu || !strings.HasPrefix(ref.URL, base+canvas.CapPrefix) || ref.PluginSurfaceURLs["canvas"] != ref.URL {
		t.Fatalf("refresh = %+v", ref)
	}
	if r := get(t, ref.URL+"/__openclaw__/canvas/main/index.html", ""); r.status != 200 {
		t.Fatalf("refreshed URL = %d", r.status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := node.Call(ctx, "node.pluginSurface.refresh", map[string]any{"surface": "board"}, nil); err == nil || !strings.Contains(err.Error(), "unknown plugin surface") {
		t.Fatalf("refresh of an unknown surface: %v", err)
	}

	// An open stream through a token ends, and the token stops working,
	// when the node disconnects.
	s := openSSE(t, ref.URL+"/__openclaw__/a2ui/stream?agent=main", "")
	s.next(t, "snapshot", 5*time.Second)
	node.Close()
	s.closed(t, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for _, u := range []string{cu, ref.URL} {
		for {
			r := get(t, u+"/__openclaw__/canvas/main/", "")
			if r.status == 401 && r.body == unauthorizedJSON {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s after disconnect = %d", u, r.status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestCanvasCapabilityExpiry(t *testing.T) {
	e := start(t, `{capabilityTtlMs: 1000}`)
	node := dialNode(t, e.g, "n")
	cu := capURL(t, node)
	if r := get(t, cu+"/__openclaw__/canvas/main/", ""); r.status != 200 {
		t.Fatalf("fresh token = %d", r.status)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := get(t, cu+"/__openclaw__/canvas/main/", ""); r.status != 401 || r.body != unauthorizedJSON {
		t.Fatalf("expired token = %d %q", r.status, r.body)
	}
}

func TestCanvasDisabled(t *testing.T) {
	e := start(t, `{enabled: false}`)
	if r := get(t, e.g.HTTP+"/__openclaw__/canvas/main/", e.g.Token); r.status != 404 {
		t.Fatalf("disabled canvas = %d", r.status)
	}
	node := dialNode(t, e.g, "n")
	if u := node.Hello().PluginSurfaceURLs; len(u) != 0 {
		t.Fatalf("disabled canvas still hands out %v", u)
	}
	if err := e.host.PushA2UI("main", []json.RawMessage{json.RawMessage(`{"deleteSurface":{"surfaceId":"a"}}`)}); err == nil {
		t.Fatal("push to a disabled canvas host accepted")
	}
}

// freePort is a loopback port nobody listens on (racy, good enough here).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestCanvasSeparatePort(t *testing.T) {
	port := freePort(t)
	e := start(t, fmt.Sprintf(`{port: %d, liveReload: false}`, port))
	want := fmt.Sprintf("127.0.0.1:%d", port)
	if e.host.PortAddr() != want {
		t.Fatalf("PortAddr = %q, want %s", e.host.PortAddr(), want)
	}
	base := "http://" + want
	if r := get(t, base+"/__openclaw__/canvas/main/", ""); r.status != 401 || r.body != unauthorizedJSON {
		t.Fatalf("port without auth = %d %q", r.status, r.body)
	}
	r := get(t, base+"/__openclaw__/canvas/main/", e.g.Token)
	if r.status != 200 || !strings.Contains(r.body, "Canvas for agent main") {
		t.Fatalf("port canvas = %d %q", r.status, r.body)
	}
	if strings.Contains(r.body, "data-pincer-live-reload") {
		t.Fatal("liveReload false still injects the script")
	}
	if r := get(t, base+"/__openclaw__/a2ui/a2ui.bundle.js", e.g.Token); r.status != 200 {
		t.Fatalf("port a2ui = %d", r.status)
	}
	node := dialNode(t, e.g, "n")
	cu := capURL(t, node)
	capPath := strings.TrimPrefix(cu, e.g.HTTP)
	if r := get(t, base+capPath+"/__openclaw__/canvas/main/", ""); r.status != 200 {
		t.Fatalf("port cap = %d", r.status)
	}
	// Only the canvas routes live there.
	if r := get(t, base+"/health", e.g.Token); r.status != 404 {
		t.Fatalf("port /health = %d", r.status)
	}
	e.host.Close()
	if _, err := net.DialTimeout("tcp", want, time.Second); err == nil {
		t.Fatal("the canvas port still listens after Close")
	}
}

func TestA2UIPushAndAction(t *testing.T) {
	e := start(t, "")
	base, tok := e.g.HTTP, e.g.Token
	push := func(msgs ...string) error {
		raw := make([]json.RawMessage, len(msgs))
		for i, m := range msgs {
			raw[i] = json.RawMessage(m)
		}
		return e.host.PushA2UI("main", raw)
	}
	comp := `{"surfaceUpdate":{"surfaceId":"s1","components":[
		{"id":"root","component":{"Column":{"children":{"explicitList":["t","b"]}}}},
		{"id":"t","component":{"Text":{"text":{"path":"/greeting"}}}},
		{"id":"bt","component":{"Text":{"text":{"literalString":"Go"}}}},
		{"id":"b","component":{"Button":{"child":"bt","action":{"name":"go","context":[{"key":"who","value":{"path":"/user/name"}}]}}}}]}}`
	if err := push(comp,
		`{"dataModelUpdate":{"surfaceId":"s1","contents":[{"key":"greeting","valueString":"hello"},{"key":"user","valueMap":[{"key":"name","valueString":"Ada"},{"key":"age","valueNumber":36}]}]}}`,
		`{"dataModelUpdate":{"surfaceId":"s1","path":"/user","contents":[{"key":"admin","valueBoolean":true}]}}`,
		`{"beginRendering":{"surfaceId":"s1","root":"root","styles":{"primaryColor":"#00BFFF"}}}`); err != nil {
		t.Fatal(err)
	}

	// A new page gets the current state first.
	s := openSSE(t, base+"/__openclaw__/a2ui/stream?agent=main", tok)
	var snap struct {
		Surfaces []struct {
			SurfaceID      string            `json:"surfaceId"`
			Components     []json.RawMessage `json:"components"`
			DataModel      map[string]any    `json:"dataModel"`
			BeginRendering map[string]any    `json:"beginRendering"`
		} `json:"surfaces"`
	}
	if err := json.Unmarshal([]byte(s.next(t, "snapshot", 5*time.Second)), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Surfaces) != 1 || len(snap.Surfaces[0].Components) != 4 || snap.Surfaces[0].BeginRendering["root"] != "root" {
		t.Fatalf("snapshot = %+v", snap)
	}
	user, _ := snap.Surfaces[0].DataModel["user"].(map[string]any)
	if snap.Surfaces[0].DataModel["greeting"] != "hello" || user["name"] != "Ada" || user["age"] != 36.0 || user["admin"] != true {
		t.Fatalf("data model = %v (a path update merges)", snap.Surfaces[0].DataModel)
	}

	// Then every message pushed.
	if err := push(`{"dataModelUpdate":{"surfaceId":"s1","path":"greeting","contents":[]}}`, `{"deleteSurface":{"surfaceId":"s1"}}`); err != nil {
		t.Fatal(err)
	}
	if ev := s.next(t, "a2ui", 5*time.Second); !strings.Contains(ev, `"dataModelUpdate"`) {
		t.Fatalf("first event %s", ev)
	}
	if ev := s.next(t, "a2ui", 5*time.Second); ev != `{"deleteSurface":{"surfaceId":"s1"}}` {
		t.Fatalf("second event %s", ev)
	}

	// Invalid batches change nothing.
	for _, bad := range [][]string{
		{`[]`}, {`{}`}, {`{"surfaceUpdate":{"surfaceId":"x","components":[]},"beginRendering":{"surfaceId":"x","root":"a"}}`},
		{`{"launchRocket":{"surfaceId":"x"}}`}, {`{"surfaceUpdate":{"components":[]}}`},
		{`{"surfaceUpdate":{"surfaceId":"x","components":[{"id":"a","component":{"Marquee":{}}}]}}`},
		{`{"surfaceUpdate":{"surfaceId":"x","components":[{"id":"a","component":{"Text":{},"Image":{}}}]}}`},
		{`{"surfaceUpdate":{"surfaceId":"x","components":[{"component":{"Text":{}}}]}}`},
		{`{"dataModelUpdate":{"surfaceId":"x","contents":[{"key":"a"}]}}`},
		{`{"dataModelUpdate":{"surfaceId":"x","contents":[{"key":"a","valueString":"1","valueNumber":1}]}}`},
		{`{"beginRendering":{"surfaceId":"x"}}`},
		{`{"deleteSurface":{"surfaceId":"x"}}`, `{"beginRendering":{"surfaceId":"x","root":""}}`},
	} {
		if err := push(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if err := e.host.PushA2UI("ghost", []json.RawMessage{json.RawMessage(`{"deleteSurface":{"surfaceId":"a"}}`)}); err == nil {
		t.Error("push for an unknown agent accepted")
	}
	select {
	case ev := <-s.events:
		if ev[0] == "a2ui" {
			t.Fatalf("a refused push reached the page: %v", ev)
		}
	case <-time.After(200 * time.Millisecond):
	}

	// Actions become agent turns.
	if r := do(t, http.MethodPost, base+"/__openclaw__/a2ui/action?agent=main", "", `{"userAction":{"name":"go"}}`); r.status != 401 || r.body != unauthorizedJSON {
		t.Fatalf("action without auth = %d %q", r.status, r.body)
	}
	for _, bad := range []string{`{}`, `{"userAction":{}}`, `{"userAction":{"name":"go","context":[1]}}`, `nope`} {
		if r := do(t, http.MethodPost, base+"/__openclaw__/a2ui/action?agent=main", tok, bad); r.status != 400 {
			t.Errorf("action %s = %d %q", bad, r.status, r.body)
		}
	}
	if r := do(t, http.MethodPost, base+"/__openclaw__/a2ui/action?agent=ghost", tok, `{"userAction":{"name":"go"}}`); r.status != 404 {
		t.Errorf("action for an unknown agent = %d", r.status)
	}
	if r := get(t, base+"/__openclaw__/a2ui/action", tok); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET action = %d", r.status)
	}
	r := do(t, http.MethodPost, base+"/__openclaw__/a2ui/action?agent=main", tok,
		`{"userAction":{"name":"go","surfaceId":"s1","sourceComponentId":"b","timestamp":"2026-01-01T00:00:00Z","context":{"who":"Ada"}}}`)
	var ack struct {
		OK    bool   `json:"ok"`
		RunID string `json:"runId"`
	}
	if r.status != http.StatusAccepted || json.Unmarshal([]byte(r.body), &ack) != nil || !ack.OK || ack.RunID == "" {
		t.Fatalf("action = %d %q", r.status, r.body)
	}
	waitModel(t, e.model, `[canvas action] go {"who":"Ada"}`)
}

// waitModel waits until the fake model was asked with a user message
// containing want.
func waitModel(t *testing.T, m *agenttest.Model, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, req := range m.Requests() {
			b, _ := json.Marshal(req["messages"])
			var msgs []map[string]any
			_ = json.Unmarshal(b, &msgs)
			for _, msg := range msgs {
				if msg["role"] == "user" && strings.Contains(fmt.Sprint(msg["content"]), want) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the model never got %q (%d requests)", want, len(m.Requests()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestA2UIPageURL(t *testing.T) {
	e := start(t, "")
	if _, _, err := e.host.A2UIPageURL("main", "nobody"); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("offline node: %v", err)
	}
	_, id := dialNodeID(t, e.g, "Living Room")
	u, live, err := e.host.A2UIPageURL("main", "living room")
	if err != nil || live {
		t.Fatalf("A2UIPageURL = %q %v %v", u, live, err)
	}
	if !strings.HasPrefix(u, e.g.HTTP+canvas.CapPrefix) || !strings.HasSuffix(u, "/__openclaw__/a2ui/?agent=main") {
		t.Fatalf("url %q", u)
	}
	if u2, _, err := e.host.A2UIPageURL("main", id[:12]); err != nil || u2 != u {
		t.Fatalf("by id prefix: %q %v (want the same fresh token %q)", u2, err, u)
	}
	if _, _, err := e.host.A2UIPageURL("ghost", id); err == nil {
		t.Fatal("unknown agent accepted")
	}
	// Once the node's page streams, it is live.
	streamURL := strings.Replace(u, "/__openclaw__/a2ui/?", "/__openclaw__/a2ui/stream?", 1)
	s := openSSE(t, streamURL, "")
	s.next(t, "snapshot", 5*time.Second)
	if _, live, err := e.host.A2UIPageURL("main", id); err != nil || !live {
		t.Fatalf("streaming page not live: %v %v", live, err)
	}
	nu, err := e.host.NodeURL(id, "/__openclaw__/canvas/main/index.html")
	if err != nil || !strings.HasSuffix(nu, "/__openclaw__/canvas/main/index.html") {
		t.Fatalf("NodeURL = %q %v", nu, err)
	}
	if r := get(t, nu, ""); r.status != 200 {
		t.Fatalf("NodeURL page = %d", r.status)
	}
	if _, err := e.host.NodeURL(id, "/health"); err == nil {
		t.Fatal("NodeURL accepted a non-canvas path")
	}
	if _, err := e.host.NodeURL(id, "http://evil/__openclaw__/canvas/x"); err == nil {
		t.Fatal("NodeURL accepted an absolute URL")
	}
}
