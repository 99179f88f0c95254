// Package cron owns schedules: the heartbeat of the main agent, wake
// requests and the queue of system events the next heartbeat reads.
// (Cron jobs proper arrive with the automations issue.)
package cron

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/store"
)

const kvNamespace = "heartbeat"

// maxQueuedEvents bounds the system-event queue; the oldest are dropped.
const maxQueuedEvents = 100

// Runner performs one heartbeat turn with the queued system events and
// reports the outcome. The agent runtime installs the real one; without it
// heartbeats are recorded as skipped and the queue is kept for later.
type Runner func(ctx context.Context, reason string, events []QueuedEvent) (protocol.HeartbeatEvent, bool)

// QueuedEvent is a system event waiting for the next heartbeat.
type QueuedEvent struct {
	Text       string `json:"text"`
	SessionKey string `json:"sessionKey,omitempty"`
	Ts         int64  `json:"ts"`
}

// Heartbeat is the heartbeat state: enabled flag, last event, queue.
type Heartbeat struct {
	db     *store.DB
	srv    *gateway.Server
	log    *slog.Logger
	every  time.Duration
	mu     sync.Mutex
	state  heartbeatState
	runner Runner
	wake   chan string
}

type heartbeatState struct {
	Enabled bool                     `json:"enabled"`
	Last    *protocol.HeartbeatEvent `json:"last,omitempty"`
	Queue   []QueuedEvent            `json:"queue"`
}

// NewHeartbeat loads the persisted state. every is the interval (30m by
// default); zero or negative disables the timer.
func NewHeartbeat(db *store.DB, srv *gateway.Server, every time.Duration, log *slog.Logger) (*Heartbeat, error) {
	h := &Heartbeat{db: db, srv: srv, log: log, every: every, wake: make(chan string, 1)}
	h.state.Enabled = true
	if db != nil {
		raw, ok, err := db.GetKV(kvNamespace, "state")
		if err != nil {
			return nil, err
		}
		if ok {
			if err := json.Unmarshal(raw, &h.state); err != nil {
				log.Warn("heartbeat state unreadable; starting fresh", "err", err)
				h.state = heartbeatState{Enabled: true}
			}
		}
	}
	h.runner = func(ctx context.Context, reason string, events []QueuedEvent) (protocol.HeartbeatEvent, bool) {
		return protocol.HeartbeatEvent{Ts: time.Now().UnixMilli(), Status: "skipped", Reason: "no-agent-runtime"}, false
	}
	return h, nil
}

// SetRunner installs the agent's heartbeat runner.
func (h *Heartbeat) SetRunner(r Runner) {
	h.mu.Lock()
	h.runner = r
	h.mu.Unlock()
}

func (h *Heartbeat) saveLocked() error {
	if h.db == nil {
		return nil
	}
	raw, err := json.Marshal(h.state)
	if err != nil {
		return err
	}
	return h.db.PutKV(kvNamespace, "state", raw)
}

// Enabled reports whether heartbeats run.
func (h *Heartbeat) Enabled() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state.Enabled
}

// Last is the last heartbeat event, or nil.
func (h *Heartbeat) Last() *protocol.HeartbeatEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state.Last
}

// Enqueue adds a system event for the next heartbeat (persisted first).
func (h *Heartbeat) Enqueue(text, sessionKey string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state.Queue = append(h.state.Queue, QueuedEvent{Text: text, SessionKey: sessionKey, Ts: time.Now().UnixMilli()})
	if n := len(h.state.Queue); n > maxQueuedEvents {
		h.state.Queue = h.state.Queue[n-maxQueuedEvents:]
	}
	return h.saveLocked()
}

// Queued lists the texts waiting for the next heartbeat.
func (h *Heartbeat) Queued() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(h.state.Queue))
	for i, e := range h.state.Queue {
		out[i] = e.Text
	}
	return out
}

// Wake asks for a heartbeat now (coalesced with one already pending).
func (h *Heartbeat) Wake(reason string) {
	select {
	case h.wake <- reason:
	default:
	}
}

// Run drives the heartbeat timer and wake requests until ctx ends.
func (h *Heartbeat) Run(ctx context.Context) {
	var tick <-chan time.Time
	if h.every > 0 {
		t := time.NewTicker(h.every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if h.Enabled() {
				h.beat(ctx, "interval")
			}
		case reason := <-h.wake:
			h.beat(ctx, reason)
		}
	}
}

func (h *Heartbeat) beat(ctx context.Context, reason string) {
	h.mu.Lock()
	runner := h.runner
	events := append([]QueuedEvent(nil), h.state.Queue...)
	h.mu.Unlock()
	start := time.Now()
	ev, consumed := runner(ctx, reason, events)
	if ev.DurationMs == nil {
		d := time.Since(start).Milliseconds()
		ev.DurationMs = &d
	}
	h.mu.Lock()
	if consumed {
		h.state.Queue = h.state.Queue[min(len(events), len(h.state.Queue)):]
	}
	h.state.Last = &ev
	if err := h.saveLocked(); err != nil {
		h.log.Error("saving heartbeat state failed", "err", err)
	}
	h.mu.Unlock()
	if h.srv != nil {
		h.srv.Broadcast(protocol.EventHeartbeat, ev, gateway.BroadcastOptions{DropIfSlow: true})
	}
}

// Register adds last-heartbeat, set-heartbeats and wake, and the
// heartbeat event.
func (h *Heartbeat) Register(srv *gateway.Server) {
	srv.RegisterEvent(protocol.EventHeartbeat, gateway.EventGuard{All: true})
	srv.Register(gateway.Method{
		Name: "last-heartbeat", Scope: protocol.ScopeRead,
		Handler: func(ctx context.Context, call *gateway.Call) (any, error) {
			if last := h.Last(); last != nil {
				return last, nil
			}
			return json.RawMessage("null"), nil
		},
	})
	srv.Register(gateway.Method{
		Name: "set-heartbeats", Scope: protocol.ScopeAdmin,
		Handler: func(ctx context.Context, call *gateway.Call) (any, error) {
			var p protocol.SetHeartbeatsParams
			if err := call.Bind(&p); err != nil {
				return nil, err
			}
			h.mu.Lock()
			h.state.Enabled = p.Enabled
			err := h.saveLocked()
			h.mu.Unlock()
			if err != nil {
				return nil, protocol.Unavailable("saving heartbeat state failed: "+err.Error(), 0)
			}
			return protocol.SetHeartbeatsResult{OK: true, Enabled: p.Enabled}, nil
		},
	})
	srv.Register(gateway.Method{
		Name: "wake", Scope: protocol.ScopeWrite,
		Handler: func(ctx context.Context, call *gateway.Call) (any, error) {
			var p protocol.WakeParams
			if err := call.Bind(&p); err != nil {
				return nil, err
			}
			if err := h.Enqueue(p.Text, p.SessionKey); err != nil {
				return nil, protocol.Unavailable("queueing wake text failed: "+err.Error(), 0)
			}
			if p.Mode == "now" {
				h.Wake("wake")
			}
			return protocol.OKResult{OK: true}, nil
		},
	})
}
