package gateway

import (
	"encoding/json"
	"strconv"

	"github.com/pincerhq/pincer/core/protocol"
)

// BroadcastOptions tune one broadcast.
type BroadcastOptions struct {
	// DropIfSlow drops the event for a consumer over maxBufferedBytes (it
	// still consumes a seq) instead of closing it as a slow consumer.
	DropIfSlow bool
	// Filter further narrows the recipients (subscriptions, capabilities).
	Filter func(*Conn) bool
	// StateVersion is attached to the frame (presence and health).
	StateVersion *protocol.StateVersion
}

// allowed applies the event's guard to a connection.
func (g *EventGuard) allowed(c *Conn) bool {
	if g.All {
		return true
	}
	if c.role != protocol.RoleOperator {
		return false
	}
	return protocol.AnyScopeSatisfied(c.scopes, g.AnyOf)
}

// Broadcast sends an event to every authenticated connection its guard
// admits, numbering it with each socket's next seq. The payload is encoded
// once. Undeclared events are dropped (fail closed); it returns how many
// connections it was delivered to.
func (s *Server) Broadcast(event string, payload any, opt BroadcastOptions) int {
	g := s.eventGuard(event)
	if g == nil {
		s.log.Warn("dropping undeclared event", "event", event)
		return 0
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		s.log.Error("event payload encoding failed", "event", event, "err", err)
		return 0
	}
	ev, _ := json.Marshal(event)
	prefix := make([]byte, 0, len(raw)+len(ev)+40)
	prefix = append(prefix, `{"type":"event","event":`...)
	prefix = append(prefix, ev...)
	prefix = append(prefix, `,"payload":`...)
	prefix = append(prefix, raw...)
	suffix := []byte("}")
	if sv := opt.StateVersion; sv != nil {
		suffix = append([]byte(`,"stateVersion":{"presence":`), strconv.AppendInt(nil, sv.Presence, 10)...)
		suffix = append(suffix, `,"health":`...)
		suffix = strconv.AppendInt(suffix, sv.Health, 10)
		suffix = append(suffix, "}}"...)
	}
	n := 0
	s.connsMu.RLock()
	defer s.connsMu.RUnlock()
	for c := range s.conns {
		if !c.authed.Load() || !g.allowed(c) {
			continue
		}
		if opt.Filter != nil && !opt.Filter(c) {
			continue
		}
		c.enqueueBroadcast(prefix, suffix, opt.DropIfSlow)
		n++
	}
	return n
}
