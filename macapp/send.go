package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/protocol"
)

var writeScopes = []string{protocol.ScopeWrite}

// sendParams are the params of send.
type sendParams struct {
	To             string `json:"to"`
	Message        string `json:"message"`
	Channel        string `json:"channel"`
	AccountID      string `json:"accountId,omitempty"`
	ReplyToID      string `json:"replyToId,omitempty"`
	ThreadID       string `json:"threadId,omitempty"`
	Silent         bool   `json:"silent,omitempty"`
	MediaURL       string `json:"mediaUrl,omitempty"`
	IdempotencyKey string `json:"idempotencyKey"`
}

// sendResult is send's result.
type sendResult struct {
	RunID     flexString `json:"runId"`
	MessageID flexString `json:"messageId"`
	Channel   string     `json:"channel"`
	ChatID    flexString `json:"chatId"`
}

// flexString reads a JSON string or number (platform ids are either).
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = flexString(n.String())
	}
	return nil
}

func (a *app) sendCmd() *cobra.Command {
	var f clientFlags
	var p sendParams
	var media string
	cmd := &cobra.Command{
		Use:   "send --channel CHANNEL --to TARGET [TEXT...]",
		Short: "Send a message through a channel",
		Long: "Send a message to a chat through one of the gateway's channels, as the assistant.\n\n" +
			"TARGET is the channel's chat id or handle (Telegram: a chat id or @channelname). TEXT is\n" +
			"the message; --media attaches a file (a path on this machine or an http(s) URL), with TEXT\n" +
			"as its caption.",
		Example: "  pincer send --channel telegram --to 123456789 Hello from the command line\n" +
			"  pincer send --channel telegram --to 123456789 --media ./report.pdf \"Today's report\"",
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch, err := channelArg(p.Channel)
			if err != nil {
				return usagef("--channel is required")
			}
			p.Channel = ch
			if p.To = strings.TrimSpace(p.To); p.To == "" {
				return usagef("--to is required")
			}
			if p.AccountID, err = accountFlag(cmd.Flags(), p.AccountID); err != nil {
				return err
			}
			p.ReplyToID, p.ThreadID = strings.TrimSpace(p.ReplyToID), strings.TrimSpace(p.ThreadID)
			p.Message = strings.Join(args, " ")
			if media = strings.TrimSpace(media); media != "" {
				if p.MediaURL, err = mediaRef(media); err != nil {
					return err
				}
			}
			if strings.TrimSpace(p.Message) == "" && p.MediaURL == "" {
				return usagef("nothing to send: give the message text or --media")
			}
			p.IdempotencyKey = uuid.NewString()
			return a.withScopedGateway(cmd, &f, writeScopes, func(ctx context.Context, s *session) error {
				var res sendResult
				raw, err := callInto(ctx, s, "send", p, &res)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				ch, to := res.Channel, string(res.ChatID)
				if ch == "" {
					ch = p.Channel
				}
				if to == "" {
					to = p.To
				}
				fmt.Fprintf(a.stdout, "sent: %s message %s to %s\n", ch, orDash(string(res.MessageID)), to)
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	fs := cmd.Flags()
	fs.StringVar(&p.Channel, "channel", "", "the `CHANNEL` to send through (e.g. telegram)")
	fs.StringVar(&p.AccountID, "account", "", "the channel's account `ID` (default: its default account)")
	fs.StringVar(&p.To, "to", "", "the chat to send to: a chat `ID` or handle")
	fs.StringVar(&p.ReplyToID, "reply-to", "", "reply to the message with `MSGID`")
	fs.StringVar(&p.ThreadID, "thread", "", "send into thread or topic `ID`")
	fs.BoolVar(&p.Silent, "silent", false, "send without a notification sound")
	fs.StringVar(&media, "media", "", "attach `PATH_OR_URL`: a file on this machine or an http(s) URL")
	return cmd
}

// mediaRef turns --media into what the gateway reads: URLs as given,
// local files as absolute paths (the gateway does not share our cwd).
func mediaRef(s string) (string, error) {
	if strings.Contains(s, "://") {
		return s, nil
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return "", usagef("--media %s: %v", s, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", usagef("--media %s: no such file (give a path on this machine or an http(s) URL)", s)
	}
	if st.IsDir() {
		return "", usagef("--media %s is a directory", s)
	}
	return abs, nil
}
