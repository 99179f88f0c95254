package channels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/channels/access"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/routing"
	"github.com/pincerhq/pincer/core/sessions"
)

// Limits of inbound handling.
const (
	maxImageBytes  = 10 << 20 // images handed to the model
	maxImages      = 8
	silentReply    = "NO_REPLY"
	errorReplyMax  = 300
	commitBackoff  = 500 * time.Millisecond
	commitBackoffX = 30 * time.Second
	retryPass      = 2 * time.Second // a row that hit a transient failure is tried again
)

// receiver is a plugin's Handler: it commits the message to the inbound
// queue and returns; the plugin acknowledges the event to its platform
// only after that. A database failure is retried until the account stops,
// so the platform keeps (and redelivers) anything not committed.
func (m *Manager) receiver(channelID, accountID string) channel.Handler {
	return func(ctx context.Context, in channel.Inbound) {
		in.Channel, in.AccountID = channelID, accountID
		if in.Time.IsZero() {
			in.Time = time.Now()
		}
		wait := commitBackoff
		for {
			_, added, err := m.in.add(ctx, in)
			if err == nil {
				if added {
					m.announce(in)
					m.poke()
				}
				return
			}
			m.log.Error("committing an inbound message failed; retrying", "channel", channelID, "account", accountID, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(wait*2, commitBackoffX)
		}
	}
}

// announce tells operator clients a message arrived (the Control UI shows
// conversations live).
func (m *Manager) announce(in channel.Inbound) {
	if m.opt.Gateway == nil {
		return
	}
	m.opt.Gateway.Broadcast(EventMessage, map[string]any{
		"direction": "inbound", "channel": in.Channel, "accountId": in.AccountID, "messageId": in.MessageID,
		"chatType": in.Peer.Kind, "chatId": in.Peer.ID, "threadId": in.Peer.ThreadID,
		"sender": map[string]any{"id": in.Sender.ID, "username": in.Sender.Username, "name": in.Sender.DisplayName, "isBot": in.Sender.IsBot},
		"text":   in.Text, "mediaCount": len(in.Media), "edited": in.Edited, "ts": in.Time.UnixMilli(),
	}, gateway.BroadcastOptions{DropIfSlow: true})
}

// EventMessage is broadcast for each message a channel receives.
const EventMessage = "channel.message"

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// drain processes the inbound queue in arrival order.
func (m *Manager) drain() {
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.kick:
		}
		rows, err := m.in.open(m.ctx)
		if err != nil {
			if m.ctx.Err() == nil {
				m.log.Error("reading the inbound queue failed", "err", err)
			}
			continue
		}
		resumed := map[string][]ingressRow{}
		for _, r := range rows {
			m.mu.Lock()
			busy := m.inflight[r.ID]
			if !busy {
				m.inflight[r.ID] = true
			}
			m.mu.Unlock()
			if busy {
				continue
			}
			if r.Status == ingressSubmitted {
				// Handed to an agent but not answered (a restart, or a
				// resume that could not run yet): replay the run (its id
				// is recorded) and deliver its answer.
				resumed[r.RunID] = append(resumed[r.RunID], r)
				continue
			}
			m.process(r)
		}
		for _, rs := range resumed {
			m.resume(rs)
		}
	}
}

// retryLater puts rows back for a later pass (a transient failure).
func (m *Manager) retryLater(rows []ingressRow) {
	m.release(rows)
	time.AfterFunc(retryPass, m.poke)
}

// done forgets rows once they reached a final state.
func (m *Manager) release(rows []ingressRow) {
	m.mu.Lock()
	for _, r := range rows {
		delete(m.inflight, r.ID)
	}
	m.mu.Unlock()
}

func (m *Manager) finish(rows []ingressRow, status, errText string) {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	if err := m.in.mark(context.Background(), ids, status, "", errText); err != nil {
		m.log.Error("updating the inbound queue failed", "err", err)
	}
	m.release(rows)
}

// process decides on one inbound message.
func (m *Manager) process(r ingressRow) {
	in := r.In
	a, err := m.lookup(in.Channel, in.AccountID)
	if err != nil {
		m.finish([]ingressRow{r}, ingressDropped, err.Error())
		return
	}
	m.mu.Lock()
	policy, bindings := a.policy, m.bindings
	m.mu.Unlock()
	d, err := m.access.Check(m.ctx, in.Channel, in.AccountID, policy, in)
	if err != nil {
		if m.ctx.Err() == nil {
			m.log.Error("access check failed; retrying", "channel", in.Channel, "err", err)
			m.retryLater([]ingressRow{r})
		}
		return
	}
	if d.PairingCode != "" {
		key := "pairing:" + in.Channel + ":" + in.AccountID + ":" + d.PairingCode
		msg := channel.Outbound{AccountID: in.AccountID, To: in.Peer, Text: access.PairingReply(in.Channel, in.Sender.ID, d.PairingCode)}
		if _, err := m.out.Enqueue(m.ctx, key, in.Channel, msg); err != nil {
			m.log.Error("queueing a pairing code failed", "err", err)
		}
		m.log.Info("pairing requested", "channel", in.Channel, "account", in.AccountID, "sender", in.Sender.ID)
		m.finish([]ingressRow{r}, ingressDone, d.Code)
		return
	}
	if !d.Allow {
		m.log.Debug("inbound message not processed", "channel", in.Channel, "sender", in.Sender.ID, "code", d.Code, "reason", d.Reason)
		m.finish([]ingressRow{r}, ingressDropped, d.Code)
		return
	}
	cfg := m.opt.Config()
	route := routing.Resolve(routingConfig(cfg, bindings), in)
	if cmd, arg, ok := parseCommand(in.Text); ok {
		owner := d.IsOwner || (len(policy.OwnerAllowFrom) == 0 && in.Peer.Kind == channel.PeerDirect)
		rest, handled := m.command(a, in, route, cmd, arg, owner)
		if handled && rest == "" {
			m.finish([]ingressRow{r}, ingressDone, "command /"+cmd)
			return
		}
		if handled {
			in.Text = rest // "/new <text>": the text starts the new session
			r.In = in
		}
	}
	if strings.TrimSpace(in.Text) == "" && len(in.Media) == 0 {
		m.finish([]ingressRow{r}, ingressDropped, "empty")
		return
	}
	m.enqueueBatch(a, r, route, debounceFor(cfg, in.Channel))
}

// batch gathers a conversation's rapid messages into one turn.
type batch struct {
	rows  []ingressRow
	route routing.Route
	acct  *managed
	timer *time.Timer
}

func (m *Manager) enqueueBatch(a *managed, r ingressRow, route routing.Route, wait time.Duration) {
	key := route.SessionKey
	m.mu.Lock()
	b := m.batches[key]
	if b == nil {
		b = &batch{route: route, acct: a}
		m.batches[key] = b
	}
	b.rows = append(b.rows, r)
	b.route = route // the latest message decides where the reply goes
	if b.timer != nil {
		b.timer.Stop()
	}
	if wait <= 0 {
		delete(m.batches, key)
		m.mu.Unlock()
		m.submit(b)
		return
	}
	b.timer = time.AfterFunc(wait, func() {
		m.mu.Lock()
		if m.batches[key] != b {
			m.mu.Unlock()
			return
		}
		delete(m.batches, key)
		m.mu.Unlock()
		m.submit(b)
	})
	m.mu.Unlock()
}

// runIDFor is a batch's run id: stable across restarts (the first row's
// queue id), so a replayed batch never runs twice.
func runIDFor(rows []ingressRow) string {
	in := rows[0].In
	return fmt.Sprintf("%s:%s:in%d", in.Channel, in.AccountID, rows[0].ID)
}

// turnFor builds the agent turn of a batch.
func (m *Manager) turnFor(rows []ingressRow, route routing.Route) agent.Turn {
	var texts []string
	var images []providers.Part
	for _, r := range rows {
		in := r.In
		text := strings.TrimSpace(in.Text)
		if in.Edited && text != "" {
			text = "(edited) " + text
		}
		for _, md := range in.Media {
			if md.Kind == "image" && md.Path != "" && len(images) < maxImages {
				if data, err := readCapped(md.Path, maxImageBytes); err == nil {
					images = append(images, providers.Part{Type: "image", MediaType: orDefault(md.MimeType, "image/jpeg"), Data: data})
					continue
				}
			}
			text = strings.TrimSpace(text + "\n" + mediaNote(md))
		}
		if text != "" {
			texts = append(texts, text)
		}
	}
	msg := strings.Join(texts, "\n\n")
	if msg == "" && len(images) > 0 {
		msg = "(image)"
	}
	return agent.Turn{RunID: runIDFor(rows), SessionKey: route.SessionKey, AgentID: route.AgentID, Message: msg, Images: images,
		ExtraSystem: contextLine(rows[len(rows)-1].In)}
}

// mediaNote describes an attachment the model gets as text.
func mediaNote(md channel.Media) string {
	parts := []string{md.Kind}
	if md.MimeType != "" {
		parts = append(parts, md.MimeType)
	}
	if md.Size > 0 {
		parts = append(parts, fmt.Sprintf("%d bytes", md.Size))
	}
	note := "[attachment: " + strings.Join(parts, ", ")
	if md.FileName != "" {
		note += ", name " + md.FileName
	}
	if md.Path != "" {
		note += ", saved at " + md.Path
	}
	return note + "]"
}

// contextLine tells the model where a message came from.
func contextLine(in channel.Inbound) string {
	who := in.Sender.DisplayName
	if in.Sender.Username != "" {
		who = strings.TrimSpace(who + " (@" + in.Sender.Username + ")")
	}
	if who == "" {
		who = "user " + in.Sender.ID
	}
	where := "a direct message"
	switch in.Peer.Kind {
	case channel.PeerGroup:
		where = "the group chat " + in.Peer.ID
	case channel.PeerChannel:
		where = "the channel " + in.Peer.ID
	}
	return fmt.Sprintf("## Conversation\nThis message arrived on %s in %s from %s (sender id %s). Your reply is sent back there; write plain Markdown. Reply %s to send nothing.",
		in.Channel, where, who, in.Sender.ID, silentReply)
}

func readCapped(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return os.ReadFile(path)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// lastRoute is what a session remembers of where its last message came
// from (sessions.Session.LastRoute).
type lastRoute struct {
	Channel   string `json:"channel"`
	AccountID string `json:"accountId"`
	To        string `json:"to"`
	ChatType  string `json:"chatType"`
	ThreadID  string `json:"threadId,omitempty"`
	TopicKind string `json:"topicKind,omitempty"`
	SenderID  string `json:"senderId,omitempty"`
	MessageID string `json:"messageId,omitempty"`
	At        int64  `json:"at"`
}

// remember records the route on the session (and the main session's last
// route when the message belongs to it).
func (m *Manager) remember(route routing.Route, in channel.Inbound) {
	if m.opt.Sessions == nil {
		return
	}
	lr := lastRoute{Channel: route.Channel, AccountID: route.AccountID, To: route.ReplyTo.ID, ChatType: route.ReplyTo.Kind,
		ThreadID: route.ReplyTo.ThreadID, TopicKind: route.ReplyTo.TopicKind, SenderID: in.Sender.ID, MessageID: in.MessageID,
		At: time.Now().UnixMilli()}
	body, _ := json.Marshal(lr)
	name := in.Sender.DisplayName
	if in.Peer.Kind != channel.PeerDirect {
		name = route.Channel + " " + in.Peer.Kind + " " + in.Peer.ID
	} else if name == "" {
		name = route.Channel + " " + in.Sender.ID
	}
	if _, err := m.opt.Sessions.Ensure(m.ctx, route.SessionKey); err != nil {
		m.log.Warn("session not created", "session", route.SessionKey, "err", err)
		return
	}
	_, err := m.opt.Sessions.Update(m.ctx, route.SessionKey, func(s *sessions.Session) {
		s.LastRoute = body
		if s.DisplayName == "" || s.DisplayName != name && route.SessionKey != route.MainSessionKey {
			s.DisplayName = name
		}
		if route.SessionKey != route.MainSessionKey {
			s.ChatType = chatType(in.Peer.Kind)
			s.Kind = s.ChatType
		}
	})
	if err != nil {
		m.log.Warn("session route not recorded", "session", route.SessionKey, "err", err)
	}
}

func chatType(kind string) string {
	if kind == channel.PeerDirect {
		return "direct"
	}
	return "group"
}

// submit hands a batch to the agent and waits for the answer in the
// background.
func (m *Manager) submit(b *batch) {
	last := b.rows[len(b.rows)-1].In
	m.remember(b.route, last)
	t := m.turnFor(b.rows, b.route)
	stopTyping := m.typing(b.acct, b.route.ReplyTo) // shown from the start of the turn
	ticket, err := m.opt.Agents.Submit(m.ctx, t)
	if err != nil {
		stopTyping()
		if m.ctx.Err() != nil {
			m.release(b.rows) // stopping: the rows stay pending for the next start
			return
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) && !errors.Is(err, sessions.ErrInvalidKey) {
			// A storage hiccup: the message stays queued and is tried again
			// (the run id is stable, so a turn that did get recorded is
			// replayed, not run twice).
			m.log.Warn("agent turn not accepted; retrying", "session", b.route.SessionKey, "err", err)
			m.retryLater(b.rows)
			return
		}
		m.log.Error("agent turn not accepted", "session", b.route.SessionKey, "err", err)
		m.reply(b.acct, b.route, t.RunID, last, "Sorry, I could not take that message: "+shortError(err.Error()))
		m.finish(b.rows, ingressDropped, err.Error())
		return
	}
	ids := make([]int64, len(b.rows))
	for i, r := range b.rows {
		ids[i] = r.ID
	}
	if err := m.in.mark(m.ctx, ids, ingressSubmitted, t.RunID, ""); err != nil {
		m.log.Error("updating the inbound queue failed", "err", err)
	}
	go m.await(b, ticket, last, stopTyping)
}

// resume finishes rows a restart left submitted.
func (m *Manager) resume(rows []ingressRow) {
	in := rows[len(rows)-1].In
	a, err := m.lookup(in.Channel, in.AccountID)
	if err != nil {
		m.finish(rows, ingressDropped, err.Error())
		return
	}
	m.mu.Lock()
	bindings := m.bindings
	m.mu.Unlock()
	route := routing.Resolve(routingConfig(m.opt.Config(), bindings), in)
	t := m.turnFor(rows, route)
	t.RunID = rows[0].RunID
	ticket, err := m.opt.Agents.Submit(m.ctx, t)
	if err != nil {
		if m.ctx.Err() == nil {
			m.log.Warn("resuming an answer failed; retrying", "runId", t.RunID, "err", err)
			m.retryLater(rows)
		}
		return
	}
	go m.await(&batch{rows: rows, route: route, acct: a}, ticket, in, m.typing(a, route.ReplyTo))
}

// await shows typing while the run works, then queues its answer.
func (m *Manager) await(b *batch, ticket *agent.Ticket, last channel.Inbound, stopTyping func()) {
	out, err := ticket.Wait(m.ctx)
	stopTyping()
	if err != nil {
		m.release(b.rows) // stopping: resumed at the next start
		return
	}
	var text string
	switch {
	case out.JoinedRunID != "":
		// Folded into another run of this conversation, which answers.
	case out.Status == "ok":
		text = strings.TrimSpace(out.Text)
		if text == silentReply {
			text = ""
		}
	case out.Status == "aborted":
	case out.Replayed && strings.HasPrefix(out.Error, "interrupted"):
		text = "Sorry — the gateway restarted before I finished answering. Please send that again."
	default:
		text = "Sorry, something went wrong: " + shortError(out.Error)
	}
	var media []channel.Media
	if out.Status == "ok" && out.JoinedRunID == "" {
		for _, p := range out.Images {
			media = append(media, channel.Media{Kind: "image", Path: p, FileName: filepath.Base(p)})
		}
	}
	if text != "" || len(media) > 0 {
		m.replyWith(b.acct, b.route, ticket.RunID, last, text, media)
	}
	m.finish(b.rows, ingressDone, "")
}

// reply queues an answer to the conversation a message came from.
func (m *Manager) reply(a *managed, route routing.Route, runID string, in channel.Inbound, text string) {
	m.replyWith(a, route, runID, in, text, nil)
}

// replyWith is reply with attachments.
func (m *Manager) replyWith(a *managed, route routing.Route, runID string, in channel.Inbound, text string, media []channel.Media) {
	msg := channel.Outbound{AccountID: route.AccountID, To: route.ReplyTo, Text: text, Media: media}
	if in.Peer.Kind != channel.PeerDirect {
		msg.ReplyToID = in.MessageID // quote the message in groups
	}
	if _, err := m.out.Enqueue(context.Background(), "reply:"+runID, route.Channel, msg); err != nil {
		m.log.Error("queueing a reply failed", "channel", route.Channel, "err", err)
		return
	}
	if m.opt.Gateway != nil {
		m.opt.Gateway.Broadcast(EventMessage, map[string]any{
			"direction": "outbound", "channel": route.Channel, "accountId": route.AccountID, "chatId": route.ReplyTo.ID,
			"threadId": route.ReplyTo.ThreadID, "sessionKey": route.SessionKey, "runId": runID, "text": text, "ts": time.Now().UnixMilli(),
		}, gateway.BroadcastOptions{DropIfSlow: true})
	}
}

// typing renews the typing indicator until the returned func is called.
func (m *Manager) typing(a *managed, to channel.Peer) func() {
	m.mu.Lock()
	p := a.plugin
	m.mu.Unlock()
	if p == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(m.ctx)
	go func() {
		for {
			tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
			if err := p.Typing(tctx, to); err != nil && ctx.Err() == nil {
				m.log.Debug("typing indicator failed", "err", err)
			}
			tcancel()
			select {
			case <-ctx.Done():
				return
			case <-time.After(m.opt.TypingEvery):
			}
		}
	}()
	return cancel
}

func shortError(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > errorReplyMax {
		s = s[:errorReplyMax] + "…"
	}
	return s
}
