package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// web_fetch defaults.
const (
	WebFetchTimeout      = 15 * time.Second
	WebFetchMaxBytes     = 2 << 20
	WebFetchMaxRedirects = 5
	WebFetchMaxChars     = 50_000
	webFetchMaxCharsCap  = 500_000
)

// WebFetch is the `web_fetch` tool: an HTTP GET of a public URL, returned
// as readable text.
//
// Every connection — the first request and each redirect — is checked at
// dial time against the IP address actually being connected to, so a
// hostname that resolves (or re-resolves, DNS rebinding) to a private
// address is refused as surely as a literal one.
type WebFetch struct {
	// AllowPrivate lets URLs reach loopback, private (RFC 1918, ULA),
	// link-local, CGNAT and other non-public addresses. Off by default:
	// the model picks the URLs, and the gateway's host and LAN are not the
	// model's to browse.
	AllowPrivate bool
	// Timeout bounds the whole fetch, body included (0: 15 s).
	Timeout time.Duration
	// MaxBytes caps the response body read (0: 2 MiB).
	MaxBytes int64
	// UserAgent overrides the User-Agent header.
	UserAgent string

	// refuseDial is a test hook that refuses more addresses than the
	// policy does (tests use loopback servers for both sides of a redirect).
	// It can only add refusals; the address policy runs regardless.
	refuseDial func(netip.AddrPort) error
}

// NewWebFetch returns the web_fetch tool. allowPrivate admits non-public
// addresses (see WebFetch.AllowPrivate).
func NewWebFetch(allowPrivate bool) *WebFetch { return &WebFetch{AllowPrivate: allowPrivate} }

// WebFetchResult is the tool's answer (also its Details).
type WebFetchResult struct {
	URL         string `json:"url"` // final URL, after redirects
	Status      int    `json:"status"`
	ContentType string `json:"contentType,omitempty"`
	Title       string `json:"title,omitempty"`
	Truncated   bool   `json:"truncated,omitempty"`
	Text        string `json:"text"`
}

// Spec implements Tool.
func (*WebFetch) Spec() providers.Tool {
	return providers.Tool{
		Name: "web_fetch",
		Description: "Fetch an http(s) URL with a plain GET (no JavaScript, no login) and return its readable content: " +
			"HTML is converted to text with links kept, JSON and plain text come back as is. " +
			"Returns the final URL after redirects, the HTTP status, the content type and the text, " +
			"truncated to maxChars (default 50000). Only public internet addresses are reachable.",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "url": {"type": "string", "description": "The http:// or https:// URL to fetch."},
    "maxChars": {"type": "integer", "minimum": 100, "description": "Truncate the returned text to this many characters. Default 50000."}
  },
  "required": ["url"],
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (w *WebFetch) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		URL      string `json:"url"`
		MaxChars *int   `json:"maxChars"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("web_fetch", err), nil
	}
	maxChars := WebFetchMaxChars
	if a.MaxChars != nil {
		if *a.MaxChars < 1 {
			return Error("web_fetch: maxChars must be a positive number of characters"), nil
		}
		maxChars = min(*a.MaxChars, webFetchMaxCharsCap)
	}
	u, err := checkFetchURL(strings.TrimSpace(a.URL))
	if err != nil {
		return Error("web_fetch: " + err.Error()), nil
	}

	timeout := w.Timeout
	if timeout <= 0 {
		timeout = WebFetchTimeout
	}
	maxBytes := w.MaxBytes
	if maxBytes <= 0 {
		maxBytes = WebFetchMaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	client, transport := w.client()
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Error("web_fetch: " + err.Error()), nil
	}
	ua := w.UserAgent
	if ua == "" {
		ua = "Mozilla/5.0 (compatible; Pincer web_fetch; +https://github.com/pincerhq/pincer)"
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/json;q=0.9,text/plain;q=0.9,*/*;q=0.5")
	req.Header.Set("Accept-Language", "en-US,en;q=0.9")

	resp, err := client.Do(req)
	if err != nil {
		return Error("web_fetch: " + fetchErrorText(ctx, err, timeout)), nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return Error(fmt.Sprintf("web_fetch: timed out after %s reading the response from %s", timeout, resp.Request.URL)), nil
		}
		return Error(fmt.Sprintf("web_fetch: reading the response from %s failed: %v", resp.Request.URL, err)), nil
	}
	var notes []string
	if int64(len(body)) > maxBytes {
		body = body[:maxBytes]
		notes = append(notes, fmt.Sprintf("the response is larger than %s; only its first %s were read", sizeString(maxBytes), sizeString(maxBytes)))
	}

	final := resp.Request.URL
	res := WebFetchResult{URL: final.String(), Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	mediaType, params, _ := mime.ParseMediaType(res.ContentType)
	if mediaType == "" {
		mediaType, params, _ = mime.ParseMediaType(http.DetectContentType(body))
		if res.ContentType == "" {
			res.ContentType = mediaType
		}
	}
	kind := textKind(mediaType)
	if kind == "" {
		if len(body) > 0 {
			return Error(fmt.Sprintf("web_fetch: %s returned %s content (%d bytes), which is not text; web_fetch returns HTML, JSON and text only",
				res.URL, mediaType, len(body))), nil
		}
		kind = "text"
	}
	text := decodeCharset(body, params["charset"], kind == "html")
	if kind == "html" {
		res.Title, text = htmlToText(text, final)
	}
	if n := utf8.RuneCountInString(text); n > maxChars {
		text = string([]rune(text)[:maxChars])
		notes = append(notes, fmt.Sprintf("text truncated to %d of %d characters; ask for more with maxChars", maxChars, n))
	}
	if len(notes) > 0 {
		res.Truncated = true
		text += "\n\n[web_fetch: " + strings.Join(notes, "; ") + "]"
	}
	res.Text = text
	out := jsonResult(res)
	out.IsError = resp.StatusCode >= 400
	return out, nil
}

// checkFetchURL accepts absolute http(s) URLs with a host.
func checkFetchURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q is not a valid URL: %v", clip(raw, 200), err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return nil, fmt.Errorf("url %q has no scheme; use an absolute http:// or https:// URL", clip(raw, 200))
	default:
		return nil, fmt.Errorf("url scheme %q is not supported; only http and https are", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url %q has no host", clip(raw, 200))
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// client builds a client whose every connection goes through the address
// policy. No proxy: a proxy would resolve names where the policy cannot see.
func (w *WebFetch) client() (*http.Client, *http.Transport) {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		// Control runs for each address the dialer connects to, after name
		// resolution: the check sees exactly the IP the socket will reach.
		Control: func(_, address string, _ syscall.RawConn) error { return w.checkDial(address) },
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		MaxIdleConns:          4,
		IdleConnTimeout:       10 * time.Second,
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > WebFetchMaxRedirects {
				return fmt.Errorf("stopped after %d redirects", WebFetchMaxRedirects)
			}
			if s := req.URL.Scheme; s != "http" && s != "https" {
				return fmt.Errorf("redirect to a %s: URL refused", s)
			}
			return nil
		},
	}
	return client, transport
}

// checkDial is the address policy, applied to "ip:port" at connect time.
func (w *WebFetch) checkDial(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: not an IP address", address)
	}
	if w.refuseDial != nil {
		if err := w.refuseDial(ap); err != nil {
			return err
		}
	}
	if w.AllowPrivate {
		return nil
	}
	if why := blockedReason(ap.Addr()); why != "" {
		return &blockedAddrError{addr: ap.Addr().Unmap(), why: why}
	}
	return nil
}

// fetchErrorText explains a failed request in terms the model can act on.
func fetchErrorText(ctx context.Context, err error, timeout time.Duration) string {
	var blocked *blockedAddrError
	if errors.As(err, &blocked) {
		return blocked.Error()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("timed out after %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		var dnsErr *net.DNSError
		if errors.As(ue.Err, &dnsErr) && dnsErr.IsNotFound {
			return fmt.Sprintf("the host %s was not found (DNS)", dnsErr.Name)
		}
		return fmt.Sprintf("GET %s failed: %v", ue.URL, ue.Err)
	}
	return err.Error()
}

// textKind classifies a media type: "html", "text", or "" for content
// web_fetch does not return.
func textKind(mediaType string) string {
	switch {
	case mediaType == "text/html" || mediaType == "application/xhtml+xml":
		return "html"
	case strings.HasPrefix(mediaType, "text/"),
		mediaType == "application/json", strings.HasSuffix(mediaType, "+json"),
		mediaType == "application/xml", strings.HasSuffix(mediaType, "+xml"),
		mediaType == "application/javascript", mediaType == "application/x-javascript",
		mediaType == "application/ecmascript", mediaType == "application/x-ndjson",
		mediaType == "application/yaml", mediaType == "application/x-yaml", mediaType == "application/toml":
		return "text"
	}
	return ""
}

var metaCharset = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_\-:.]+)`)

// decodeCharset converts body to UTF-8 from the declared charset (the
// Content-Type header's, else an HTML <meta>), replacing invalid bytes.
func decodeCharset(body []byte, charset string, isHTML bool) string {
	if charset == "" && isHTML {
		if m := metaCharset.FindSubmatch(body[:min(len(body), 4096)]); m != nil {
			charset = string(m[1])
		}
	}
	if charset != "" && !strings.EqualFold(charset, "utf-8") && !strings.EqualFold(charset, "utf8") {
		if enc, err := htmlindex.Get(charset); err == nil {
			if out, err := enc.NewDecoder().Bytes(body); err == nil {
				return strings.ToValidUTF8(string(out), "\uFFFD")
			}
		}
	}
	return strings.ToValidUTF8(string(body), "\uFFFD")
}
