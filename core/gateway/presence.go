package gateway

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

// Departed clients linger in presence with reason "disconnect" for a while.
const presenceLinger = 5 * time.Minute

type presenceItem struct {
	entry protocol.PresenceEntry
	conns int // live connections sharing this key
}

type presenceStore struct {
	s       *Server
	mu      sync.Mutex
	self    protocol.PresenceEntry
	order   []string
	items   map[string]*presenceItem
	version int64
}

func newPresenceStore(s *Server) *presenceStore {
	platform := s.opt.Platform
	if platform == "" {
		platform = hostPlatform()
	}
	family := s.opt.Family
	if family == "" {
		family = map[string]string{"darwin": "Mac", "linux": "Linux", "windows": "Windows"}[runtime.GOOS]
	}
	ip := s.opt.HostIP
	if ip == "" {
		ip = primaryIP()
	}
	self := protocol.PresenceEntry{
		Host: s.opt.Host, IP: ip, Version: s.opt.Version, Platform: platform, DeviceFamily: family,
		Mode: "gateway", Reason: "self", InstanceID: s.bootID, Ts: nowMs(),
	}
	text := fmt.Sprintf("Gateway: %s", s.opt.Host)
	if ip != "" {
		text += fmt.Sprintf(" (%s)", ip)
	}
	self.Text = text + fmt.Sprintf(" · app %s · mode gateway · reason self", s.opt.Version)
	return &presenceStore{s: s, self: self, items: map[string]*presenceItem{}, version: 1}
}

// ephemeral modes never appear in presence (spec Appendix E).
func ephemeralMode(mode string) bool {
	return mode == protocol.ModeCLI || mode == protocol.ModeBackend || mode == protocol.ModeProbe
}

func presenceKey(c *Conn) string {
	if c.params.Client.InstanceID != "" {
		return "instance:" + c.params.Client.InstanceID
	}
	if c.deviceID != "" {
		return "device:" + c.deviceID
	}
	return "conn:" + c.id
}

func (p *presenceStore) list() ([]protocol.PresenceEntry, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listLocked(), p.version
}

func (p *presenceStore) listLocked() []protocol.PresenceEntry {
	out := make([]protocol.PresenceEntry, 0, len(p.order)+1)
	self := p.self
	self.Ts = nowMs() // the gateway is present now
	out = append(out, self)
	for _, k := range p.order {
		out = append(out, p.items[k].entry)
	}
	return out
}

func (p *presenceStore) upsertLocked(key string, e protocol.PresenceEntry) *presenceItem {
	it := p.items[key]
	if it == nil {
		it = &presenceItem{}
		p.items[key] = it
		p.order = append(p.order, key)
	}
	it.entry = e
	return it
}

func (p *presenceStore) removeLocked(key string) {
	delete(p.items, key)
	for i, k := range p.order {
		if k == key {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
}

// changed bumps the version and broadcasts the list.
func (p *presenceStore) changedLocked() {
	p.version++
	list := p.listLocked()
	sv := protocol.StateVersion{Presence: p.version, Health: p.s.health.version()}
	p.s.Broadcast(protocol.EventPresence, protocol.PresenceEvent{Presence: list}, BroadcastOptions{DropIfSlow: true, StateVersion: &sv})
}

func (p *presenceStore) connected(c *Conn) {
	if ephemeralMode(c.params.Client.Mode) {
		return
	}
	cl := c.params.Client
	now := nowMs()
	e := protocol.PresenceEntry{
		Host: cl.DisplayName, ClientID: cl.ID, IP: c.clientIP, Version: cl.Version, Platform: cl.Platform,
		DeviceFamily: cl.DeviceFamily, ModelIdentifier: cl.ModelIdentifier, TimeZone: cl.TimeZone, Mode: cl.Mode,
		Reason: "connect", Ts: now, OnlineSince: now, LastActivityAt: now, DeviceID: c.deviceID,
		Roles: []string{c.role}, Scopes: c.scopes, InstanceID: cl.InstanceID,
	}
	if e.Host == "" {
		e.Host = cl.ID
	}
	key := presenceKey(c)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.presenceGone {
		return // the socket closed while its handshake finished
	}
	it := p.items[key]
	if it != nil && it.conns > 0 {
		e.OnlineSince = it.entry.OnlineSince
	}
	it = p.upsertLocked(key, e)
	it.conns++
	c.presenceK = key
	p.changedLocked()
}

func (p *presenceStore) disconnected(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.presenceGone = true
	if c.presenceK == "" {
		return
	}
	it := p.items[c.presenceK]
	if it == nil {
		return
	}
	it.conns--
	if it.conns > 0 {
		return
	}
	it.entry.Reason = "disconnect"
	it.entry.Ts = nowMs()
	p.changedLocked()
}

// Upsert adds or replaces an entry (system-event) and broadcasts presence.
func (p *presenceStore) upsert(key string, e protocol.PresenceEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Ts == 0 {
		e.Ts = nowMs()
	}
	p.upsertLocked(key, e)
	p.changedLocked()
}

func (p *presenceStore) prune() {
	p.mu.Lock()
	defer p.mu.Unlock()
	cut := time.Now().Add(-presenceLinger).UnixMilli()
	changed := false
	for _, k := range append([]string(nil), p.order...) {
		it := p.items[k]
		if it.conns == 0 && it.entry.Ts < cut {
			p.removeLocked(k)
			changed = true
		}
	}
	if changed {
		p.changedLocked()
	}
}

func (p *presenceStore) currentVersion() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

// Presence returns the presence list (gateway first) and its version.
func (s *Server) Presence() ([]protocol.PresenceEntry, int64) { return s.presence.list() }

// UpsertPresence adds or replaces a presence entry under key and
// broadcasts the new list.
func (s *Server) UpsertPresence(key string, e protocol.PresenceEntry) { s.presence.upsert(key, e) }

// primaryIP is the first non-loopback IPv4 address, for the self entry.
func primaryIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// hostPlatform is "<os> <kernel release>" like the reference ("linux 6.1.0").
func hostPlatform() string {
	if rel := kernelRelease(); rel != "" {
		return runtime.GOOS + " " + rel
	}
	return runtime.GOOS
}
