package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/sessions"
)

// Turn is a message from outside the WebSocket surface (a channel, a hook)
// to run an agent turn on.
type Turn struct {
	// RunID is the idempotency key: a Turn with a RunID already recorded
	// is not run again (its stored outcome is returned).
	RunID      string
	SessionKey string
	AgentID    string
	Message    string
	Images     []providers.Part
	// QueueMode applies when the session has a run (default collect).
	QueueMode string
	Timeout   time.Duration
	// ExtraSystem is appended to the system prompt (where the message
	// came from, who wrote it).
	ExtraSystem string
	// Model, when set, is a provider/model ref tried first for this run.
	Model string
	// OnDelta, when set, receives the reply text as it streams (called
	// from the run's goroutine; it must not block).
	OnDelta func(delta string)
	// MaxTokens (0: the provider's default) and Temperature (nil: the
	// provider's) bound each model call of the run.
	MaxTokens   int
	Temperature *float64
}

// Outcome is how a Turn's run ended.
type Outcome struct {
	RunID  string
	Status string // ok | error | timeout | aborted
	Text   string // the final assistant text
	Error  string
	// JoinedRunID is set when the message was folded into another run
	// (collect/steer): that run's answer covers it, so a channel replies
	// only once.
	JoinedRunID string
	// Replayed: the RunID was already recorded; nothing ran now.
	Replayed bool
	// Usage is the run's token usage (zero when replayed).
	Usage    providers.Usage
	Provider string
	Model    string
	// Images are files of images the model produced.
	Images []string
}

// Ticket follows a submitted Turn.
type Ticket struct {
	RunID string
	rn    *run
	done  *Outcome
}

// Wait blocks until the run ends or ctx ends.
func (t *Ticket) Wait(ctx context.Context) (Outcome, error) {
	if t.done != nil {
		return *t.done, nil
	}
	select {
	case <-t.rn.done:
	case <-ctx.Done():
		return Outcome{RunID: t.RunID}, ctx.Err()
	}
	t.rn.mu.Lock()
	res := *t.rn.result
	joined := t.rn.joined
	t.rn.mu.Unlock()
	return Outcome{RunID: t.RunID, Status: res.Status, Text: res.Text, Error: res.Error, JoinedRunID: joined, Usage: res.Usage,
		Provider: res.Provider, Model: res.Model, Images: res.Images}, nil
}

// Submit stores the Turn's user message and starts (or queues) its run. It
// returns once the message is durable.
func (r *Runtime) Submit(ctx context.Context, t Turn) (*Ticket, error) {
	if strings.TrimSpace(t.RunID) == "" {
		return nil, protocol.InvalidRequest("agent: turn without a run id")
	}
	if strings.TrimSpace(t.Message) == "" && len(t.Images) == 0 {
		return nil, protocol.InvalidRequest("agent: empty turn")
	}
	cfg := r.opt.Config()
	agentID, err := r.agentID(cfg, t.AgentID)
	if err != nil {
		return nil, err
	}
	key, err := r.sessionKey(agentID, t.SessionKey)
	if err != nil {
		return nil, err
	}
	mode := t.QueueMode
	if mode == "" {
		mode = QueueCollect
	}
	rn, err := r.submit(ctx, runRequest{RunID: t.RunID, SessionKey: key, AgentID: agentID, Message: t.Message,
		Images: t.Images, QueueMode: mode, Timeout: t.Timeout, ExtraSystem: t.ExtraSystem, Kind: "chat", Model: t.Model,
		OnDelta: t.OnDelta, MaxTokens: t.MaxTokens, Temperature: t.Temperature})
	var re *replayError
	if errors.As(err, &re) {
		st := re.run
		out := &Outcome{RunID: st.RunID, Status: st.Status, Error: st.Error, Replayed: true, Text: finalText(st.Final)}
		if !isTerminal(st.Status) {
			// Recorded but unfinished: a restart interrupted it (Recover
			// marks those failed) or it is still running in this process.
			r.mu.Lock()
			live := r.runs[st.RunID]
			r.mu.Unlock()
			if live != nil {
				return &Ticket{RunID: st.RunID, rn: live}, nil
			}
		}
		return &Ticket{RunID: st.RunID, done: out}, nil
	}
	if err != nil {
		return nil, err
	}
	return &Ticket{RunID: t.RunID, rn: rn}, nil
}

// finalText is the reply text of a stored final payload.
func finalText(final json.RawMessage) string {
	var p struct {
		Result struct {
			Payloads []struct {
				Text string `json:"text"`
			} `json:"payloads"`
		} `json:"result"`
	}
	if json.Unmarshal(final, &p) != nil {
		return ""
	}
	var parts []string
	for _, x := range p.Result.Payloads {
		parts = append(parts, x.Text)
	}
	return strings.Join(parts, "\n\n")
}

// Inject appends an assistant note to a session's transcript (no model
// call) and shows it to chat clients: a message delivered to WebChat. It
// returns the transcript message id.
func (r *Runtime) Inject(ctx context.Context, key, text, label string) (string, error) {
	agentID, _, ok := sessions.ParseKey(key)
	if !ok {
		return "", fmt.Errorf("invalid session key %q", key)
	}
	m, err := r.inject(ctx, key, agentID, text, label)
	return m.ID, err
}

func (r *Runtime) inject(ctx context.Context, key, agentID, text, label string) (sessions.Message, error) {
	if _, err := r.opt.Sessions.Ensure(ctx, key); err != nil {
		return sessions.Message{}, err
	}
	runID := "inject-" + uuid.NewString()
	msgs, err := r.opt.Sessions.Append(ctx, key, sessions.Message{Role: "assistant", Kind: "inject", Label: label, RunID: runID,
		Content: mustRaw([]map[string]any{{"type": "text", "text": text}})})
	if err != nil {
		return sessions.Message{}, err
	}
	em := &emitter{gw: r.gw, runID: runID, sessionKey: key, agentID: agentID}
	em.chat("final", map[string]any{"message": assistantMessage(text), "stopReason": "inject"})
	r.sessionsChanged(key, agentID, "inject")
	return msgs[0], nil
}

// AbortSession aborts a session's active run and drops its queue; it
// returns the run ids it ended.
func (r *Runtime) AbortSession(key string) []string { return r.abort(key, "") }

// ResetSession starts a new transcript for the session (the old one is
// kept under its previous sessionId), aborting anything running.
func (r *Runtime) ResetSession(ctx context.Context, key string) (*sessions.Session, error) {
	r.abort(key, "")
	s, err := r.opt.Sessions.Reset(ctx, key)
	if err != nil {
		return nil, err
	}
	agentID, _, _ := sessions.ParseKey(key)
	r.sessionsChanged(key, agentID, "reset")
	return s, nil
}

// SessionStatus describes a session for a /status reply.
type SessionStatus struct {
	Key, SessionID, AgentID string
	// Model is the ref the next run uses first ("" when none is
	// configured), Override the session's /model choice.
	Model, Override string
	Messages        int
	TotalTokens     int64
	Running         bool
	Queued          int
	LastRunStatus   string
	UpdatedAt       time.Time
}

// Status reports on a session (created when missing).
func (r *Runtime) Status(ctx context.Context, key string) (SessionStatus, error) {
	s, err := r.opt.Sessions.Ensure(ctx, key)
	if err != nil {
		return SessionStatus{}, err
	}
	cfg := r.opt.Config()
	st := SessionStatus{Key: key, SessionID: s.SessionID, AgentID: s.AgentID, Override: s.ModelOverride,
		TotalTokens: s.TotalTokens, LastRunStatus: s.Status, UpdatedAt: time.UnixMilli(s.UpdatedAt)}
	if refs := r.sessionModelRefs(ctx, cfg, s.AgentID, key); len(refs) > 0 {
		st.Model = refs[0]
	}
	if page, err := r.opt.Sessions.History(ctx, key, sessions.HistoryOptions{Limit: 1}); err == nil {
		st.Messages = page.Total
	}
	r.mu.Lock()
	st.Running = r.active[key] != nil
	st.Queued = len(r.queued[key])
	r.mu.Unlock()
	return st, nil
}

// SetSessionModel sets (ref != "") or clears the session's model override.
// The ref must name a configured model or provider ("provider/model").
func (r *Runtime) SetSessionModel(ctx context.Context, key, ref string) error {
	ref = strings.TrimSpace(ref)
	if ref != "" {
		reg := providers.FromConfig(r.opt.Config(), r.opt.Getenv, r.opt.HTTPClient)
		if _, _, err := reg.Resolve(ref); err != nil {
			return err
		}
	}
	if _, err := r.opt.Sessions.Ensure(ctx, key); err != nil {
		return err
	}
	_, err := r.opt.Sessions.Update(ctx, key, func(s *sessions.Session) { s.ModelOverride = ref })
	return err
}

// sessionModelRefs are modelRefs with the session's override first.
func (r *Runtime) sessionModelRefs(ctx context.Context, cfg *config.Config, agentID, key string) []string {
	refs := r.modelRefs(ctx, cfg, agentID)
	if key == "" {
		return refs
	}
	s, err := r.opt.Sessions.Get(ctx, key)
	if err != nil || s.ModelOverride == "" {
		return refs
	}
	out := []string{s.ModelOverride}
	for _, ref := range refs {
		if ref != s.ModelOverride {
			out = append(out, ref)
		}
	}
	return out
}
