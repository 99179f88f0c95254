// Package channel is the contract between the channel manager and the
// messaging channel plugins (Telegram, WebChat, …): what a plugin does
// (start, stop, send, status, login) and the normalized inbound message it
// reports.
package channel

import (
	"context"
	"errors"
	"time"
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
	Time      time.Time
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
