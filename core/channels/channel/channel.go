// Package channel is the contract between the channel manager and the
// messaging channel plugins (Telegram, WebChat, …): what a plugin does
// (start, stop, send, status, login) and the normalized inbound message it
// reports.
package channel

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/pincerhq/pincer/core/secrets"
	"github.com/pincerhq/pincer/core/store"
)

// Peer kinds of a conversation.
const (
	PeerDirect  = "direct"  // a one-to-one chat
	PeerGroup   = "group"   // a group chat
	PeerChannel = "channel" // a broadcast channel / room
)

// Peer identifies a conversation on a platform.
type Peer struct {
	Kind string // PeerDirect | PeerGroup | PeerChannel
	ID   string // platform chat id
	// ThreadID is a thread or forum topic inside the chat ("" for none).
	ThreadID string
	// TopicKind is "thread" or "topic" when ThreadID is set.
	TopicKind string
}

// Sender is who wrote a message.
type Sender struct {
	ID          string // platform user id
	Username    string // handle without "@", when the platform has one
	DisplayName string
	IsBot       bool
	IsSelf      bool // our own account
}

// Media is an attachment, in or out.
type Media struct {
	Kind     string // "image" | "audio" | "voice" | "video" | "document"
	MimeType string
	FileName string
	// Path is a local file (inbound: saved under the state dir).
	Path string
	// URL is a remote file to send (outbound alternative to Path).
	URL  string
	Size int64
}

// Inbound is a message a channel received, normalized.
type Inbound struct {
	Channel   string // channel id, e.g. "telegram"
	AccountID string
	Peer      Peer
	// ParentPeer is the chat a thread belongs to, when Peer is a thread.
	ParentPeer *Peer
	GuildID    string   // Discord guild / Slack team ("" when none)
	Roles      []string // the sender's roles in the guild
	Sender     Sender
	MessageID  string
	ReplyToID  string
	Text       string
	Media      []Media
	// Mentioned: the message addresses the bot (a mention, a reply to it,
	// or a DM).
	Mentioned bool
	Edited    bool
	// EventID identifies the platform event (Telegram update_id …) so a
	// redelivered event is recognised; "" falls back to MessageID.
	EventID string
	Time    time.Time
	// Raw is the platform payload, for debugging.
	Raw any
}

// Outbound is a message to deliver.
type Outbound struct {
	AccountID string
	To        Peer
	Text      string // Markdown; the plugin converts it to the platform's format
	Media     []Media
	ReplyToID string
	Silent    bool
}

// Delivery is what the platform returned for a sent message.
type Delivery struct {
	MessageID string
	ChatID    string
}

// Status is a channel account's state.
type Status struct {
	Configured bool
	Running    bool
	Connected  bool
	// Linked: credentials are set up (logged in / token valid).
	Linked    bool
	LastError string
	// Self describes the account (bot username …).
	Self string
	Mode string // e.g. "polling" | "webhook"
}

// Handler receives a plugin's inbound messages. It must not block for long
// (the manager queues work).
type Handler func(ctx context.Context, in Inbound)

// Plugin is one channel account's connection to its platform.
type Plugin interface {
	// Start connects and runs until ctx ends or a fatal error; the manager
	// restarts it with backoff when it returns early. It reports inbound
	// messages to h.
	Start(ctx context.Context, h Handler) error
	// Send delivers a message. Errors wrap ErrTransient (retry later,
	// with RetryAfter when the platform said so) or ErrPermanent.
	Send(ctx context.Context, msg Outbound) (Delivery, error)
	// Typing shows a typing indicator in a chat (best effort).
	Typing(ctx context.Context, to Peer) error
	// Status reports the account's state.
	Status() Status
	// TextLimit is the platform's maximum message length in characters.
	TextLimit() int
}

// Errors of Send.
var (
	ErrTransient = errors.New("transient delivery failure")
	ErrPermanent = errors.New("permanent delivery failure")
)

// SendError classifies a Send failure.
type SendError struct {
	Kind       error // ErrTransient or ErrPermanent
	RetryAfter time.Duration
	Err        error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() []error {
	return []error{e.Kind, e.Err}
}

// Transient wraps err as retryable (after, when the platform said).
func Transient(err error, after time.Duration) error {
	return &SendError{Kind: ErrTransient, RetryAfter: after, Err: err}
}

// Permanent wraps err as not retryable.
func Permanent(err error) error { return &SendError{Kind: ErrPermanent, Err: err} }

// Reactor is implemented by plugins that can react to a message.
type Reactor interface {
	// React sets (emoji != "") or clears (emoji == "") our reaction on a
	// message of a chat.
	React(ctx context.Context, to Peer, messageID, emoji string) error
}

// Prober is implemented by plugins that can check their credentials and
// link on demand (channels.status probe:true).
type Prober interface {
	Probe(ctx context.Context) (any, error)
}

// Logouter is implemented by plugins that hold a login (a stored token, a
// linked session): Logout forgets it. The manager stops the account first.
type Logouter interface {
	Logout(ctx context.Context) error
}

// Webhook is implemented by plugins that receive updates over HTTP on the
// gateway port (Telegram in webhook mode). Path is "" when the account
// does not use a webhook; the handler authenticates requests itself.
type Webhook interface {
	WebhookPath() string
	WebhookHandler() http.Handler
}

// Detailer adds channel-specific fields (tokenSource, webhookUrl …) to
// the account's channels.status entry.
type Detailer interface {
	StatusDetails() map[string]any
}

// AccountConfig is one configured account of a channel: the channel's
// root block (channels.<id>, without accounts/defaultAccount) overlaid by
// channels.<id>.accounts.<accountId>.
type AccountConfig struct {
	Channel   string
	AccountID string
	Name      string
	Enabled   bool
	// Raw is the merged block as written (JSON types: string, float64,
	// bool, []any, map[string]any).
	Raw map[string]any
}

// Env is what the gateway gives a plugin factory.
type Env struct {
	// StateDir is the gateway's state directory; MediaDir is where inbound
	// media of this account goes (created by the plugin on use).
	StateDir, MediaDir string
	DB                 *store.DB
	// Secrets is the profile's secret store (nil when unavailable).
	Secrets    secrets.Store
	Getenv     func(string) string
	HTTPClient *http.Client
	Log        *slog.Logger
}

// Kind describes a channel kind and builds its accounts.
type Kind struct {
	ID          string
	Label       string // "Telegram"
	DetailLabel string // "Telegram Bot"
	SystemImage string // SF Symbol name for the apps
	// New builds an account's plugin; an error is a configuration
	// problem, reported in channels.status.
	New func(env Env, acct AccountConfig) (Plugin, error)
	// Implicit, when set, reports whether the channel's default account
	// has credentials outside the config (an environment variable, a
	// token stored by `pincer channels login`): the channel then runs
	// without a channels.<id> block.
	Implicit func(env Env) bool
}

// SecretKey names a channel credential in the secret store, e.g.
// SecretKey("telegram", "default", "botToken").
func SecretKey(channelID, accountID, field string) string {
	if accountID == "" {
		accountID = "default"
	}
	return "channels/" + channelID + "/" + accountID + "/" + field
}
