package channels

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/sessions"
)

const webchatID = "webchat"

// webchat is the built-in WebChat channel: the Control UI and the apps
// chat through chat.send / chat.history on the gateway WebSocket (the
// agent runtime serves those); this channel makes WebChat an addressable
// channel for `send` and the outbound queue, delivering a message into a
// session (its transcript and the `chat` events every web client
// renders), and reports the connected web clients in channels.status.
type webchat struct {
	m *Manager

	mu      sync.Mutex
	running bool
}

func (w *webchat) kind() channel.Kind {
	return channel.Kind{ID: webchatID, Label: "WebChat", DetailLabel: "Control UI and app chat", SystemImage: "bubble.left.and.bubble.right",
		New: func(channel.Env, channel.AccountConfig) (channel.Plugin, error) { return w, nil }}
}

func (w *webchat) Start(ctx context.Context, _ channel.Handler) error {
	w.mu.Lock()
	w.running = true
	w.mu.Unlock()
	<-ctx.Done()
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
	return nil
}

// Send delivers into a session: To.ID is a session key ("agent:main:main")
// or "main".
func (w *webchat) Send(ctx context.Context, msg channel.Outbound) (channel.Delivery, error) {
	key := strings.TrimSpace(msg.To.ID)
	if key == "main" {
		key = sessions.MainKey("main")
	}
	if _, _, ok := sessions.ParseKey(key); !ok {
		return channel.Delivery{}, channel.Permanent(errors.New("webchat: the target must be a session key such as agent:main:main"))
	}
	text := msg.Text
	for _, md := range msg.Media {
		text = strings.TrimSpace(text + "\n" + mediaNote(md))
	}
	id, err := w.m.opt.Agents.Inject(ctx, key, text, "send")
	if err != nil {
		return channel.Delivery{}, channel.Transient(err, time.Second)
	}
	return channel.Delivery{MessageID: id, ChatID: key}, nil
}

func (w *webchat) Typing(context.Context, channel.Peer) error { return nil }

// clients counts the connected web chat clients.
func (w *webchat) clients() int {
	gw := w.m.opt.Gateway
	if gw == nil {
		return 0
	}
	n := 0
	for _, c := range gw.Conns() {
		if p := c.Params(); p != nil && (p.Client.Mode == "webchat" || p.Client.ID == "openclaw-control-ui" || p.Client.ID == "webchat-ui") {
			n++
		}
	}
	return n
}

func (w *webchat) Status() channel.Status {
	w.mu.Lock()
	running := w.running
	w.mu.Unlock()
	return channel.Status{Configured: true, Running: running, Connected: running, Linked: true, Mode: "gateway"}
}

func (w *webchat) StatusDetails() map[string]any { return map[string]any{"clients": w.clients()} }

func (w *webchat) TextLimit() int { return 1 << 20 }

var _ channel.Detailer = (*webchat)(nil)
