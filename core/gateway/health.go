package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

// HealthSource builds a health snapshot; probe asks for live checks.
type HealthSource func(ctx context.Context, probe bool) (any, error)

type healthCache struct {
	s       *Server
	mu      sync.Mutex
	source  HealthSource
	raw     json.RawMessage
	at      time.Time
	ver     int64
	refresh sync.Mutex // one refresh at a time
}

func newHealthCache(s *Server) *healthCache { return &healthCache{s: s} }

func (h *healthCache) current() (json.RawMessage, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.raw == nil {
		b, _ := json.Marshal(map[string]any{"ok": true, "ts": nowMs()})
		return b, h.ver
	}
	return h.raw, h.ver
}

func (h *healthCache) version() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ver
}

// SetHealthSource installs the builder of health snapshots.
func (s *Server) SetHealthSource(src HealthSource) {
	s.health.mu.Lock()
	s.health.source = src
	s.health.mu.Unlock()
}

// Health returns the cached snapshot and its version.
func (s *Server) Health() (json.RawMessage, int64) { return s.health.current() }

// RefreshHealth rebuilds the snapshot, bumps stateVersion.health and
// broadcasts the health event; it returns the new snapshot.
func (s *Server) RefreshHealth(ctx context.Context, probe bool) (json.RawMessage, error) {
	h := s.health
	h.refresh.Lock()
	defer h.refresh.Unlock()
	h.mu.Lock()
	src := h.source
	h.mu.Unlock()
	var v any = map[string]any{"ok": true, "ts": nowMs()}
	if src != nil {
		got, err := src(ctx, probe)
		if err != nil {
			return nil, err
		}
		v = got
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.raw = raw
	h.at = time.Now()
	h.ver++
	ver := h.ver
	h.mu.Unlock()
	sv := protocol.StateVersion{Presence: s.presence.currentVersion(), Health: ver}
	s.Broadcast(protocol.EventHealth, json.RawMessage(raw), BroadcastOptions{DropIfSlow: true, StateVersion: &sv})
	return raw, nil
}

// HealthWithin returns the cached snapshot when it is younger than maxAge,
// else refreshes it. Bursts of health calls (load tests, many clients
// polling) then cost one rebuild and one broadcast per maxAge, not one per
// call.
func (s *Server) HealthWithin(ctx context.Context, maxAge time.Duration) (json.RawMessage, error) {
	h := s.health
	h.mu.Lock()
	raw, at := h.raw, h.at
	h.mu.Unlock()
	if raw != nil && time.Since(at) < maxAge {
		return raw, nil
	}
	h.refresh.Lock()
	h.mu.Lock()
	raw, at = h.raw, h.at
	h.mu.Unlock()
	h.refresh.Unlock()
	if raw != nil && time.Since(at) < maxAge {
		return raw, nil // refreshed by a concurrent caller meanwhile
	}
	return s.RefreshHealth(ctx, false)
}
