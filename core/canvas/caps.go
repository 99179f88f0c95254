package canvas

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
)

// Capability token bounds.
const (
	maxGrantsPerConn = 8
	maxGrants        = 4096
)

// capGrant is one capability token.
type capGrant struct {
	token   string
	connID  string
	nodeID  string
	host    string // the Host the node connected to
	issued  time.Time
	expires time.Time
}

// base is the grant's capability URL (no trailing slash).
func (g *capGrant) base() string { return "http://" + g.host + CapPrefix + g.token }

type capStore struct {
	mu      sync.Mutex
	now     func() time.Time
	byToken map[string]*capGrant
	byConn  map[string][]*capGrant
}

func newCapStore() *capStore {
	return &capStore{now: time.Now, byToken: map[string]*capGrant{}, byConn: map[string][]*capGrant{}}
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// mint issues a token for a node connection. The connection's oldest
// tokens beyond maxGrantsPerConn, and the store's beyond maxGrants, are
// dropped (their tokens are returned for revoke).
func (s *capStore) mint(connID, nodeID, host string, ttl time.Duration) (*capGrant, []string, error) {
	tok, err := newToken()
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	g := &capGrant{token: tok, connID: connID, nodeID: nodeID, host: host, issued: now, expires: now.Add(ttl)}
	var dropped []string
	list := append(s.byConn[connID], g)
	for len(list) > maxGrantsPerConn {
		delete(s.byToken, list[0].token)
		dropped = append(dropped, list[0].token)
		list = list[1:]
	}
	s.byConn[connID] = list
	s.byToken[tok] = g
	if len(s.byToken) > maxGrants {
		dropped = append(dropped, s.pruneLocked(now)...)
	}
	return g, dropped, nil
}

// pruneLocked drops expired grants, then the oldest until under the cap.
func (s *capStore) pruneLocked(now time.Time) []string {
	var dropped []string
	all := make([]*capGrant, 0, len(s.byToken))
	for _, g := range s.byToken {
		if !now.Before(g.expires) {
			dropped = append(dropped, g.token)
			s.removeLocked(g)
			continue
		}
		all = append(all, g)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].issued.Before(all[j].issued) })
	for i := 0; len(s.byToken) > maxGrants && i < len(all); i++ {
		dropped = append(dropped, all[i].token)
		s.removeLocked(all[i])
	}
	return dropped
}

func (s *capStore) removeLocked(g *capGrant) {
	delete(s.byToken, g.token)
	list := s.byConn[g.connID]
	for i, x := range list {
		if x == g {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.byConn, g.connID)
	} else {
		s.byConn[g.connID] = list
	}
}

// lookup returns a live grant for tok.
func (s *capStore) lookup(tok string) *capGrant {
	if tok == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.byToken[tok]
	if g == nil {
		return nil
	}
	if !s.now().Before(g.expires) {
		s.removeLocked(g)
		return nil
	}
	return g
}

// fresh returns the connection's newest grant with at least half its
// lifetime left.
func (s *capStore) fresh(connID string) *capGrant {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.byConn[connID]
	if len(list) == 0 {
		return nil
	}
	g := list[len(list)-1]
	if s.now().Add(g.expires.Sub(g.issued) / 2).Before(g.expires) {
		return g
	}
	return nil
}

// revokeConn drops a connection's grants and returns their tokens.
func (s *capStore) revokeConn(connID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, g := range s.byConn[connID] {
		delete(s.byToken, g.token)
		out = append(out, g.token)
	}
	delete(s.byConn, connID)
	return out
}

// revoke closes the event streams opened with tokens.
func (h *Host) revoke(tokens []string) {
	if len(tokens) == 0 {
		return
	}
	set := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		set[t] = true
	}
	h.reload.dropTokens(set)
	h.surface.dropTokens(set)
}

// nodeIDOf is the node id of a connection as the node registry keys it.
func nodeIDOf(c *gateway.Conn) string {
	if id := c.DeviceID(); id != "" {
		return id
	}
	if p := c.Params(); p != nil {
		return p.Client.ID
	}
	return ""
}

// grantFor mints a token for a node connection. A connection that closed
// meanwhile gets none (its disconnect hook may already have run).
func (h *Host) grantFor(c *gateway.Conn, st settings) (*capGrant, error) {
	if c.Role() != "node" {
		return nil, errors.New("capability URLs are for node connections")
	}
	host := c.Host()
	if host == "" || strings.ContainsAny(host, "/?#@ \t\r\n") {
		host = h.fallbackHost()
	}
	g, dropped, err := h.caps.mint(c.ID(), nodeIDOf(c), host, st.capTTL)
	if err != nil {
		return nil, err
	}
	h.revoke(dropped)
	select {
	case <-c.Context().Done():
		h.revoke(h.caps.revokeConn(c.ID()))
		return nil, errors.New("node connection closed")
	default:
	}
	return g, nil
}

// fallbackHost is the gateway's own address, for a connection that sent no
// usable Host header.
func (h *Host) fallbackHost() string {
	cfg := h.d.Config()
	if cfg != nil {
		if addr, err := cfg.ListenAddr(); err == nil {
			if host, port, err := net.SplitHostPort(addr); err == nil {
				if host == "0.0.0.0" || host == "::" {
					host = "127.0.0.1"
				}
				return net.JoinHostPort(host, port)
			}
		}
	}
	return fmt.Sprintf("127.0.0.1:%d", config.DefaultPort)
}

// pluginSurfaces fills hello-ok.pluginSurfaceUrls for node connections.
func (h *Host) pluginSurfaces(c *gateway.Conn) map[string]string {
	st := h.settings()
	if !st.enabled || c.Role() != "node" {
		return nil
	}
	g, err := h.grantFor(c, st)
	if err != nil {
		h.log.Debug("no canvas capability for node", "conn", c.ID(), "err", err)
		return nil
	}
	return map[string]string{SurfaceCanvas: g.base()}
}

// refreshSurface answers node.pluginSurface.refresh.
func (h *Host) refreshSurface(c *gateway.Conn, surface string) (string, error) {
	if surface != SurfaceCanvas {
		return "", fmt.Errorf("unknown plugin surface %q (this gateway hosts %q only)", surface, SurfaceCanvas)
	}
	st := h.settings()
	if !st.enabled {
		return "", errors.New("the canvas host is disabled (canvasHost.enabled is false)")
	}
	g, err := h.grantFor(c, st)
	if err != nil {
		return "", err
	}
	return g.base(), nil
}

// nodeConn finds the live connection of a node given by id, display name
// or unique id prefix (as the agent's nodes tool resolves them).
func (h *Host) nodeConn(ref string) (*gateway.Conn, error) {
	srv := h.server()
	if srv == nil {
		return nil, errors.New("canvas host is not registered on a gateway")
	}
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errors.New("node is required")
	}
	byID := map[string]*gateway.Conn{}
	for _, c := range srv.Conns() {
		if c.Role() != "node" {
			continue
		}
		id := nodeIDOf(c)
		if prev := byID[id]; prev == nil || h.caps.fresh(c.ID()) != nil {
			byID[id] = c
		}
	}
	if c := byID[ref]; c != nil {
		return c, nil
	}
	var byName, byPrefix []string
	for id, c := range byID {
		name := ""
		if h.d.Nodes != nil {
			if row, ok := h.d.Nodes.Describe(id); ok {
				name = row.DisplayName
			}
		}
		if name == "" && c.Params() != nil {
			name = c.Params().Client.DisplayName
		}
		if name != "" && strings.EqualFold(name, ref) {
			byName = append(byName, id)
		}
		if strings.HasPrefix(id, ref) {
			byPrefix = append(byPrefix, id)
		}
	}
	switch {
	case len(byName) == 1:
		return byID[byName[0]], nil
	case len(byName) > 1:
		return nil, fmt.Errorf("node name %q is ambiguous (%s)", ref, strings.Join(byName, ", "))
	case len(byPrefix) == 1:
		return byID[byPrefix[0]], nil
	}
	return nil, fmt.Errorf("node %q is not connected", ref)
}

// NodeURL maps a hosted path (/__openclaw__/canvas/… or /__openclaw__/a2ui/…,
// with an optional query) to a URL the node's browser can load: the path
// under the node's capability URL.
func (h *Host) NodeURL(node, hostedPath string) (string, error) {
	st := h.settings()
	if !st.enabled {
		return "", errors.New("the canvas host is disabled (canvasHost.enabled is false)")
	}
	u, err := url.Parse(hostedPath)
	if err != nil || u.Scheme != "" || u.Host != "" ||
		!(strings.HasPrefix(u.Path, CanvasPrefix) || strings.HasPrefix(u.Path, A2UIPrefix)) {
		return "", fmt.Errorf("%q is not a hosted canvas path (%s… or %s…)", hostedPath, CanvasPrefix, A2UIPrefix)
	}
	c, err := h.nodeConn(node)
	if err != nil {
		return "", err
	}
	g := h.caps.fresh(c.ID())
	if g == nil {
		if g, err = h.grantFor(c, st); err != nil {
			return "", err
		}
	}
	return g.base() + u.RequestURI(), nil
}

// A2UIPageURL is a URL of agentID's A2UI page that node can load, and
// whether the node already streams that page (it updates itself then).
func (h *Host) A2UIPageURL(agentID, node string) (string, bool, error) {
	agentID = h.agentOrMain(agentID)
	if !h.agentKnown(agentID) {
		return "", false, fmt.Errorf("unknown agent id %q", agentID)
	}
	u, err := h.NodeURL(node, A2UIPrefix+"?agent="+url.QueryEscape(agentID))
	if err != nil {
		return "", false, err
	}
	c, err := h.nodeConn(node)
	if err != nil {
		return "", false, err
	}
	return u, h.surface.streaming(agentID, nodeIDOf(c), h.caps), nil
}

func (h *Host) agentOrMain(id string) string {
	if id = strings.TrimSpace(id); id == "" {
		return config.MainAgentID
	}
	return id
}

// access is how a request was authorized.
type access struct {
	grant  *capGrant // nil: gateway auth
	prefix string    // "/__openclaw__/cap/<token>" for capability requests
}

func (a access) token() string {
	if a.grant == nil {
		return ""
	}
	return a.grant.token
}

// direct serves a plain route after gateway auth.
func (h *Host) direct(w http.ResponseWriter, r *http.Request, serve func(access)) {
	if !h.settings().enabled {
		writeError(w, http.StatusNotFound, "not_found", "The canvas host is disabled")
		return
	}
	srv := h.server()
	if srv == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "The canvas host is starting")
		return
	}
	if a := srv.AuthorizeHTTP(r); !a.OK {
		gateway.WriteUnauthorized(w, a)
		return
	}
	serve(access{})
}

// serveCap serves /__openclaw__/cap/<token>/<hosted path>.
func (h *Host) serveCap(w http.ResponseWriter, r *http.Request) {
	if !h.settings().enabled {
		writeError(w, http.StatusNotFound, "not_found", "The canvas host is disabled")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, CapPrefix)
	tok, sub, _ := strings.Cut(rest, "/")
	g := h.caps.lookup(tok)
	if g == nil {
		gateway.WriteUnauthorized(w, gateway.HTTPAuth{})
		return
	}
	acc := access{grant: g, prefix: CapPrefix + tok}
	sub = "/" + sub
	switch {
	case strings.HasPrefix(sub, CanvasPrefix):
		h.serveCanvas(w, r, strings.TrimPrefix(sub, CanvasPrefix), acc)
	case strings.HasPrefix(sub, A2UIPrefix):
		h.serveA2UI(w, r, strings.TrimPrefix(sub, A2UIPrefix), acc)
	case sub+"/" == A2UIPrefix || sub+"/" == CanvasPrefix:
		redirect(w, r, acc.prefix+sub+"/")
	case sub == "/":
		redirect(w, r, acc.prefix+CanvasPrefix+config.MainAgentID+"/")
	default:
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
	}
}

// redirect keeps the query string.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	if r.URL.RawQuery != "" {
		to += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusFound)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": msg, "type": typ}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
