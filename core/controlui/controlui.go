// Package controlui serves the Control UI (with WebChat): the single-page
// app embedded from assets/ui, at / with SPA fallback and strict security
// headers.
//
// The UI is static: no secret is ever written into what is served. The
// browser gets the gateway token from the URL fragment `pincer dashboard`
// opens (fragments never reach a server, a log or a Referer), and proves a
// device identity of its own on the WebSocket, where the gateway checks
// the Origin.
package controlui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/pincerhq/pincer/assets"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
)

// Deps are what the UI server needs.
type Deps struct {
	Config  func() *config.Config
	Version string
	Log     *slog.Logger
}

// Register mounts the UI on the gateway.
//
// The pattern is "/" rather than "GET /": Go's ServeMux refuses to hold
// "GET /" together with a method-less prefix pattern another package may
// register (e.g. "/__openclaw__/"), because neither would be more specific.
// "/" is the most general pattern there is, so every other route wins over
// it; the handler answers methods other than GET and HEAD itself.
func Register(srv *gateway.Server, d Deps) {
	srv.Handle("/", NewHandler(d, assets.UI))
}

// file is one embedded file, read once.
type file struct {
	data  []byte
	ctype string
	etag  string
}

// Handler serves the UI files.
type Handler struct {
	d     Deps
	files map[string]*file // by clean path without the leading slash
	index *file
}

// NewHandler serves the UI in files (a tree rooted at its index.html).
func NewHandler(d Deps, files fs.FS) *Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{d: d, files: map[string]*file{}}
	err := fs.WalkDir(files, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		h.files[p] = &file{data: data, ctype: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		d.Log.Error("control ui: reading the embedded files failed", "err", err)
	}
	h.index = h.files["index.html"]
	if h.index == nil {
		h.index = &file{data: []byte("Control UI files are missing from this build.\n"), ctype: "text/plain; charset=utf-8"}
	}
	return h
}

// contentTypes are fixed here rather than taken from the host's mime
// tables, which differ between systems (and lack .ico and .webmanifest).
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webp":        "image/webp",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
}

func contentType(p string) string {
	if t, ok := contentTypes[strings.ToLower(path.Ext(p))]; ok {
		return t
	}
	return "application/octet-stream"
}

// apiPrefixes are paths other packages own (now or later): an unknown path
// under them is a 404, never the SPA's HTML. (The hooks path is
// configurable; the hooks package hands GETs it does not serve to the SPA,
// as the reference does.)
var apiPrefixes = []string{"/api/", "/v1/", "/tools/", "/plugins/", "/__openclaw__/", "/debug/", "/.well-known/"}

// hostRE is what a Host header may look like to be named in the CSP: a name
// or IPv4 address with an optional port, or a bracketed IPv6 address.
var hostRE = regexp.MustCompile(`^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$`)

// CSP is the Content-Security-Policy of a UI response for a request to
// host: scripts and styles only from the gateway's origin (no inline code,
// no eval), images also from data:/blob: (QR codes, attachment previews),
// WebSocket only back to the same host, and no framing by anyone.
func CSP(host string) string {
	connect := "'self'"
	if hostRE.MatchString(host) {
		// 'self' covers ws(s): to the same host in CSP 3 browsers; naming it
		// keeps older ones working without allowing any other host.
		connect += " ws://" + host + " wss://" + host
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data: blob:",
		"font-src 'self'",
		"connect-src " + connect,
		"media-src 'self' blob:",
		"object-src 'none'",
		"frame-src 'none'",
		"worker-src 'none'",
		"manifest-src 'self'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

func securityHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP(r.Host))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
}

func (h *Handler) enabled() bool {
	if h.d.Config == nil {
		return true
	}
	cfg := h.d.Config()
	return cfg == nil || cfg.Gateway.ControlUI.Enabled == nil || *cfg.Gateway.ControlUI.Enabled
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, r)
	if !h.enabled() {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "the Control UI is disabled (gateway.controlUi.enabled: false)", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	name := strings.TrimPrefix(p, "/")
	if name == "" {
		name = "index.html"
	}
	f := h.files[name]
	if f == nil {
		if !spaRoute(p) {
			w.Header().Set("Cache-Control", "no-store")
			http.NotFound(w, r)
			return
		}
		f, name = h.index, "index.html"
	}
	if name == "index.html" {
		// The shell must always be fresh so a new build's modules load.
		w.Header().Set("Cache-Control", "no-store")
	} else {
		// No hashed file names (no build step): revalidate every time; the
		// ETag makes that a 304.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", f.etag)
	}
	w.Header().Set("Content-Type", f.ctype)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}

// spaRoute says whether an unknown path is one of the app's own routes,
// which get index.html: not under an API prefix, and not a file name (a
// missing script must be a 404, not HTML the browser would refuse anyway).
func spaRoute(p string) bool {
	for _, pre := range apiPrefixes {
		if strings.HasPrefix(p+"/", pre) {
			return false
		}
	}
	return path.Ext(p) == ""
}
