package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/sessions"
)

// runRequest is what starts a run.
type runRequest struct {
	RunID       string
	SessionKey  string
	AgentID     string
	Message     string
	Images      []providers.Part
	QueueMode   string
	Timeout     time.Duration
	Starter     *gateway.Conn
	Heartbeat   bool
	ExtraSystem string
	Kind        string // "agent" | "chat"
	// Model, when set, is tried before the session's and agent's models.
	Model string
	// OnDelta receives the assistant text as it streams (HTTP surfaces).
	OnDelta func(delta string)
	// MaxTokens and Temperature, when set, bound each model call.
	MaxTokens   int
	Temperature *float64
}

// run is one agent run.
type run struct {
	req      runRequest
	ctx      context.Context
	cancel   context.CancelCauseFunc
	em       *emitter
	done     chan struct{}
	accepted time.Time

	mu      sync.Mutex
	steered []steer         // messages folded in by steer or collect
	seenRun map[string]bool // user turns already in the loaded context
	result  *runResult
	started time.Time
	joined  string // the run this one was folded into (steer/collect)
}

// runResult is how a run ended.
type runResult struct {
	Status     string // ok | error | timeout | aborted
	Text       string
	StopReason string
	Error      string
	Provider   string
	Model      string
	Usage      providers.Usage
	EndedAt    time.Time
	Tools      []string
	// Images are the files of images the model produced (saved under the
	// state dir) and Parts the images themselves.
	Images []string
	Parts  []providers.Part
}

// replayError: the idempotency key names a run already recorded (before a
// restart, past the in-memory dedupe window); its stored outcome is replayed.
type replayError struct{ run *sessions.Run }

func (e *replayError) Error() string { return "run " + e.run.RunID + " already recorded" }

// replay answers a repeated idempotency key from the store.
func replay(stored *sessions.Run) (any, error) {
	if !isTerminal(stored.Status) {
		return map[string]any{"runId": stored.RunID, "status": "in_flight", "sessionKey": stored.SessionKey, "agentId": stored.AgentID}, nil
	}
	var payload map[string]any
	if len(stored.Final) > 0 && json.Unmarshal(stored.Final, &payload) == nil {
		if stored.Status != "ok" {
			return nil, &gateway.FinalError{Payload: payload, Err: protocol.Unavailable(stored.Error, 0)}
		}
		return payload, nil
	}
	return map[string]any{"runId": stored.RunID, "status": stored.Status, "summary": stored.Error}, nil
}

// errAborted is the cancel cause of chat.abort / interrupt.
var errAborted = errors.New("aborted")

// errShutdown ends the runs a stopping gateway interrupts (the same words
// Recover uses for runs a crash left behind).
var errShutdown = errors.New(interruptedMessage)

const interruptedMessage = "interrupted: the gateway stopped during the run"

// errStopping refuses new runs while the gateway stops.
var errStopping = errors.New("the gateway is stopping")

// submit records the run and the user turn durably, then queues or starts
// it. It returns once the turn is stored (the caller acknowledges then).
func (r *Runtime) submit(ctx context.Context, req runRequest) (*run, error) {
	r.mu.Lock()
	stopping := r.stopping
	r.mu.Unlock()
	if stopping {
		return nil, errStopping
	}
	if req.Timeout <= 0 {
		req.Timeout = DefaultRunTimeout
	}
	sess, err := r.opt.Sessions.Ensure(ctx, req.SessionKey)
	if err != nil {
		return nil, err
	}
	if stored, err := r.opt.Sessions.RecordRun(ctx, sessions.Run{RunID: req.RunID, SessionKey: req.SessionKey, AgentID: req.AgentID, Status: "accepted"}); err != nil {
		if errors.Is(err, sessions.ErrRunExists) && stored != nil {
			return nil, &replayError{run: stored}
		}
		return nil, err
	}
	if !req.Heartbeat {
		user := sessions.Message{Role: "user", Content: mustRaw(req.Message), RunID: req.RunID, IdempotencyKey: req.RunID + ":user"}
		if _, err := r.opt.Sessions.Append(ctx, req.SessionKey, user); err != nil {
			return nil, err
		}
	}
	rctx, cancel := context.WithCancelCause(context.Background())
	rn := &run{req: req, ctx: rctx, cancel: cancel, done: make(chan struct{}), accepted: time.Now()}
	rn.em = &emitter{gw: r.gw, runID: req.RunID, sessionKey: req.SessionKey, sessionID: sess.SessionID, agentID: req.AgentID,
		heartbeat: req.Heartbeat, starter: req.Starter, toolEvents: req.Starter != nil && req.Starter.HasCap("tool-events")}
	r.mu.Lock()
	r.runs[req.RunID] = rn
	cur := r.active[req.SessionKey]
	switch {
	case cur == nil:
		r.active[req.SessionKey] = rn
		r.mu.Unlock()
		go r.execute(rn)
	case req.QueueMode == QueueInterrupt:
		r.queued[req.SessionKey] = append([]*run{rn}, r.queued[req.SessionKey]...)
		r.mu.Unlock()
		cur.cancel(errAborted)
	case req.QueueMode == QueueSteer:
		cur.mu.Lock()
		live := cur.result == nil
		if live {
			cur.steered = append(cur.steered, steer{runID: req.RunID, text: req.Message})
		}
		cur.mu.Unlock()
		if live {
			r.mu.Unlock()
			// A steered message rides along the active run; its own run
			// ends as soon as that one does.
			go r.finishSteered(rn, cur)
			break
		}
		r.queued[req.SessionKey] = append(r.queued[req.SessionKey], rn)
		r.mu.Unlock()
	default: // followup, collect
		r.queued[req.SessionKey] = append(r.queued[req.SessionKey], rn)
		r.mu.Unlock()
	}
	r.sessionsChanged(req.SessionKey, req.AgentID, "run")
	return rn, nil
}

// finishSteered ends a steered run with the outcome of the run it joined.
func (r *Runtime) finishSteered(rn, into *run) {
	<-into.done
	into.mu.Lock()
	res := *into.result
	into.mu.Unlock()
	rn.mu.Lock()
	rn.joined = into.req.RunID
	rn.mu.Unlock()
	r.complete(rn, &res)
	// The steered message's own run id ends with the answer it was part of.
	switch res.Status {
	case "ok":
		rn.em.chat("final", map[string]any{"stopReason": res.StopReason, "message": assistantMessage(res.Text), "joinedRunId": into.req.RunID})
	case "aborted":
		rn.em.chat("aborted", map[string]any{"stopReason": "aborted", "joinedRunId": into.req.RunID})
	default:
		rn.em.chat("error", map[string]any{"errorMessage": res.Error, "stopReason": res.StopReason, "joinedRunId": into.req.RunID})
	}
}

// next starts the session's next queued run (merging collect runs).
func (r *Runtime) next(key string) {
	r.mu.Lock()
	q := r.queued[key]
	if len(q) == 0 {
		delete(r.active, key)
		delete(r.queued, key)
		r.mu.Unlock()
		return
	}
	rn := q[0]
	q = q[1:]
	var merged []*run
	if rn.req.QueueMode == QueueCollect {
		for len(q) > 0 && q[0].req.QueueMode == QueueCollect {
			merged = append(merged, q[0])
			q = q[1:]
		}
	}
	r.queued[key] = q
	r.active[key] = rn
	r.mu.Unlock()
	for _, m := range merged {
		rn.steered = append(rn.steered, steer{runID: m.req.RunID, text: m.req.Message})
		go r.finishSteered(m, rn)
	}
	go r.execute(rn)
}

// execute runs the model loop for one run and records its end.
func (r *Runtime) execute(rn *run) {
	ctx, cancel := context.WithTimeoutCause(rn.ctx, rn.req.Timeout, context.DeadlineExceeded)
	defer cancel()
	rn.mu.Lock()
	rn.started = time.Now()
	rn.mu.Unlock()
	_, _ = r.opt.Sessions.UpdateRun(ctx, rn.req.RunID, func(x *sessions.Run) { x.Status = "running"; x.StartedAt = time.Now().UnixMilli() })
	res := r.loop(ctx, rn)
	r.complete(rn, res)
	r.next(rn.req.SessionKey)
}

// complete records a run's result, emits its end, and releases waiters.
func (r *Runtime) complete(rn *run, res *runResult) {
	res.EndedAt = time.Now()
	rn.mu.Lock()
	rn.result = res
	rn.mu.Unlock()
	final, _ := json.Marshal(r.finalPayload(rn, res))
	if _, err := r.opt.Sessions.FinishRun(context.Background(), rn.req.RunID, res.Status, final, res.Error); err != nil {
		r.log.Error("recording the run's end failed", "runId", rn.req.RunID, "err", err)
	}
	close(rn.done)
	r.sessionsChanged(rn.req.SessionKey, rn.req.AgentID, "run")
	// Keep finished runs around for agent.wait for a while.
	time.AfterFunc(10*time.Minute, func() {
		r.mu.Lock()
		if r.runs[rn.req.RunID] == rn {
			delete(r.runs, rn.req.RunID)
		}
		r.mu.Unlock()
	})
}

// loop is the model/tool loop.
func (r *Runtime) loop(ctx context.Context, rn *run) *runResult {
	em := rn.em
	cfg := r.opt.Config()
	started := time.Now()
	res := &runResult{}
	em.status("preparing_workspace")
	dir := r.workspaceDir(cfg, rn.req.AgentID)
	if err := sessions.EnsureWorkspace(dir); err != nil {
		r.log.Warn("workspace not prepared", "dir", dir, "err", err)
	}
	em.status("preparing_context")
	system, err := sessions.SystemPrompt(dir, baseSystemPrompt(cfg, rn.req.AgentID))
	if err != nil {
		r.log.Warn("system prompt files unreadable", "dir", dir, "err", err)
	}
	if rn.req.ExtraSystem != "" {
		system += "\n\n" + rn.req.ExtraSystem
	}
	em.agent("lifecycle", map[string]any{"phase": "start", "startedAt": started.UnixMilli()})
	refs := r.sessionModelRefs(ctx, cfg, rn.req.AgentID, rn.req.SessionKey)
	if rn.req.Model != "" {
		refs = append([]string{rn.req.Model}, slices.DeleteFunc(refs, func(r string) bool { return r == rn.req.Model })...)
	}
	if len(refs) == 0 {
		return r.fail(rn, res, providers.ErrNoModel, "")
	}
	reg := providers.FromConfig(cfg, r.opt.Getenv, r.opt.HTTPClient)
	summary, history, err := r.opt.Sessions.ModelContext(ctx, rn.req.SessionKey)
	if err != nil {
		return r.fail(rn, res, err, "")
	}
	if sessions.NeedsCompaction(history, contextWindow(cfg, refs[0])) {
		if s2, h2, ok := r.compact(ctx, rn, reg, refs); ok {
			summary, history = s2, h2
		}
	}
	if summary != "" {
		system += "\n\n## Earlier in this conversation (summary)\n" + summary
	}
	msgs := toProviderMessages(history)
	seen := map[string]bool{}
	for _, h := range history {
		if h.Role == "user" && h.RunID != "" {
			seen[h.RunID] = true
		}
	}
	rn.mu.Lock()
	rn.seenRun = seen
	rn.mu.Unlock()
	if rn.req.Heartbeat {
		// The heartbeat prompt is not part of the transcript.
		msgs = append(msgs, providers.Message{Role: providers.RoleUser, Content: []providers.Part{{Type: "text", Text: rn.req.Message}}})
	}
	if len(rn.req.Images) > 0 && len(msgs) > 0 {
		last := &msgs[len(msgs)-1]
		last.Content = append(last.Content, rn.req.Images...)
	}
	set := r.toolSet(ctx, cfg, rn.req.AgentID)
	em.status("starting_model")
	itemID := uuid.NewString()
	var text strings.Builder
	for turn := 1; turn <= maxModelTurns; turn++ {
		msgs = r.takeSteered(rn, msgs)
		turnText := ""
		var lastFlush time.Time
		flushed := 0
		flush := func(force bool) {
			if len(turnText) == flushed || (!force && time.Since(lastFlush) < 50*time.Millisecond) {
				return
			}
			full := text.String() + turnText
			delta := turnText[flushed:]
			flushed, lastFlush = len(turnText), time.Now()
			em.agent("assistant", map[string]any{"text": full, "delta": delta, "itemId": itemID + ":" + fmt.Sprint(turn)})
			em.chat("delta", map[string]any{"deltaText": delta, "message": assistantMessage(full)})
			if rn.req.OnDelta != nil {
				rn.req.OnDelta(delta)
			}
		}
		onEvent := func(ev providers.Event) error {
			if ev.TextDelta != "" {
				turnText += ev.TextDelta
				flush(false)
			}
			return nil
		}
		resp, err := reg.Run(ctx, refs, providers.Request{System: system, Messages: msgs, Tools: set.Specs(),
			MaxTokens: rn.req.MaxTokens, Temperature: rn.req.Temperature}, onEvent)
		flush(true)
		if resp != nil {
			em.agent("lifecycle", map[string]any{"phase": "model", "provider": resp.Provider, "model": resp.Model})
			res.Provider, res.Model = resp.Provider, resp.Model
			res.Usage.Input += resp.Usage.Input
			res.Usage.Output += resp.Usage.Output
			res.Usage.CacheRead += resp.Usage.CacheRead
			res.Usage.CacheWrite += resp.Usage.CacheWrite
		}
		if err != nil {
			return r.fail(rn, res, err, text.String()+turnText)
		}
		text.WriteString(resp.Text)
		content := []map[string]any{}
		if resp.Text != "" {
			content = append(content, map[string]any{"type": "text", "text": resp.Text})
		}
		for _, img := range resp.Images {
			path, err := r.saveGenerated(rn.req.RunID, len(res.Images), img)
			if err != nil {
				r.log.Warn("a generated image was not saved", "runId", rn.req.RunID, "err", err)
				continue
			}
			res.Images, res.Parts = append(res.Images, path), append(res.Parts, img)
			content = append(content, wireParts([]providers.Part{img})...)
		}
		for _, tc := range resp.ToolCalls {
			content = append(content, map[string]any{"type": "toolCall", "id": tc.ID, "name": tc.Name, "arguments": orEmptyObject(tc.Arguments)})
		}
		assistant := sessions.Message{Role: "assistant", Content: mustRaw(content),
			RunID: rn.req.RunID, Provider: resp.Provider, Model: resp.Model, API: resp.API, StopReason: resp.StopReason,
			Usage: &sessions.Usage{Input: resp.Usage.Input, Output: resp.Usage.Output, CacheRead: resp.Usage.CacheRead,
				CacheWrite: resp.Usage.CacheWrite, TotalTokens: resp.Usage.Total()}}
		if !rn.req.Heartbeat || heartbeatReply(resp.Text) == "sent" {
			if _, err := r.opt.Sessions.Append(context.Background(), rn.req.SessionKey, assistant); err != nil {
				return r.fail(rn, res, err, text.String())
			}
		}
		res.StopReason = resp.StopReason
		am := providers.Message{Role: providers.RoleAssistant, ToolCalls: resp.ToolCalls}
		if resp.Text != "" {
			am.Content = []providers.Part{{Type: "text", Text: resp.Text}}
		}
		msgs = append(msgs, am)
		if len(resp.ToolCalls) == 0 {
			if rn.hasSteered() {
				// A message steered in while the model answered gets its own turn.
				text.WriteString("\n\n")
				continue
			}
			break
		}
		msgs = append(msgs, r.runTools(ctx, rn, set, dir, resp.ToolCalls, res)...)
		if ctx.Err() != nil {
			return r.fail(rn, res, ctx.Err(), text.String())
		}
		if turn == maxModelTurns {
			res.StopReason = "max_turns"
		}
		if resp.Text != "" {
			text.WriteString("\n\n")
		}
	}
	em.agent("usage", map[string]any{"outputTokens": res.Usage.Output})
	res.Status, res.Text = "ok", text.String()
	if res.StopReason == "" {
		res.StopReason = "stop"
	}
	r.emitEnd(rn, res, started)
	final := assistantMessage(res.Text)
	if len(res.Parts) > 0 {
		final["content"] = append(final["content"].([]map[string]any), wireParts(res.Parts)...)
	}
	em.chat("final", map[string]any{"stopReason": res.StopReason, "message": final})
	return res
}

// compactKeep is how many recent messages survive a compaction verbatim.
const compactKeep = 6

// compact summarises the older part of the session with the run's model
// before the context window overflows.
func (r *Runtime) compact(ctx context.Context, rn *run, reg *providers.Registry, refs []string) (string, []sessions.Message, bool) {
	rn.em.agent("compaction", map[string]any{"phase": "start"})
	err := r.opt.Sessions.Compact(ctx, rn.req.SessionKey, compactKeep, func(ctx context.Context, older []sessions.Message) (string, error) {
		msgs := toProviderMessages(older)
		msgs = append(msgs, providers.Message{Role: providers.RoleUser, Content: []providers.Part{{Type: "text", Text: compactionPrompt}}})
		resp, err := reg.Run(ctx, refs, providers.Request{System: "You write concise, faithful conversation summaries.", Messages: msgs}, nil)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(resp.Text), nil
	})
	if err != nil {
		r.log.Warn("compaction failed; sending the full context", "session", rn.req.SessionKey, "err", err)
		rn.em.agent("compaction", map[string]any{"phase": "error", "error": err.Error()})
		return "", nil, false
	}
	summary, history, err := r.opt.Sessions.ModelContext(ctx, rn.req.SessionKey)
	if err != nil {
		return "", nil, false
	}
	rn.em.agent("compaction", map[string]any{"phase": "end"})
	r.sessionsChanged(rn.req.SessionKey, rn.req.AgentID, "compaction")
	return summary, history, true
}

const compactionPrompt = "Summarise the conversation so far for your own future reference: the user's goals, decisions made, " +
	"facts learned, open tasks and anything you promised to do. Keep names, numbers and file paths exact. Write it as notes, " +
	"not as a reply to the user."

// contextWindow is the configured context window of a provider/model ref
// (default 128k tokens).
func contextWindow(cfg *config.Config, ref string) int {
	prov, model, ok := strings.Cut(ref, "/")
	if ok {
		for _, m := range cfg.Models.Providers[prov].Models {
			if m.ID == model && m.ContextWindow > 0 {
				return int(m.ContextWindow)
			}
		}
	}
	return 128000
}

// steer is a message folded into a running run.
type steer struct{ runID, text string }

// takeSteered folds messages steered into the run into the context (those
// whose user turn the loaded history already holds are skipped).
func (r *Runtime) takeSteered(rn *run, msgs []providers.Message) []providers.Message {
	rn.mu.Lock()
	steered := rn.steered
	rn.steered = nil
	seen := rn.seenRun
	rn.mu.Unlock()
	for _, m := range steered {
		if seen[m.runID] {
			continue
		}
		msgs = append(msgs, providers.Message{Role: providers.RoleUser, Content: []providers.Part{{Type: "text", Text: m.text}}})
	}
	return msgs
}

// hasSteered reports whether messages are waiting to be folded in.
func (rn *run) hasSteered() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return len(rn.steered) > 0
}

// fail ends a run on an error, abort or timeout.
func (r *Runtime) fail(rn *run, res *runResult, err error, partial string) *runResult {
	em := rn.em
	cause := context.Cause(rn.ctx)
	res.Text = partial
	switch {
	case errors.Is(cause, errShutdown):
		res.Status, res.StopReason, res.Error = "error", "error", interruptedMessage
	case errors.Is(cause, errAborted):
		res.Status, res.StopReason, res.Error = "aborted", "aborted", "aborted"
	case errors.Is(err, context.DeadlineExceeded):
		res.Status, res.StopReason, res.Error = "timeout", "timeout", "the run timed out"
	default:
		res.Status, res.StopReason, res.Error = "error", "error", err.Error()
	}
	if partial != "" {
		// What the model already said stays in the transcript.
		_, _ = r.opt.Sessions.Append(context.Background(), rn.req.SessionKey, sessions.Message{Role: "assistant",
			Content: mustRaw([]map[string]any{{"type": "text", "text": partial}}), RunID: rn.req.RunID, StopReason: res.StopReason,
			Provider: res.Provider, Model: res.Model})
	}
	started := rn.started
	if res.Status == "error" {
		em.agent("lifecycle", map[string]any{"phase": "error", "error": res.Error, "endedAt": time.Now().UnixMilli()})
	}
	r.emitEnd(rn, res, started)
	switch res.Status {
	case "aborted":
		f := map[string]any{"stopReason": "aborted"}
		if partial != "" {
			f["message"] = assistantMessage(partial)
		}
		em.chat("aborted", f)
	default:
		kind := "unknown"
		if res.Status == "timeout" {
			kind = "timeout"
		}
		var api *providers.APIError
		if errors.As(err, &api) && api.Status == 429 {
			kind = "rate_limit"
		}
		em.chat("error", map[string]any{"errorMessage": res.Error, "errorKind": kind, "stopReason": res.StopReason})
	}
	return res
}

// emitEnd emits lifecycle finishing and end.
func (r *Runtime) emitEnd(rn *run, res *runResult, started time.Time) {
	em := rn.em
	now := time.Now().UnixMilli()
	aborted := res.Status == "aborted"
	em.agent("lifecycle", map[string]any{"phase": "finishing", "stopReason": res.StopReason, "aborted": aborted,
		"livenessState": "working", "endedAt": now})
	em.agent("lifecycle", map[string]any{"phase": "end", "startedAt": started.UnixMilli(), "endedAt": now, "aborted": aborted,
		"stopReason": res.StopReason, "livenessState": "working", "executionSettled": true,
		"terminalReceipt": r.receipt(rn, res), "terminalReply": terminalReply(res)})
}

func (r *Runtime) receipt(rn *run, res *runResult) map[string]any {
	disp := terminalReply(res)["disposition"]
	tools := res.Tools
	if tools == nil {
		tools = []string{}
	}
	return map[string]any{"runId": rn.req.RunID, "sessionId": rn.em.sessionID, "turnId": rn.req.RunID,
		"requested":           map[string]any{"provider": res.Provider, "model": res.Model},
		"effective":           map[string]any{"provider": res.Provider, "model": res.Model, "responseModel": res.Model},
		"successfulToolNames": tools, "rerouted": false, "terminalDisposition": disp}
}

func terminalReply(res *runResult) map[string]any {
	disp := "visible"
	if strings.TrimSpace(res.Text) == "" {
		disp = "empty"
	}
	return map[string]any{"disposition": disp, "text": res.Text}
}

// finalPayload is the second res of agent (spec §5.2).
func (r *Runtime) finalPayload(rn *run, res *runResult) map[string]any {
	summary := "completed"
	if res.Status != "ok" {
		summary = res.Error
	}
	usage := map[string]any{"input": res.Usage.Input, "output": res.Usage.Output, "cacheRead": res.Usage.CacheRead,
		"cacheWrite": res.Usage.CacheWrite, "total": res.Usage.Total(), "cost": map[string]any{"total": 0}}
	payloads := []map[string]any{}
	if res.Text != "" || len(res.Images) > 0 {
		p := map[string]any{"text": res.Text, "mediaUrl": nil}
		if len(res.Images) > 0 {
			p["mediaUrl"], p["mediaUrls"] = res.Images[0], res.Images
		}
		payloads = append(payloads, p)
	}
	dur := res.EndedAt.Sub(rn.accepted).Milliseconds()
	out := map[string]any{"runId": rn.req.RunID, "status": res.Status, "summary": summary,
		"result": map[string]any{"payloads": payloads, "meta": map[string]any{"durationMs": dur,
			"agentMeta": map[string]any{"sessionId": rn.em.sessionID, "sessionFile": rn.req.SessionKey, "provider": res.Provider,
				"model": res.Model, "usage": usage},
			"aborted": res.Status == "aborted", "stopReason": res.StopReason}}}
	return out
}

// toProviderMessages converts transcript entries to model messages.
func toProviderMessages(history []sessions.Message) []providers.Message {
	var out []providers.Message
	for _, m := range history {
		switch m.Role {
		case "user":
			var s string
			if json.Unmarshal(m.Content, &s) != nil {
				s = string(m.Content)
			}
			out = append(out, providers.Message{Role: providers.RoleUser, Content: []providers.Part{{Type: "text", Text: s}}})
		case "assistant":
			parts, calls := partsFromWire(m.Content)
			if len(parts) == 0 && len(calls) == 0 {
				continue
			}
			out = append(out, providers.Message{Role: providers.RoleAssistant, Content: parts, ToolCalls: calls})
		case "tool":
			parts, _ := partsFromWire(m.Content)
			out = append(out, providers.Message{Role: providers.RoleTool, ToolCallID: m.ToolCallID, Content: parts, IsError: m.IsError})
		}
	}
	return out
}

func mustRaw(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// baseSystemPrompt is the fixed part of every system prompt.
func baseSystemPrompt(cfg *config.Config, agentID string) string {
	name := "Assistant"
	if e, ok := cfg.Agents.Entries[agentID]; ok && strings.TrimSpace(e.Name) != "" {
		name = strings.TrimSpace(e.Name)
	}
	return "You are " + name + ", a personal assistant running in Pincer. Today is " +
		time.Now().Format("Monday, 2 January 2006") + ". The workspace files below describe who you are and who you help."
}

// sessionsChanged tells subscribers a session changed.
func (r *Runtime) sessionsChanged(key, agentID, reason string) {
	if r.gw == nil {
		return
	}
	r.gw.Broadcast("sessions.changed", map[string]any{"sessionKey": key, "agentId": agentID, "reason": reason, "ts": time.Now().UnixMilli()},
		gateway.BroadcastOptions{DropIfSlow: true, Filter: func(c *gateway.Conn) bool { return c.Get(subscribedKey) == true }})
}

const subscribedKey = "sessions.subscribed"

// maxGeneratedPerRun bounds the images one run may save.
const maxGeneratedPerRun = 16

// saveGenerated stores an image the model produced under
// <stateDir>/media/generated and returns its path.
func (r *Runtime) saveGenerated(runID string, n int, img providers.Part) (string, error) {
	if n >= maxGeneratedPerRun {
		return "", fmt.Errorf("more than %d images in one run", maxGeneratedPerRun)
	}
	ext := ".png"
	switch img.MediaType {
	case "image/jpeg":
		ext = ".jpg"
	case "image/webp":
		ext = ".webp"
	case "image/gif":
		ext = ".gif"
	}
	dir := filepath.Join(r.opt.StateDir, "media", "generated")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	safe := strings.Map(func(c rune) rune {
		if c == '/' || c == '\\' || c == 0 {
			return '_'
		}
		return c
	}, runID)
	path := filepath.Join(dir, fmt.Sprintf("%s-%d%s", safe, n+1, ext))
	return path, os.WriteFile(path, img.Data, 0o600)
}
