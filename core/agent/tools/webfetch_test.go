package tools

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func fetchResult(t *testing.T, r Result) WebFetchResult {
	t.Helper()
	var res WebFetchResult
	if err := json.Unmarshal([]byte(text(r)), &res); err != nil {
		t.Fatalf("result is not JSON: %v: %s", err, clip(text(r), 300))
	}
	return res
}

const page = `<!DOCTYPE html>
<html><head><title>  The  Title &amp; More </title>
<style>body { color: red }</style>
<script>var secret = "<p>not text</p>";</script>
</head>
<body>
<!-- a comment <p>hidden</p> -->
<h1>Heading</h1>
<p>First   paragraph
   with <b>bold</b> and <a href="/next?x=1&amp;y=2">a link</a>.</p>
<div hidden>hidden div</div><div style="display: none">also hidden</div>
<ul><li>one</li><li>two</li></ul>
<pre>  keep
    indent</pre>
<noscript>enable js</noscript>
<p>caf&eacute; &lt;tag&gt; 5 &gt; 3</p>
</body></html>`

func TestWebFetchHTML(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, "/page", http.StatusFound)
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, page)
		}
	}))
	defer srv.Close()

	r := run(t, &WebFetch{AllowPrivate: true}, "", map[string]any{"url": srv.URL + "/start#frag"})
	wantOK(t, r)
	res := fetchResult(t, r)
	if res.URL != srv.URL+"/page" || res.Status != 200 || res.ContentType != "text/html; charset=utf-8" || res.Title != "The Title & More" {
		t.Fatalf("result = %+v", res)
	}
	want := "# Heading\n\nFirst paragraph with bold and [a link](" + srv.URL + "/next?x=1&y=2).\n\n- one\n- two\n\n  keep\n    indent\n\ncafé <tag> 5 > 3"
	if res.Text != want {
		t.Fatalf("text =\n%s\n--- want\n%s", res.Text, want)
	}
	if !strings.Contains(text(r), "café <tag> 5 > 3") {
		t.Fatalf("HTML characters escaped in the JSON the model reads: %s", text(r))
	}
	if d, ok := r.Details.(WebFetchResult); !ok || d.URL != res.URL {
		t.Fatalf("details = %#v", r.Details)
	}
}

func TestWebFetchJSONTextAndErrors(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"a": [1, 2],  "b": "<p>x</p>"}`)
		case "/latin1":
			w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
			w.Write([]byte("caf\xe9"))
		case "/png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("\x89PNG\r\n\x1a\n...."))
		case "/missing":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(404)
			fmt.Fprint(w, "no such page")
		case "/loop":
			n := len(r.URL.Query().Get("n"))
			http.Redirect(w, r, "/loop?n="+strings.Repeat("x", n+1), http.StatusFound)
		case "/ftp":
			http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
		}
	}))
	defer srv.Close()
	wf := &WebFetch{AllowPrivate: true}

	res := fetchResult(t, wantOKResult(t, run(t, wf, "", map[string]any{"url": srv.URL + "/json"})))
	if res.Text != `{"a": [1, 2],  "b": "<p>x</p>"}` || res.ContentType != "application/json" {
		t.Fatalf("json = %+v", res)
	}
	if res := fetchResult(t, run(t, wf, "", map[string]any{"url": srv.URL + "/latin1"})); res.Text != "café" {
		t.Fatalf("latin1 = %q", res.Text)
	}
	wantErr(t, run(t, wf, "", map[string]any{"url": srv.URL + "/png"}), "image/png", "not text")
	r := run(t, wf, "", map[string]any{"url": srv.URL + "/missing"})
	if res := fetchResult(t, r); !r.IsError || res.Status != 404 || res.Text != "no such page" {
		t.Fatalf("404 = %+v (error %v)", res, r.IsError)
	}

	hits.Store(0)
	wantErr(t, run(t, wf, "", map[string]any{"url": srv.URL + "/loop"}), "stopped after 5 redirects")
	if n := hits.Load(); n != 6 {
		t.Fatalf("redirect loop made %d requests, want 6 (the first + 5 redirects)", n)
	}
	wantErr(t, run(t, wf, "", map[string]any{"url": srv.URL + "/ftp"}), "ftp")

	for _, bad := range []string{"", "file:///etc/passwd", "ftp://example.com/", "example.com/page", "http://"} {
		wantErr(t, run(t, wf, "", map[string]any{"url": bad}))
	}
	wantErr(t, run(t, wf, "", map[string]any{"url": srv.URL, "maxChars": 0}), "maxChars")
}

func TestWebFetchRefusesPrivateByDefault(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)

	wf := NewWebFetch(false)
	wantErr(t, run(t, wf, "", map[string]any{"url": srv.URL}), "refused to connect to 127.0.0.1", "loopback")
	// A name resolving to loopback is refused when it is dialled, not by
	// looking at the name.
	wantErr(t, run(t, wf, "", map[string]any{"url": "http://localhost:" + u.Port() + "/"}), "refused to connect", "loopback")
	wantErr(t, run(t, wf, "", map[string]any{"url": "http://[::ffff:127.0.0.1]:" + u.Port() + "/"}), "loopback")
	if hits.Load() != 0 {
		t.Fatal("the server was reached")
	}
}

func TestWebFetchRedirectToPrivateRefused(t *testing.T) {
	var privateHits atomic.Int32
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		privateHits.Add(1)
		fmt.Fprint(w, "internal admin page")
	}))
	defer private.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, private.URL+"/admin", http.StatusFound)
	}))
	defer public.Close()
	pu, _ := url.Parse(private.URL)
	privatePort := pu.Port()

	// Both servers listen on loopback; the hook plays "private" for one
	// of them while AllowPrivate lets the other stand in for the internet.
	wf := &WebFetch{AllowPrivate: true, refuseDial: func(ap netip.AddrPort) error {
		if fmt.Sprint(ap.Port()) == privatePort {
			return &blockedAddrError{addr: ap.Addr(), why: "private (test)"}
		}
		return nil
	}}
	wantErr(t, run(t, wf, "", map[string]any{"url": public.URL + "/"}), "refused to connect", "private (test)")
	if privateHits.Load() != 0 {
		t.Fatal("the redirect reached the private server")
	}
	// Without the redirect the public side works.
	public.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	if res := fetchResult(t, wantOKResult(t, run(t, wf, "", map[string]any{"url": public.URL}))); res.Text != "hello" {
		t.Fatalf("text = %q", res.Text)
	}
}

func TestWebFetchCaps(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/huge":
			w.Header().Set("Content-Type", "text/plain")
			chunk := strings.Repeat("a", 64<<10)
			for range 48 { // 3 MiB
				if _, err := w.Write([]byte(chunk)); err != nil {
					return
				}
			}
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/text":
			fmt.Fprint(w, strings.Repeat("é", 300))
		}
	}))
	defer srv.Close()
	wf := &WebFetch{AllowPrivate: true}

	r := run(t, wf, "", map[string]any{"url": srv.URL + "/huge", "maxChars": 500_000})
	res := fetchResult(t, wantOKResult(t, r))
	if !res.Truncated || !strings.Contains(res.Text, "larger than 2 MiB") || !strings.Contains(res.Text, "truncated to 500000 of 2097152 characters") {
		t.Fatalf("huge: truncated=%v tail=%q", res.Truncated, res.Text[len(res.Text)-200:])
	}

	res = fetchResult(t, run(t, wf, "", map[string]any{"url": srv.URL + "/text", "maxChars": 100}))
	body, note, _ := strings.Cut(res.Text, "\n\n[")
	if body != strings.Repeat("é", 100) || !strings.Contains(note, "truncated to 100 of 300 characters") {
		t.Fatalf("maxChars: %q / %q", body, note)
	}
	res = fetchResult(t, run(t, wf, "", map[string]any{"url": srv.URL + "/text"}))
	if res.Truncated || res.Text != strings.Repeat("é", 300) {
		t.Fatalf("default maxChars: %+v", res)
	}

	start := time.Now()
	slow := &WebFetch{AllowPrivate: true, Timeout: 200 * time.Millisecond}
	wantErr(t, run(t, slow, "", map[string]any{"url": srv.URL + "/slow"}), "timed out after 200ms")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %s", d)
	}
}

func TestBlockedReason(t *testing.T) {
	for addr, blocked := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "172.31.255.255": true,
		"192.168.1.1": true, "100.64.0.1": true, "100.127.255.254": true, "169.254.169.254": true, "0.0.0.0": true,
		"::": true, "fd00::1": true, "fc00::1": true, "fe80::1": true, "::ffff:10.0.0.1": true, "::ffff:127.0.0.1": true,
		"64:ff9b::7f00:1": true, "2002:c0a8:0101::1": true, "224.0.0.1": true, "255.255.255.255": true, "198.18.0.1": true,
		"8.8.8.8": false, "1.1.1.1": false, "172.32.0.1": false, "100.128.0.1": false, "2606:4700:4700::1111": false,
		"64:ff9b::808:808": false, "::ffff:8.8.8.8": false, "93.184.216.34": false,
	} {
		if got := blockedReason(netip.MustParseAddr(addr)) != ""; got != blocked {
			t.Errorf("%s: blocked=%v, want %v", addr, got, blocked)
		}
	}
	// A zoned link-local address is still link-local.
	if blockedReason(netip.MustParseAddr("fe80::1%eth0")) == "" {
		t.Error("zoned link-local not blocked")
	}
}

func TestWebFetchCheckDialHookCannotAllow(t *testing.T) {
	// The hook can only add refusals: a hook that approves everything
	// leaves the policy in force.
	wf := &WebFetch{refuseDial: func(netip.AddrPort) error { return nil }}
	if err := wf.checkDial("127.0.0.1:80"); err == nil {
		t.Fatal("loopback allowed")
	}
	if err := wf.checkDial("[fd12::1]:443"); err == nil {
		t.Fatal("ULA allowed")
	}
	if err := wf.checkDial("8.8.8.8:443"); err != nil {
		t.Fatalf("public refused: %v", err)
	}
	if err := wf.checkDial("not-an-ip:80"); err == nil {
		t.Fatal("unparsable address allowed")
	}
}

func TestHTMLToTextEdgeCases(t *testing.T) {
	base, _ := url.Parse("https://example.com/dir/page")
	for _, c := range []struct{ in, want string }{
		{`a < b and c>d`, `a < b and c>d`},
		{`<p title="x > y">quoted attr</p>`, `quoted attr`},
		{`<SCRIPT type="x">alert(1)</SCRIPT>after`, `after`},
		{`<div aria-hidden="true"><div>x</div>inner</div>shown`, `shown`},
		{`<a href="#top">top</a> <a href="javascript:void(0)">js</a> <a href="other">rel</a>`, `top js [rel](https://example.com/dir/other)`},
		{`line<br>break<hr>rule`, "line\nbreak\n\n---\n\nrule"},
		{`<img src="x.png" alt="a cat"> text`, `[image: a cat] text`},
		{`<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>`, "a b\n\nc"},
		{`voilà&nbsp;ok`, "voilà ok"},
		{`<h2>T</h2>x`, "## T\n\nx"},
		{`unterminated <!-- comment`, `unterminated`},
		{`<p>x</p><style>`, `x`},
	} {
		if _, got := htmlToText(c.in, base); got != c.want {
			t.Errorf("htmlToText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
