package agent

import (
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

// emitter sends one run's agent and chat events. Both streams share the
// run's own seq (spec §6.3); tool streams go only to the connection that
// started the run, when it declared the tool-events cap.
type emitter struct {
	gw         *gateway.Server
	runID      string
	sessionKey string
	sessionID  string
	agentID    string
	heartbeat  bool
	starter    *gateway.Conn
	toolEvents bool

	mu  sync.Mutex
	seq int64
}

func (e *emitter) next() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return e.seq
}

// agent emits an agent event on stream with data.
func (e *emitter) agent(stream string, data map[string]any) {
	if e.gw == nil {
		return
	}
	p := map[string]any{
		"runId": e.runID, "stream": stream, "data": data, "sessionKey": e.sessionKey, "agentId": e.agentID,
		"seq": e.next(), "ts": time.Now().UnixMilli(),
	}
	if stream == "lifecycle" && e.sessionID != "" {
		p["sessionId"] = e.sessionID
	}
	if e.heartbeat {
		p["isHeartbeat"] = true
	}
	opt := gateway.BroadcastOptions{}
	if stream == "tool" || stream == "item" {
		if !e.toolEvents || e.starter == nil {
			return
		}
		starter := e.starter
		opt.Filter = func(c *gateway.Conn) bool { return c == starter }
	}
	e.gw.Broadcast("agent", p, opt)
}

// chat emits a chat event in state with extra fields.
func (e *emitter) chat(state string, fields map[string]any) {
	if e.gw == nil {
		return
	}
	p := map[string]any{"runId": e.runID, "sessionKey": e.sessionKey, "agentId": e.agentID, "seq": e.next(), "state": state}
	for k, v := range fields {
		p[k] = v
	}
	e.gw.Broadcast("chat", p, gateway.BroadcastOptions{})
}

// status emits the paired run_status / chat status of a phase.
func (e *emitter) status(phase string) {
	e.chat("status", map[string]any{"phase": phase})
	e.agent("run_status", map[string]any{"phase": phase})
}

// assistantMessage is the cumulative assistant message of chat events.
func assistantMessage(text string) map[string]any {
	return map[string]any{"role": "assistant", "content": []map[string]any{{"type": "text", "text": text}},
		"timestamp": time.Now().UnixMilli()}
}

// registerEvents declares the events this package broadcasts.
func registerEvents(gw *gateway.Server) {
	gw.RegisterEvent("agent", gateway.EventGuard{AnyOf: []string{protocol.ScopeRead}})
	gw.RegisterEvent("chat", gateway.EventGuard{AnyOf: []string{protocol.ScopeRead}})
	gw.RegisterEvent("sessions.changed", gateway.EventGuard{AnyOf: []string{protocol.ScopeRead}})
}
