package gateway

import (
	"github.com/pincerhq/pincer/core/protocol"
)

// OnHello registers a hook run after a connection's hello-ok was queued.
func (s *Server) OnHello(f func(*Conn)) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.onHello = append(s.onHello, f)
}

// OnAdmit registers a hook run once a connection is authenticated, just
// before its hello-ok is queued: state a client may query right after
// hello-ok (a node's registration) goes here. The hook must not send to the
// connection. Admitted connections run the OnDisconnect hooks when they end.
func (s *Server) OnAdmit(f func(*Conn)) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.onAdmit = append(s.onAdmit, f)
}

func (s *Server) admit(c *Conn) {
	// The lifecycle lock orders admission against a close racing the
	// handshake: a connection that already left is not registered, and one
	// registered is unregistered by the disconnect hooks.
	c.life.Lock()
	defer c.life.Unlock()
	if c.dropped {
		return
	}
	c.admitted.Store(true)
	s.hookMu.RLock()
	hooks := append([]func(*Conn){}, s.onAdmit...)
	s.hookMu.RUnlock()
	for _, f := range hooks {
		f(c)
	}
}

// OnDisconnect registers a hook run when an authenticated connection ends.
func (s *Server) OnDisconnect(f func(*Conn)) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.onClose = append(s.onClose, f)
}

func (s *Server) disconnectHooks() []func(*Conn) {
	s.hookMu.RLock()
	defer s.hookMu.RUnlock()
	return append([]func(*Conn){}, s.onClose...)
}

func (s *Server) afterHello(c *Conn) {
	s.log.Info("client connected", "conn", c.id, "client", c.params.Client.ID, "mode", c.params.Client.Mode,
		"version", c.params.Client.Version, "role", c.role, "scopes", c.scopes, "auth", c.authMethod, "remote", c.clientIP)
	c.schedulePing()
	c.life.Lock()
	defer c.life.Unlock()
	if c.dropped {
		return
	}
	s.presence.connected(c)
	s.hookMu.RLock()
	hooks := append([]func(*Conn){}, s.onHello...)
	s.hookMu.RUnlock()
	for _, f := range hooks {
		f(c)
	}
}

func (s *Server) buildHello(c *Conn) *protocol.HelloOk {
	health, hv := s.health.current()
	pres, pv := s.presence.list()
	if !c.HasScope(protocol.ScopeRead) {
		pres = []protocol.PresenceEntry{} // presence is read-gated, in the snapshot too
	}
	h := &protocol.HelloOk{
		Type:     "hello-ok",
		Protocol: protocol.Version,
		Server: protocol.HelloServer{
			Version: s.opt.Version, BuildID: s.opt.BuildID, BootID: s.bootID, ConnID: c.id,
		},
		Features: protocol.HelloFeatures{Methods: s.Methods(), Events: s.Events(), Capabilities: []string{}},
		Snapshot: protocol.Snapshot{
			Suspension:   &protocol.Suspension{Phase: "accepting"},
			Presence:     pres,
			Health:       health,
			StateVersion: protocol.StateVersion{Presence: pv, Health: hv},
			UptimeMs:     s.Uptime().Milliseconds(),
		},
		Auth: protocol.HelloAuth{Method: c.authMethod, Role: c.role, Scopes: c.scopes},
		Policy: protocol.HelloPolicy{
			MaxPayload: s.opt.MaxPayload, MaxBufferedBytes: s.opt.MaxBufferedBytes,
			TickIntervalMs: s.opt.TickInterval.Milliseconds(),
			Attachments:    &protocol.AttachmentsPolicy{MaxBytes: 19464192, MaxImageBytes: 6291456},
		},
	}
	if g := c.grant; g != nil {
		h.Auth.DeviceToken, h.Auth.IssuedAtMs, h.Auth.DeviceTokens = g.Token, g.IssuedAtMs, g.Handoff
		c.grant = nil
	}
	if s.opt.SessionDefaults != nil {
		h.Snapshot.SessionDefaults = s.opt.SessionDefaults()
	}
	if f := s.pluginSurfaces(); f != nil {
		if urls := f(c); len(urls) > 0 {
			h.PluginSurfaceURLs = urls
		}
	}
	if s.opt.ConfigInfo != nil {
		path, dir, hash := s.opt.ConfigInfo()
		if hash != "" {
			h.Snapshot.AppliedConfigHash = &hash
		}
		if c.HasScope(protocol.ScopeAdmin) {
			h.Snapshot.ConfigPath, h.Snapshot.StateDir, h.Snapshot.AuthMode = path, dir, s.opt.Auth.Mode
		}
	}
	return h
}

// SetPluginSurfaces sets what hello-ok.pluginSurfaceUrls carries for a
// connection (the canvas host hands nodes a capability URL).
func (s *Server) SetPluginSurfaces(f func(c *Conn) map[string]string) {
	s.hookMu.Lock()
	s.surfaces = f
	s.hookMu.Unlock()
}

func (s *Server) pluginSurfaces() func(c *Conn) map[string]string {
	s.hookMu.RLock()
	defer s.hookMu.RUnlock()
	return s.surfaces
}
