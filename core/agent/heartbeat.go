package agent

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/cron"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/sessions"
)

// DefaultHeartbeatPrompt is sent when agents.defaults.heartbeat.prompt is
// unset (OpenClaw's documented default).
const DefaultHeartbeatPrompt = "Follow the heartbeat monitor scratch context when provided. Recurring tasks are automations; " +
	"create or change their schedules with the automations tool, not heartbeat scratch. Do not infer or repeat old tasks " +
	"from prior chats. If nothing needs attention, reply NO_REPLY."

// heartbeatAckToken is the legacy acknowledgment a heartbeat reply may
// carry at its start or end.
const heartbeatAckToken = "HEARTBEAT_OK"

// silentReplyMax: an acknowledged reply with at most this much other text
// is dropped.
const silentReplyMax = 300

// heartbeatReply classifies a heartbeat reply: "ok-empty" (nothing or
// NO_REPLY), "ok-token" (HEARTBEAT_OK with little else) or "sent".
func heartbeatReply(text string) string {
	t := strings.TrimSpace(text)
	if t == "" || t == "NO_REPLY" {
		return "ok-empty"
	}
	rest := t
	switch {
	case strings.HasPrefix(t, heartbeatAckToken):
		rest = strings.TrimSpace(strings.TrimPrefix(t, heartbeatAckToken))
	case strings.HasSuffix(t, heartbeatAckToken):
		rest = strings.TrimSpace(strings.TrimSuffix(t, heartbeatAckToken))
	default:
		return "sent"
	}
	if len([]rune(rest)) <= silentReplyMax {
		return "ok-token"
	}
	return "sent"
}

// Heartbeat is the cron heartbeat runner: one turn of the main agent with
// the heartbeat prompt and the queued system events. Suppressed replies
// leave nothing in the transcript.
func (r *Runtime) Heartbeat(ctx context.Context, reason string, events []cron.QueuedEvent) (protocol.HeartbeatEvent, bool) {
	cfg := r.opt.Config()
	now := time.Now().UnixMilli()
	agentID := config.MainAgentID
	if len(r.modelRefs(ctx, cfg, agentID)) == 0 {
		return protocol.HeartbeatEvent{Ts: now, Status: "skipped", Reason: "no-model"}, false
	}
	key := sessions.MainKey(agentID)
	r.mu.Lock()
	busy := r.active[key] != nil
	r.mu.Unlock()
	if busy {
		return protocol.HeartbeatEvent{Ts: now, Status: "skipped", Reason: "busy"}, false
	}
	prompt := strings.TrimSpace(cfg.Agents.Defaults.Heartbeat.Prompt)
	if prompt == "" {
		prompt = DefaultHeartbeatPrompt
	}
	if len(events) > 0 {
		var b strings.Builder
		b.WriteString("System events since the last heartbeat:\n")
		for _, e := range events {
			b.WriteString("- " + e.Text + "\n")
		}
		prompt = b.String() + "\n" + prompt
	}
	rn, err := r.submit(ctx, runRequest{RunID: "heartbeat-" + uuid.NewString(), SessionKey: key, AgentID: agentID,
		Message: prompt, QueueMode: QueueFollowup, Heartbeat: true, Kind: "heartbeat"})
	if err != nil {
		return protocol.HeartbeatEvent{Ts: now, Status: "failed", Reason: err.Error()}, false
	}
	select {
	case <-rn.done:
	case <-ctx.Done():
		rn.cancel(errAborted)
		<-rn.done
	}
	rn.mu.Lock()
	res := *rn.result
	rn.mu.Unlock()
	ev := protocol.HeartbeatEvent{Ts: time.Now().UnixMilli(), Reason: reason}
	if res.Status != "ok" {
		ev.Status, ev.Reason = "failed", res.Error
		return ev, false
	}
	ev.Status = heartbeatReply(res.Text)
	if ev.Status == "sent" {
		ev.Preview = preview(res.Text, 200)
		ev.To = key
	}
	return ev, true
}

func preview(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}
