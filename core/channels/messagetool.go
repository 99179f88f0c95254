package channels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/channels/outbox"
)

// toolSendWait is how long the message tool waits for the platform.
const toolSendWait = 20 * time.Second

var _ tools.MessageAPI = (*Manager)(nil)

// SendMessage implements the agents' message tool: it queues the message
// (to the session's last conversation when no target is given) and waits
// a little for the platform.
func (m *Manager) SendMessage(ctx context.Context, req tools.MessageRequest) (tools.MessageReceipt, error) {
	ch, acct, to := strings.ToLower(req.Channel), req.AccountID, req.To
	peer := channel.Peer{ID: to, Kind: peerKindOf(to), ThreadID: req.ThreadID}
	msgID := req.MessageID
	if ch == "" {
		lr, err := m.lastRouteOf(ctx, req.SessionKey)
		if err != nil {
			return tools.MessageReceipt{}, err
		}
		ch, acct = lr.Channel, lr.AccountID
		peer = channel.Peer{ID: lr.To, Kind: lr.ChatType, ThreadID: lr.ThreadID, TopicKind: lr.TopicKind}
		if req.ThreadID != "" {
			peer.ThreadID = req.ThreadID
		}
		if msgID == "" {
			msgID = lr.MessageID
		}
	} else if pre, rest, ok := strings.Cut(to, ":"); ok && strings.EqualFold(pre, ch) {
		peer.ID = rest
	}
	if peer.ThreadID != "" && peer.TopicKind == "" {
		peer.TopicKind = "thread"
	}
	a, err := m.lookup(ch, acct)
	if err != nil {
		return tools.MessageReceipt{}, err
	}
	if req.React != "" {
		return m.react(ctx, a, ch, peer, msgID, req.React)
	}
	msg := channel.Outbound{AccountID: a.acct.AccountID, To: peer, Text: req.Text, ReplyToID: req.ReplyToID}
	for _, ref := range req.Media {
		msg.Media = append(msg.Media, mediaFromRef(ref, false))
	}
	it, err := m.out.Enqueue(ctx, "tool:"+req.Key, ch, msg)
	if err != nil {
		return tools.MessageReceipt{}, err
	}
	rec := tools.MessageReceipt{Channel: ch, AccountID: a.acct.AccountID, To: peer.ID, Status: "queued"}
	wctx, cancel := context.WithTimeout(ctx, toolSendWait)
	defer cancel()
	it, err = m.out.Wait(wctx, it.ID)
	switch {
	case err == nil:
		rec.Status, rec.MessageID = "delivered", it.Delivery.MessageID
	case errors.Is(err, outbox.ErrFailed):
		return rec, fmt.Errorf("delivery failed: %s", it.LastError)
	default:
		rec.Error = lastErr(it)
	}
	return rec, nil
}

// lastRouteOf is the conversation a session last heard from.
func (m *Manager) lastRouteOf(ctx context.Context, key string) (lastRoute, error) {
	var lr lastRoute
	if m.opt.Sessions == nil || key == "" {
		return lr, errors.New("no channel and to given, and this session has no conversation to reply to")
	}
	s, err := m.opt.Sessions.Get(ctx, key)
	if err != nil || len(s.LastRoute) == 0 {
		return lr, errors.New("no channel and to given, and this session has not received a channel message yet")
	}
	if err := json.Unmarshal(s.LastRoute, &lr); err != nil || lr.Channel == "" || lr.To == "" {
		return lr, errors.New("this session's last route is unreadable; give channel and to")
	}
	return lr, nil
}

// react sets or clears our reaction on a message.
func (m *Manager) react(ctx context.Context, a *managed, ch string, peer channel.Peer, msgID, emoji string) (tools.MessageReceipt, error) {
	m.mu.Lock()
	p := a.plugin
	m.mu.Unlock()
	r, ok := p.(channel.Reactor)
	if !ok {
		return tools.MessageReceipt{}, fmt.Errorf("%s does not support reactions", ch)
	}
	if msgID == "" {
		return tools.MessageReceipt{}, errors.New("messageId is required (no message to react to in this session)")
	}
	if emoji == "-" {
		emoji = ""
	}
	if err := r.React(ctx, peer, msgID, emoji); err != nil {
		return tools.MessageReceipt{}, err
	}
	return tools.MessageReceipt{Channel: ch, AccountID: a.acct.AccountID, To: peer.ID, MessageID: msgID, Status: "reacted"}, nil
}
