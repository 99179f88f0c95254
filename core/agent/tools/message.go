package tools

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/pincerhq/pincer/core/agent/providers"
)

// MessageAPI delivers messages on the messaging channels (the channel
// manager implements it).
type MessageAPI interface {
	SendMessage(ctx context.Context, req MessageRequest) (MessageReceipt, error)
}

// MessageRequest is one message the agent sends.
type MessageRequest struct {
	// Channel and To name the conversation; both empty means the
	// conversation the session last heard from.
	Channel, AccountID, To string
	ThreadID, ReplyToID    string
	Text                   string
	Media                  []string // local paths or http(s) URLs
	// React, when set, is an emoji reaction to MessageID ("" = the
	// message the session last received) instead of a message; "-"
	// removes our reaction.
	React      string
	MessageID  string
	SessionKey string // the calling session
	// Key makes the send idempotent (a repeated tool call sends once).
	Key string
}

// MessageReceipt is what happened to a message.
type MessageReceipt struct {
	Channel   string `json:"channel"`
	AccountID string `json:"accountId,omitempty"`
	To        string `json:"to"`
	MessageID string `json:"messageId,omitempty"`
	// Status is "delivered", or "queued" when the platform has not taken
	// it yet (the queue keeps retrying).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// messageTextMax bounds one message.
const messageTextMax = 64 << 10

// Message is the `message` tool: send a message on a channel.
type Message struct{ API MessageAPI }

// NewMessage returns the message tool over api.
func NewMessage(api MessageAPI) *Message { return &Message{API: api} }

// Spec implements Tool.
func (*Message) Spec() providers.Tool {
	return providers.Tool{
		Name: "message",
		Description: "Send a message on a messaging channel (telegram, webchat, …), or react to a message with an emoji. Without " +
			"channel and to, it goes to the conversation this session last heard from. Use it for messages besides your reply " +
			"(your reply is delivered anyway).",
		Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "message": {"type": "string", "description": "The text (Markdown)."},
    "channel": {"type": "string", "description": "Channel id, e.g. telegram. Default: the session's last channel."},
    "to": {"type": "string", "description": "Chat or user id on that channel. Default: the session's last conversation."},
    "accountId": {"type": "string", "description": "Channel account. Default: the channel's default account."},
    "threadId": {"type": "string", "description": "Thread or forum topic id."},
    "replyTo": {"type": "string", "description": "Message id to reply to."},
    "media": {"type": "array", "items": {"type": "string"}, "description": "Files to attach: workspace paths or http(s) URLs."},
    "react": {"type": "string", "description": "Instead of sending, react with this emoji (\"-\" removes the reaction)."},
    "messageId": {"type": "string", "description": "The message to react to. Default: the message you are answering."}
  },
  "additionalProperties": false
}`),
	}
}

// Run implements Tool.
func (t *Message) Run(ctx context.Context, call Call) (Result, error) {
	var a struct {
		Message   string   `json:"message"`
		Channel   string   `json:"channel"`
		To        string   `json:"to"`
		AccountID string   `json:"accountId"`
		ThreadID  string   `json:"threadId"`
		ReplyTo   string   `json:"replyTo"`
		Media     []string `json:"media"`
		React     string   `json:"react"`
		MessageID string   `json:"messageId"`
	}
	if err := decodeArgs(call.Args, &a); err != nil {
		return argError("message", err), nil
	}
	if a.React != "" {
		if a.Channel != "" && a.To == "" {
			return Error("message: give both channel and to, or neither (the session's last conversation)"), nil
		}
		rec, err := t.API.SendMessage(ctx, MessageRequest{Channel: strings.TrimSpace(a.Channel), AccountID: a.AccountID,
			To: strings.TrimSpace(a.To), React: strings.TrimSpace(a.React), MessageID: a.MessageID, SessionKey: call.SessionKey})
		if err != nil {
			return Error("message: " + err.Error()), nil
		}
		return jsonResult(rec), nil
	}
	if strings.TrimSpace(a.Message) == "" && len(a.Media) == 0 {
		return Error("message: message (or media) is required"), nil
	}
	if len(a.Message) > messageTextMax {
		return Error("message: the text is longer than 64 KiB; send less"), nil
	}
	if a.Channel != "" && a.To == "" {
		return Error("message: give both channel and to, or neither (the session's last conversation)"), nil
	}
	media := make([]string, 0, len(a.Media))
	for _, m := range a.Media {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if !strings.HasPrefix(m, "http://") && !strings.HasPrefix(m, "https://") {
			p, err := resolveWorkspacePath(call.Workspace, m)
			if err != nil {
				return Error("message: " + err.Error()), nil
			}
			if st, err := os.Stat(p.abs); err != nil || !st.Mode().IsRegular() {
				return Error("message: " + p.shown + " is not a file in the workspace"), nil
			}
			m = p.abs
		}
		media = append(media, m)
	}
	rec, err := t.API.SendMessage(ctx, MessageRequest{Channel: strings.TrimSpace(a.Channel), AccountID: a.AccountID, To: strings.TrimSpace(a.To),
		ThreadID: a.ThreadID, ReplyToID: a.ReplyTo, Text: a.Message, Media: media, SessionKey: call.SessionKey,
		Key: call.RunID + ":" + call.ID})
	if err != nil {
		return Error("message: " + err.Error()), nil
	}
	return jsonResult(rec), nil
}
