package channels

import (
	"fmt"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/routing"
)

// Chat commands a channel user can send.
var chatCommands = map[string]string{
	"new":    "start a new session (optionally with a first message)",
	"reset":  "start a new session",
	"stop":   "stop the current answer and drop queued messages",
	"status": "show this conversation's session, model and activity",
	"model":  "show the model, or set it for this conversation: /model provider/model (or /model default)",
	"help":   "list the commands",
}

// parseCommand recognises "/cmd args" and "/cmd@botname args".
func parseCommand(text string) (cmd, arg string, ok bool) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	head, rest, _ := strings.Cut(text[1:], " ")
	if i := strings.IndexAny(head, "\n\t"); i >= 0 {
		rest = strings.TrimSpace(head[i:] + " " + rest)
		head = head[:i]
	}
	head, _, _ = strings.Cut(head, "@")
	head = strings.ToLower(head)
	if _, known := chatCommands[head]; !known {
		return "", "", false
	}
	return head, strings.TrimSpace(rest), true
}

// command runs a chat command. It reports whether it handled the message
// and, for "/new <text>", the text to process as a normal message.
func (m *Manager) command(a *managed, in channel.Inbound, route routing.Route, cmd, arg string, owner bool) (rest string, handled bool) {
	key := route.SessionKey
	shared := key == route.MainSessionKey
	say := func(text string) {
		m.reply(a, route, fmt.Sprintf("cmd:%s:%s:%s:%s", in.Channel, in.AccountID, in.Peer.ID, eventKey(in)), in, text)
	}
	switch cmd {
	case "help":
		var b strings.Builder
		b.WriteString("Commands:\n")
		for _, c := range []string{"new", "reset", "stop", "status", "model", "help"} {
			fmt.Fprintf(&b, "/%s — %s\n", c, chatCommands[c])
		}
		say(b.String())
	case "new", "reset":
		if shared && !owner {
			say("Only the owner can reset this shared session.")
			return "", true
		}
		if _, err := m.opt.Agents.ResetSession(m.ctx, key); err != nil {
			say("Could not reset the session: " + shortError(err.Error()))
			return "", true
		}
		if cmd == "new" && arg != "" {
			return arg, true
		}
		say("Started a new session.")
	case "stop":
		ids := m.opt.Agents.AbortSession(key)
		if len(ids) == 0 {
			say("Nothing is running.")
		} else {
			say(fmt.Sprintf("Stopped (%d run%s).", len(ids), plural(len(ids))))
		}
	case "status":
		st, err := m.opt.Agents.Status(m.ctx, key)
		if err != nil {
			say("Status unavailable: " + shortError(err.Error()))
			return "", true
		}
		model := st.Model
		if model == "" {
			model = "none configured"
		}
		if st.Override != "" {
			model += " (set for this conversation)"
		}
		activity := "idle"
		if st.Running {
			activity = "answering"
			if st.Queued > 0 {
				activity += fmt.Sprintf(", %d queued", st.Queued)
			}
		}
		say(fmt.Sprintf("Session: %s\nAgent: %s\nModel: %s\nMessages: %d\nContext tokens: %d\nNow: %s\nLast active: %s",
			st.Key, st.AgentID, model, st.Messages, st.TotalTokens, activity, st.UpdatedAt.Format(time.RFC1123)))
	case "model":
		if arg == "" {
			st, err := m.opt.Agents.Status(m.ctx, key)
			if err != nil {
				say("Model unavailable: " + shortError(err.Error()))
				return "", true
			}
			cur := st.Model
			if cur == "" {
				cur = "none configured"
			}
			say("Model: " + cur + "\nSet one for this conversation with /model provider/model, or /model default.")
			return "", true
		}
		if !owner {
			say("Only the owner can change the model.")
			return "", true
		}
		ref := arg
		if strings.EqualFold(ref, "default") || strings.EqualFold(ref, "reset") {
			ref = ""
		}
		if err := m.opt.Agents.SetSessionModel(m.ctx, key, ref); err != nil {
			say("Model not changed: " + shortError(err.Error()))
			return "", true
		}
		if ref == "" {
			say("This conversation uses the agent's configured model again.")
		} else {
			say("This conversation now uses " + ref + ".")
		}
	}
	return "", true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
