package gateway

import (
	"encoding/json"
	"runtime"
	"strconv"
	"sync"

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
	s.connsMu.RLock()
	defer s.connsMu.RUnlock()
	rp := recipientsPool.Get().(*[]*Conn)
	to := (*rp)[:0]
	for c := range s.conns {
		if !c.authed.Load() || !g.allowed(c) {
			continue
		}
		if opt.Filter != nil && !opt.Filter(c) {
			continue
		}
		to = append(to, c)
	}
	n := len(to)
	all := to
	// Large fan-outs are split across the cores: each recipient costs a
	// write(2), which is most of a broadcast's CPU. Broadcast returns once
	// every shard is done, so consecutive broadcasts keep their order.
	shards := min(runtime.GOMAXPROCS(0), n/minShard)
	if shards > 1 {
		var wg sync.WaitGroup
		per := (n + shards - 1) / shards
		for lo := per; lo < n; lo += per {
			part := to[lo:min(lo+per, n)]
			wg.Go(func() {
				for _, c := range part {
					c.enqueueBroadcast(prefix, suffix, opt.DropIfSlow)
				}
			})
		}
		to = to[:per]
		for _, c := range to {
			c.enqueueBroadcast(prefix, suffix, opt.DropIfSlow)
		}
		wg.Wait()
	} else {
		for _, c := range to {
			c.enqueueBroadcast(prefix, suffix, opt.DropIfSlow)
		}
	}
	clear(all)
	if cap(all) <= maxPooledRecipients {
		*rp = all[:0]
		recipientsPool.Put(rp)
	}
	return n
}

// minShard is the fewest recipients worth another goroutine.
const minShard = 256

const maxPooledRecipients = 64 << 10

var recipientsPool = sync.Pool{New: func() any { return new([]*Conn) }}
