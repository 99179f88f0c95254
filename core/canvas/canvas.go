// Package canvas is the canvas host: agent-editable HTML served from the
// gateway port, the A2UI renderer, and the scoped capability URLs through
// which nodes' browsers load both.
//
// # Files
//
// Each agent owns <root>/<agentId>/ (root: canvasHost.root, "~/" expanded and
// relative to the state directory; default <stateDir>/canvas), created with a
// placeholder index.html on first use and served at
// /__openclaw__/canvas/<agentId>/<path>. Hosted documents for parity with the
// reference live in <root>/documents/<id>/ and are served at
// /__openclaw__/canvas/documents/<id>/<path> (so an agent named "documents"
// has no canvas of its own). Only agents in the config (and main) are served.
// A directory serves its index.html, never a listing. Paths with "." or ".."
// segments, escaped slashes or backslashes, or NUL are refused with 404, and
// files are opened through os.Root, so a symlink is followed only when it is
// relative and stays inside the directory. Responses carry Cache-Control:
// no-store (agents rewrite files at any time) and Referrer-Policy:
// no-referrer (a capability URL must not leak to third-party hosts a page
// links to).
//
// # Live reload
//
// With canvasHost.liveReload (default true) every HTML response gets a small
// script before </body> that listens on /__openclaw__/canvas/_events
// (?agent=<id> or ?doc=<id>; Server-Sent Events) and reloads the page on a
// "reload" event. A poller compares the size and mtime of every file under
// the directory every 500 ms, only while a page listens (no fsnotify: the
// module set is fixed). Listeners are bounded per directory and in total.
//
// # Access
//
// Every route needs gateway auth (Authorization: Bearer, as AuthorizeHTTP;
// with auth mode none everything passes) or a capability token; without
// either it answers 401
// {"error":{"message":"Unauthorized","type":"unauthorized"}}. Browsers cannot
// send Bearer headers on navigation, so a node's webview uses its capability
// URL: hello-ok.pluginSurfaceUrls.canvas is http://<Host the node connected
// to>/__openclaw__/cap/<token>, and <capURL>/__openclaw__/canvas/… and
// <capURL>/__openclaw__/a2ui/… serve the same as the plain routes (nothing
// else: a token never reaches other gateway routes). Tokens are 32 random
// bytes (base64url), minted per node connection (role node only; operators
// get none) on hello-ok and on node.pluginSurface.refresh {surface:"canvas"},
// kept in memory, revoked when the connection ends (open event streams are
// closed) and expire after canvasHost.capabilityTtlMs (default 24 h; the
// reference's 10 minutes assume nodes that refresh before every navigation,
// which Pincer's node host does not). Unknown, expired and revoked tokens get
// the same 401. No cookie is set: pages use relative URLs, which keep the
// /cap/<token> prefix. URLs are http:// (the gateway speaks plain HTTP; a
// TLS-terminating proxy would have to rewrite them).
//
// # A2UI
//
// /__openclaw__/a2ui/ serves a self-contained renderer (plain ES modules, no
// build step, no CDN; a2ui.bundle.js is the renderer module under the
// reference's asset name) for Google's A2UI v0.8 messages: surfaceUpdate,
// dataModelUpdate, beginRendering and deleteSurface. It renders the whole
// v0.8 standard catalog: Text, Image, Icon, Video, AudioPlayer, Row, Column,
// List, Card, Tabs, Divider, Modal, Button, CheckBox, TextField,
// DateTimeInput, MultipleChoice and Slider; bound values ({literalString |
// literalNumber | literalBoolean | literalArray} and/or {path}, a literal
// with a path initialising the model there), children {explicitList} and
// {template:{componentId, dataBinding}} (over an array, a map, or a string
// holding JSON; paths inside a template resolve against the item first, then
// the root), Button actions with context, and two-way binding of input values
// to the data model. Text is plain text (no Markdown). See
// a2ui/a2ui.bundle.js for the details.
//
// Agents push messages with Host.PushA2UI (the canvas tool's a2ui_push): they
// are validated (all or nothing), applied to the agent's surfaces kept in
// memory (bounded; lost on restart) and fanned out to the pages streaming
// /__openclaw__/a2ui/stream?agent=<id>, which first get a "snapshot" event of
// the current surfaces and then one "a2ui" event per message. A
// dataModelUpdate without a path (or with "/") replaces the surface's model;
// with a path it merges the entries into the object there. A user action is
// POSTed to /__openclaw__/a2ui/action?agent=<id> as {userAction:{name,
// surfaceId, sourceComponentId, timestamp, context}} and becomes a followup
// turn on the agent's main session with the message "[canvas action] <name>
// <context JSON>"; the answer is 202 {ok:true, runId}.
//
// A2UIPageURL gives the canvas tool a URL of an agent's A2UI page that a node
// can open: the node's current capability URL (minted for its live connection
// if it holds none that is fresh) + /__openclaw__/a2ui/?agent=<id>, and
// whether that node already streams the page (then it needs no navigation).
// NodeURL does the same for any hosted /__openclaw__/ path.
//
// # Separate port
//
// canvasHost.port (the classic layout used 18793) adds a listener on the
// gateway's bind host (127.0.0.1 for loopback/auto, 0.0.0.0 for lan, the
// custom host for custom) that serves the same canvas, a2ui and cap routes
// and nothing else. It is read once at startup; a port that cannot be bound
// is logged and skipped. canvasHost.enabled false turns every route into 404
// and drops the surface URL from hello-ok (read per request).
package canvas

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/nodes"
)

// Agents receives A2UI user actions as agent turns.
type Agents interface {
	Submit(ctx context.Context, t agent.Turn) (*agent.Ticket, error)
}

// Deps are what the canvas host needs.
type Deps struct {
	Config   func() *config.Config
	StateDir string
	Agents   Agents
	Nodes    *nodes.Service
	Log      *slog.Logger
}

// Route prefixes.
const (
	CanvasPrefix = "/__openclaw__/canvas/"
	A2UIPrefix   = "/__openclaw__/a2ui/"
	CapPrefix    = "/__openclaw__/cap/"
	// SurfaceCanvas is the plugin surface name in hello-ok.pluginSurfaceUrls.
	SurfaceCanvas = "canvas"
)

// DefaultCapabilityTTL is how long a capability token lives without
// canvasHost.capabilityTtlMs (it dies earlier with its node connection).
const DefaultCapabilityTTL = 24 * time.Hour

// Host serves the canvas.
type Host struct {
	d   Deps
	log *slog.Logger

	mu       sync.Mutex
	srv      *gateway.Server
	closed   bool
	portSrv  *http.Server
	portAddr string

	caps    *capStore
	reload  *reloader
	surface *a2uiHub
}

// New prepares the host.
func New(d Deps) (*Host, error) {
	if d.Config == nil {
		return nil, errors.New("canvas: Deps.Config is required")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Host{d: d, log: log.With("component", "canvas")}
	h.caps = newCapStore()
	h.reload = newReloader(h.log)
	h.surface = newA2UIHub()
	if newHook != nil {
		newHook(h)
	}
	return h, nil
}

// newHook lets this package's tests reach the host a daemon builds.
var newHook func(*Host)

// Register mounts the routes and the nodes' surface URLs on the gateway,
// and starts the separate canvas port when canvasHost.port is set.
func (h *Host) Register(srv *gateway.Server) {
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
	mux := h.routes()
	for _, p := range []string{CanvasPrefix, A2UIPrefix, CapPrefix} {
		srv.Handle(p, mux)
	}
	srv.SetPluginSurfaces(h.pluginSurfaces)
	srv.OnDisconnect(func(c *gateway.Conn) {
		if c.Role() == "node" {
			h.revoke(h.caps.revokeConn(c.ID()))
		}
	})
	if h.d.Nodes != nil {
		h.d.Nodes.SetSurfaceProvider(h.refreshSurface)
	}
	h.startPort(mux)
}

// Close stops background work (file pollers, event streams, the separate
// port).
func (h *Host) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	ps := h.portSrv
	h.mu.Unlock()
	h.reload.close()
	h.surface.close()
	if ps != nil {
		_ = ps.Close()
	}
}

// PortAddr is the address of the separate canvas listener ("" without one).
func (h *Host) PortAddr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.portAddr
}

// routes is the handler shared by the gateway port and the separate port.
func (h *Host) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(CanvasPrefix, func(w http.ResponseWriter, r *http.Request) {
		h.direct(w, r, func(acc access) { h.serveCanvas(w, r, strings.TrimPrefix(r.URL.Path, CanvasPrefix), acc) })
	})
	mux.HandleFunc(A2UIPrefix, func(w http.ResponseWriter, r *http.Request) {
		h.direct(w, r, func(acc access) { h.serveA2UI(w, r, strings.TrimPrefix(r.URL.Path, A2UIPrefix), acc) })
	})
	mux.HandleFunc(CapPrefix, h.serveCap)
	return mux
}

// startPort listens on canvasHost.port (read once, at startup).
func (h *Host) startPort(handler http.Handler) {
	cfg := h.d.Config()
	st := h.settingsOf(cfg)
	if !st.enabled || st.port == 0 {
		return
	}
	host := "127.0.0.1"
	if addr, err := cfg.ListenAddr(); err == nil {
		if hh, _, err := net.SplitHostPort(addr); err == nil && hh != "" {
			host = hh
		}
	}
	addr := net.JoinHostPort(host, strconv.Itoa(st.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		h.log.Warn("canvas host port unavailable; canvas stays on the gateway port", "addr", addr, "err", err)
		return
	}
	ps := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelDebug)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = ln.Close()
		return
	}
	h.portSrv, h.portAddr = ps, ln.Addr().String()
	h.mu.Unlock()
	h.log.Info("canvas host listening", "addr", ln.Addr().String())
	go func() {
		if err := ps.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Warn("canvas host port stopped", "err", err)
		}
	}()
}

// settings are canvasHost.* resolved.
type settings struct {
	enabled    bool
	liveReload bool
	port       int
	root       string
	capTTL     time.Duration
}

func (h *Host) settings() settings { return h.settingsOf(h.d.Config()) }

func (h *Host) settingsOf(cfg *config.Config) settings {
	st := settings{enabled: true, liveReload: true, root: filepath.Join(h.d.StateDir, "canvas"), capTTL: DefaultCapabilityTTL}
	if cfg == nil {
		return st
	}
	m := cfg.CanvasHost
	if b, ok := m["enabled"].(bool); ok {
		st.enabled = b
	}
	if b, ok := m["liveReload"].(bool); ok {
		st.liveReload = b
	}
	if n, ok := number(m["port"]); ok && n >= 1 && n <= 65535 {
		st.port = int(n)
	}
	if n, ok := number(m["capabilityTtlMs"]); ok && n >= 1000 {
		st.capTTL = time.Duration(n) * time.Millisecond
	}
	if s, ok := m["root"].(string); ok && strings.TrimSpace(s) != "" {
		st.root = expandHome(strings.TrimSpace(s))
		if !filepath.IsAbs(st.root) {
			st.root = filepath.Join(h.d.StateDir, st.root)
		}
	}
	return st
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case jsonNumber:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

type jsonNumber interface{ Float64() (float64, error) }

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// agentKnown reports whether id is a configured agent (or main).
func (h *Host) agentKnown(id string) bool {
	if !validID(id) {
		return false
	}
	if id == config.MainAgentID {
		return true
	}
	cfg := h.d.Config()
	if cfg == nil {
		return false
	}
	_, ok := cfg.Agents.Entries[id]
	return ok
}

// validID is an agent or document id: what config accepts for agent ids.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

func (h *Host) server() *gateway.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.srv
}

// canvasCommands are the node commands the canvas host owns (the
// reference's canvas plugin: present, navigate, hide; with eval and
// snapshot, which Pincer's canvas tool uses).
var canvasCommands = []string{"canvas.present", "canvas.navigate", "canvas.hide", "canvas.eval", "canvas.snapshot"}

// NodeCommands are the node commands to allow on every platform while the
// canvas host is enabled (canvasHost.enabled, default true).
func NodeCommands(cfg *config.Config) []string {
	if cfg == nil {
		return nil
	}
	if b, ok := cfg.CanvasHost["enabled"].(bool); ok && !b {
		return nil
	}
	return canvasCommands
}
