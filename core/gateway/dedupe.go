package gateway

import (
	"container/list"
	"encoding/json"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

// dedupeEntry remembers the outcome of one idempotent request.
type dedupeEntry struct {
	key     string
	done    chan struct{}
	payload json.RawMessage
	err     *protocol.Error
	at      time.Time
	elem    *list.Element
}

// dedupeCache is the idempotency cache: TTL-bound, capped, oldest finished
// entries evicted first; entries still running are never evicted.
type dedupeCache struct {
	ttl     time.Duration
	max     int
	mu      sync.Mutex
	entries map[string]*dedupeEntry
	lru     *list.List // oldest first
}

func newDedupeCache(ttl time.Duration, max int) *dedupeCache {
	return &dedupeCache{ttl: ttl, max: max, entries: map[string]*dedupeEntry{}, lru: list.New()}
}

// begin returns the existing entry for key (a repeat) or creates a new one
// that the caller must finish.
func (d *dedupeCache) begin(key string) (e *dedupeEntry, repeat bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if e := d.entries[key]; e != nil {
		if !d.expired(e, now) {
			return e, true
		}
		d.removeLocked(e)
	}
	e = &dedupeEntry{key: key, done: make(chan struct{}), at: now}
	e.elem = d.lru.PushBack(e)
	d.entries[key] = e
	d.evictLocked(now)
	return e, false
}

func (d *dedupeCache) expired(e *dedupeEntry, now time.Time) bool {
	select {
	case <-e.done:
		return now.Sub(e.at) > d.ttl
	default:
		return false // running
	}
}

func (d *dedupeCache) finish(e *dedupeEntry, payload json.RawMessage, err *protocol.Error) {
	d.mu.Lock()
	e.payload, e.err, e.at = payload, err, time.Now()
	d.lru.MoveToBack(e.elem)
	d.mu.Unlock()
	close(e.done)
}

func (d *dedupeCache) removeLocked(e *dedupeEntry) {
	delete(d.entries, e.key)
	d.lru.Remove(e.elem)
}

func (d *dedupeCache) evictLocked(now time.Time) {
	for el := d.lru.Front(); el != nil && len(d.entries) > d.max; {
		next := el.Next()
		e := el.Value.(*dedupeEntry)
		select {
		case <-e.done:
			d.removeLocked(e)
		default:
		}
		el = next
	}
}

func (d *dedupeCache) sweep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for el := d.lru.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*dedupeEntry); d.expired(e, now) {
			d.removeLocked(e)
		}
		el = next
	}
}

func (d *dedupeCache) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.entries)
}
