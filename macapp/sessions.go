package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/protocol"
)

func (a *app) sessionsCmd() *cobra.Command {
	c := groupCmd("sessions", "List sessions, show their history, reset them",
		a.sessionsListCmd(),
		a.sessionsHistoryCmd(),
		a.sessionsResetCmd(),
	)
	c.Long = "List the gateway's sessions (conversations), show a session's history and reset it.\n\n" +
		"KEY is a session key such as agent:main:main, as `pincer sessions list` shows it."
	return c
}

func (a *app) sessionsListCmd() *cobra.Command {
	var f clientFlags
	var agentID string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List sessions, most recently updated first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := protocol.SessionsListParams{AgentID: strings.TrimSpace(agentID)}
			if flagChanged(cmd.Flags(), "agent") && p.AgentID == "" {
				return usagef("empty --agent")
			}
			if flagChanged(cmd.Flags(), "limit") {
				if limit <= 0 {
					return usagef("--limit must be positive")
				}
				p.Limit = &limit
			}
			return a.withScopedGateway(cmd, &f, readScopes, func(ctx context.Context, s *session) error {
				return callShow(ctx, s, f.json, a.stdout, "sessions.list", p, func(res map[string]any) {
					printSessionList(a.stdout, res, time.Now())
				})
			})
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().StringVar(&agentID, "agent", "", "only the sessions of agent `ID`")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most `N` sessions")
	return cmd
}

func printSessionList(w io.Writer, res map[string]any, now time.Time) {
	rows := asSlice(res["sessions"])
	if len(rows) == 0 {
		fmt.Fprintln(w, "No sessions.")
		return
	}
	table := make([][]string, 0, len(rows))
	for _, r := range rows {
		m, _ := r.(map[string]any)
		if m == nil {
			continue
		}
		status := fieldStr(m, "status")
		if fieldBool(m, "hasActiveRun") {
			status = "running"
		}
		table = append(table, []string{orDash(fieldStr(m, "key")), orDash(fieldStr(m, "agentId")), ago(fieldInt(m, "updatedAt"), now),
			orDash(modelRef(fieldStr(m, "modelProvider"), fieldStr(m, "model"))), sessionTokens(m), orDash(status)})
	}
	printTable(w, "", []string{"KEY", "AGENT", "UPDATED", "MODEL", "TOKENS", "STATUS"}, table)
	if total := fieldInt(res, "totalCount"); total > int64(len(table)) {
		fmt.Fprintf(w, "Showing %d of %d sessions (--limit shows more).\n", len(table), total)
	}
}

// modelRef joins a provider and a model id as "provider/model".
func modelRef(provider, model string) string {
	switch {
	case model == "":
		return ""
	case provider == "" || strings.HasPrefix(model, provider+"/"):
		return model
	}
	return provider + "/" + model
}

func sessionTokens(m map[string]any) string {
	total := fieldInt(m, "totalTokens")
	if total == 0 {
		total = fieldInt(m, "inputTokens") + fieldInt(m, "outputTokens")
	}
	if total == 0 {
		return "-"
	}
	return formatCount(total)
}

// formatCount renders a token count: "950", "12.5k", "128k", "1.2M".
func formatCount(n int64) string {
	trim := func(v float64, unit string) string {
		s := fmt.Sprintf("%.1f", v)
		return strings.TrimSuffix(s, ".0") + unit
	}
	switch {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 100_000:
		return trim(float64(n)/1000, "k")
	case n < 1_000_000:
		return fmt.Sprintf("%dk", (n+500)/1000)
	default:
		return trim(float64(n)/1_000_000, "M")
	}
}

func (a *app) sessionsHistoryCmd() *cobra.Command {
	var f clientFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "history KEY",
		Short: "Show a session's messages",
		Long: "Show a session's messages, oldest first: who said what, and when. Tool calls and their\n" +
			"results are shown on one line each; --json prints chat.history's result with everything.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := idArg(args[0], "session key")
			if err != nil {
				return err
			}
			p := protocol.ChatHistoryParams{SessionKey: key}
			if flagChanged(cmd.Flags(), "limit") {
				if limit <= 0 || limit > 1000 {
					return usagef("--limit must be between 1 and 1000")
				}
				p.Limit = &limit
			}
			return a.withScopedGateway(cmd, &f, readScopes, func(ctx context.Context, s *session) error {
				return callShow(ctx, s, f.json, a.stdout, "chat.history", p, func(res map[string]any) {
					printHistory(a.stdout, key, res)
				})
			})
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().IntVar(&limit, "limit", 0, "show the last `N` messages (1-1000)")
	return cmd
}

func printHistory(w io.Writer, key string, res map[string]any) {
	if k := fieldStr(res, "sessionKey"); k != "" {
		key = k
	}
	msgs := asSlice(res["messages"])
	if len(msgs) == 0 {
		fmt.Fprintf(w, "No messages in session %s.\n", key)
		return
	}
	type line struct{ time, role, text string }
	lines := make([]line, 0, len(msgs))
	tw, rw := len("TIME"), len("ROLE")
	for _, v := range msgs {
		m, _ := v.(map[string]any)
		if m == nil {
			continue
		}
		l := line{time: "-", role: historyRole(fieldStr(m, "role")), text: historyText(m)}
		if ts := fieldInt(m, "timestamp"); ts > 0 {
			l.time = time.UnixMilli(ts).Local().Format("2006-01-02 15:04:05")
		}
		tw, rw = max(tw, utf8.RuneCountInString(l.time)), max(rw, utf8.RuneCountInString(l.role))
		lines = append(lines, l)
	}
	fmt.Fprintf(w, "Session %s (%s)\n", key, plural(int64(len(lines)), "message"))
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", tw, "TIME", rw, "ROLE", "TEXT")
	pad := strings.Repeat(" ", tw+rw+4)
	for _, l := range lines {
		text := strings.ReplaceAll(strings.TrimRight(l.text, "\n"), "\n", "\n"+pad)
		fmt.Fprintf(w, "%-*s  %-*s  %s\n", tw, l.time, rw, l.role, text)
	}
	if fieldBool(res, "hasMore") {
		fmt.Fprintf(w, "Older messages are not shown (%d in all); pass --limit to see more.\n", fieldInt(res, "totalMessages"))
	}
}

func historyRole(role string) string {
	switch role {
	case "toolResult", "tool":
		return "tool"
	case "":
		return "-"
	}
	return role
}

// historyText renders a transcript entry: its text, tool calls as
// "→ name {args}", tool results as "← name: output".
func historyText(m map[string]any) string {
	role := fieldStr(m, "role")
	var parts []string
	switch c := m["content"].(type) {
	case string:
		parts = append(parts, c)
	case []any:
		for _, p := range c {
			pm, _ := p.(map[string]any)
			if pm == nil {
				continue
			}
			switch fieldStr(pm, "type") {
			case "text":
				parts = append(parts, fieldStr(pm, "text"))
			case "toolCall", "tool_use", "toolUse":
				args := pm["arguments"]
				if args == nil {
					args = pm["input"]
				}
				call := "→ " + orDash(fieldStr(pm, "name"))
				if args != nil {
					if b, err := json.Marshal(args); err == nil && string(b) != "{}" && string(b) != "null" {
						call += " " + truncate(string(b), 120)
					}
				}
				parts = append(parts, call)
			case "image":
				parts = append(parts, "[image]")
			case "thinking":
				// Reasoning is not part of the conversation view.
			default:
				if t := fieldStr(pm, "type"); t != "" {
					parts = append(parts, "["+t+"]")
				}
			}
		}
	}
	text := strings.Join(parts, "\n")
	if role == "toolResult" || role == "tool" {
		out := strings.TrimSpace(text)
		if i := strings.IndexByte(out, '\n'); i >= 0 {
			out = out[:i] + " …"
		}
		label := "← " + orDash(fieldStr(m, "toolName"))
		if fieldBool(m, "isError") {
			label += " (error)"
		}
		if out != "" {
			label += ": " + truncate(out, 120)
		}
		return label
	}
	return text
}

func (a *app) sessionsResetCmd() *cobra.Command {
	var f clientFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset KEY",
		Short: "Start a session afresh (its history is cleared)",
		Long: "Reset a session: a running turn is aborted and the conversation starts afresh.\n\n" +
			"Asks for confirmation in a terminal; elsewhere --yes is required.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := idArg(args[0], "session key")
			if err != nil {
				return err
			}
			if !yes {
				if err := a.confirmReset(key); err != nil {
					return err
				}
			}
			return a.withScopedGateway(cmd, &f, []string{protocol.ScopeAdmin}, func(ctx context.Context, s *session) error {
				var res map[string]any
				raw, err := callInto(ctx, s, "sessions.reset", protocol.SessionKeyParams{Key: key}, &res)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				if k := fieldStr(res, "key"); k != "" {
					key = k
				}
				fmt.Fprintf(a.stdout, "Reset session %s", key)
				if entry, _ := res["entry"].(map[string]any); entry != nil && fieldStr(entry, "sessionId") != "" {
					fmt.Fprintf(a.stdout, " (new session id %s)", fieldStr(entry, "sessionId"))
				}
				fmt.Fprintln(a.stdout, ".")
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "reset without asking")
	return cmd
}

func (a *app) confirmReset(key string) error {
	if !stdinInteractive() {
		return fmt.Errorf("not resetting session %s without confirmation: run this in a terminal, or pass --yes", key)
	}
	if a.askYesNo(fmt.Sprintf("Reset session %s? Its conversation history will be cleared. [y/N] ", key)) {
		return nil
	}
	return fmt.Errorf("session %s was not reset", key)
}

// Lenient readers of decoded JSON objects: a field of another type reads
// as the zero value.

func fieldStr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func fieldInt(m map[string]any, k string) int64 {
	switch v := m[k].(type) {
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

func fieldBool(m map[string]any, k string) bool {
	b, _ := m[k].(bool)
	return b
}
