package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

// defaultAgentTimeoutSeconds is the run timeout the official CLI sends.
const defaultAgentTimeoutSeconds = 600

// exitInterrupted is the exit code after Ctrl-C (128 + SIGINT).
const exitInterrupted = 130

// agentScopes are the scopes of `pincer agent`: write runs the agent, read
// lists the agents and receives the run's chat events.
var agentScopes = []string{protocol.ScopeWrite, protocol.ScopeRead}

// resetMessage is a message that resets the session instead of running the
// agent (the gateway wants operator.admin for it).
var resetMessage = regexp.MustCompile(`^/(new|reset)\b`)

// isTerminalWriter says whether w is a terminal (where a streamed reply
// can be redrawn in place).
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type agentRunArgs struct {
	message, agentID, sessionKey string
	timeoutSeconds               int
}

func (a *app) agentCmd() *cobra.Command {
	var f clientFlags
	var r agentRunArgs
	cmd := &cobra.Command{
		Use:   "agent --message TEXT",
		Short: "Run one agent turn and print the reply as it streams",
		Long: "Run one agent turn on the gateway and print the assistant's reply as it streams.\n\n" +
			"Like `openclaw agent`, the run goes to the agent's main session unless --session names\n" +
			"another, and nothing is delivered to a channel. --json prints only the run's final result.\n" +
			"Ctrl-C aborts the run. The command waits --timeout-seconds plus 30s unless --timeout is given.",
		Example: "  pincer agent --message 'What is on my calendar today?'\n" +
			"  pincer agent --agent ops --session agent:ops:deploys -m 'Summarise the last deploy' --json",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(r.message) == "" {
				return usagef("--message is required (and must not be empty)")
			}
			r.agentID = strings.TrimSpace(r.agentID)
			if flagChanged(cmd.Flags(), "agent") && r.agentID == "" {
				return usagef("empty --agent")
			}
			r.sessionKey = strings.TrimSpace(r.sessionKey)
			if flagChanged(cmd.Flags(), "session") && r.sessionKey == "" {
				return usagef("empty --session")
			}
			if r.timeoutSeconds <= 0 {
				return usagef("--timeout-seconds must be positive")
			}
			// The whole command must outlast the run's own deadline.
			if !flagChanged(cmd.Flags(), "timeout") {
				f.timeout = max(f.timeout, time.Duration(r.timeoutSeconds)*time.Second+30*time.Second)
			}
			return a.runAgent(cmd.Context(), &f, r)
		},
	}
	addClientFlags(cmd, &f)
	fs := cmd.Flags()
	fs.StringVarP(&r.message, "message", "m", "", "the `TEXT` to send to the agent (/new or /reset starts the session afresh)")
	fs.StringVar(&r.agentID, "agent", "", "agent `ID` (default: the gateway's default agent)")
	fs.StringVar(&r.sessionKey, "session", "", "session `KEY` (default: the agent's main session)")
	fs.IntVar(&r.timeoutSeconds, "timeout-seconds", defaultAgentTimeoutSeconds, "how long the run may take, in `SECONDS`")
	return cmd
}

// agentsListResult is the part of agents.list the CLI uses.
type agentsListResult struct {
	DefaultID string `json:"defaultId"`
	MainKey   string `json:"mainKey"`
	Agents    []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"agents"`
}

func (l agentsListResult) describe() string {
	if len(l.Agents) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(l.Agents))
	for _, ag := range l.Agents {
		s := ag.ID
		if ag.Name != "" && ag.Name != ag.ID {
			s += " (" + ag.Name + ")"
		}
		if ag.ID == l.DefaultID {
			s += " [default]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// agentFinal is the part of the agent's final result the CLI reads.
type agentFinal struct {
	RunID   string `json:"runId"`
	Status  string `json:"status"`
	Summary string `json:"summary"`
	Result  struct {
		Payloads []struct {
			Text     string `json:"text"`
			MediaURL string `json:"mediaUrl"`
		} `json:"payloads"`
	} `json:"result"`
}

func (f agentFinal) text() string {
	var parts []string
	for _, p := range f.Result.Payloads {
		if p.Text != "" {
			parts = append(parts, p.Text)
		}
	}
	return strings.Join(parts, "\n\n")
}

func (f agentFinal) media() []string {
	var out []string
	for _, p := range f.Result.Payloads {
		if p.MediaURL != "" {
			out = append(out, p.MediaURL)
		}
	}
	return out
}

func (a *app) runAgent(parent context.Context, f *clientFlags, r agentRunArgs) error {
	ctx, cancel := withTimeout(parent, f)
	defer cancel()
	runID := uuid.NewString()
	st := &agentStream{w: a.stdout, runID: runID, quiet: f.json, tty: isTerminalWriter(a.stdout)}
	interrupted := func() bool { return errors.Is(parent.Err(), context.Canceled) }

	scopes := agentScopes
	if resetMessage.MatchString(strings.TrimSpace(r.message)) {
		scopes = append([]string{protocol.ScopeAdmin}, scopes...) // /new and /reset need admin
	}
	s, err := a.connectWithEvents(ctx, f, scopes, st.onEvent)
	if err != nil {
		if interrupted() {
			return exitCodeError{exitInterrupted}
		}
		return err
	}
	defer s.c.Close()

	var agents agentsListResult
	if _, err := callInto(ctx, s, "agents.list", struct{}{}, &agents); err != nil {
		if interrupted() {
			return exitCodeError{exitInterrupted}
		}
		return err
	}
	if r.agentID != "" {
		found := false
		for _, ag := range agents.Agents {
			found = found || ag.ID == r.agentID
		}
		if !found {
			return fmt.Errorf("unknown agent %q; the gateway's agents are: %s", r.agentID, agents.describe())
		}
	}

	no := false
	timeout := int64(r.timeoutSeconds)
	params := protocol.AgentParams{Message: r.message, IdempotencyKey: runID, AgentID: r.agentID, SessionKey: r.sessionKey,
		Deliver: &no, Timeout: &timeout}
	var accMu sync.Mutex
	var accepted struct {
		SessionKey string `json:"sessionKey"`
		AgentID    string `json:"agentId"`
	}
	payload, err := s.c.CallRaw(ctx, "agent", params, client.CallOptions{
		ExpectFinal: true,
		Timeout:     -1, // bounded by ctx (--timeout)
		OnAccepted: func(raw json.RawMessage) {
			accMu.Lock()
			defer accMu.Unlock()
			_ = json.Unmarshal(raw, &accepted)
		},
	})
	st.stop()

	if err != nil && interrupted() {
		st.endLine()
		accMu.Lock()
		key := accepted.SessionKey
		accMu.Unlock()
		if key == "" {
			key = r.sessionKey
		}
		if key == "" {
			ag := r.agentID
			if ag == "" {
				ag = agents.DefaultID
			}
			mainKey := agents.MainKey
			if mainKey == "" {
				mainKey = "main"
			}
			if ag != "" {
				key = "agent:" + ag + ":" + mainKey
			}
		}
		a.abortAgentRun(s, key, runID)
		return exitCodeError{exitInterrupted}
	}
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && len(payload) > 0 && f.json {
			// The final frame of a failed run carries its result; keep it for scripts.
			_ = printJSON(a.stdout, payload)
		} else {
			st.endLine()
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrTimeout) {
			fmt.Fprintf(a.stderr, "Note: the run (%s) may still be going on the gateway; see `pincer sessions history`.\n", runID)
		}
		return err
	}
	if f.json {
		return printJSON(a.stdout, payload)
	}
	var fin agentFinal
	if err := json.Unmarshal(payload, &fin); err != nil {
		st.endLine()
		return fmt.Errorf("unexpected agent result: %v", err)
	}
	st.complete(fin.text())
	if fin.text() == "" && len(fin.media()) == 0 {
		note := "no reply"
		if fin.Summary != "" && fin.Summary != "completed" {
			note += ": " + fin.Summary
		}
		fmt.Fprintf(a.stderr, "(%s)\n", note)
	}
	for _, m := range fin.media() {
		fmt.Fprintf(a.stdout, "MEDIA: %s\n", m)
	}
	if fin.Status != "" && fin.Status != "ok" {
		msg := fin.Summary
		if msg == "" {
			msg = "no details"
		}
		return fmt.Errorf("the run ended with status %s: %s", fin.Status, msg)
	}
	return nil
}

// abortAgentRun sends chat.abort for an interrupted run.
func (a *app) abortAgentRun(s *session, sessionKey, runID string) {
	if sessionKey == "" {
		fmt.Fprintf(a.stderr, "Interrupted; the run %s could not be aborted (its session is unknown).\n", runID)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var res struct {
		Aborted bool     `json:"aborted"`
		RunIDs  []string `json:"runIds"`
	}
	_, err := callInto(ctx, s, "chat.abort", protocol.ChatAbortParams{SessionKey: sessionKey, RunID: runID}, &res)
	switch {
	case err != nil:
		fmt.Fprintf(a.stderr, "Interrupted; aborting the run failed: %s", formatError(err))
	case res.Aborted:
		fmt.Fprintf(a.stderr, "Interrupted; aborted the run in session %s.\n", sessionKey)
	default:
		fmt.Fprintf(a.stderr, "Interrupted; the run in session %s had already ended.\n", sessionKey)
	}
}

// withScopedGateway connects with the given scopes for the length of
// --timeout and runs fn.
func (a *app) withScopedGateway(cmd *cobra.Command, f *clientFlags, scopes []string, fn func(ctx context.Context, s *session) error) error {
	ctx, cancel := withTimeout(cmd.Context(), f)
	defer cancel()
	s, err := a.connect(ctx, f, scopes)
	if err != nil {
		return err
	}
	defer s.c.Close()
	return fn(ctx, s)
}

// agentStream prints a run's assistant text from its chat delta events.
// Events arrive on the client's read loop, the final result on the
// command's goroutine, hence the lock.
type agentStream struct {
	mu      sync.Mutex
	w       io.Writer
	runID   string
	quiet   bool // --json: no streaming
	tty     bool // stdout is a terminal: a rewrite may redraw the line
	stopped bool
	printed string // the reply as shown so far
	open    bool   // the last line printed has no newline yet
}

func (st *agentStream) onEvent(ev protocol.EventFrame) {
	if ev.Event != "chat" || st.quiet {
		return
	}
	var p struct {
		RunID     string          `json:"runId"`
		State     string          `json:"state"`
		DeltaText string          `json:"deltaText"`
		Replace   bool            `json:"replace"`
		Message   json.RawMessage `json:"message"`
	}
	if json.Unmarshal(ev.Payload, &p) != nil || p.RunID != st.runID || p.State != "delta" {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return
	}
	if p.Replace {
		// A non-prefix rewrite: deltaText replaces the text so far.
		full := p.DeltaText
		if full == "" {
			full = chatMessageText(p.Message)
		}
		st.rewrite(full)
		return
	}
	st.write(p.DeltaText)
}

// write prints more of the reply.
func (st *agentStream) write(s string) {
	if s == "" {
		return
	}
	_, _ = io.WriteString(st.w, s)
	st.printed += s
	st.open = !strings.HasSuffix(st.printed, "\n")
}

// rewrite shows full as the reply: what extends the printed text is
// appended; otherwise a single-line reply on a terminal is redrawn, and
// anywhere else the new text starts on a new line.
func (st *agentStream) rewrite(full string) {
	switch {
	case strings.HasPrefix(full, st.printed):
		st.write(full[len(st.printed):])
		return
	case st.tty && !strings.Contains(st.printed, "\n"):
		_, _ = io.WriteString(st.w, "\r\x1b[K")
	case st.printed != "":
		_, _ = io.WriteString(st.w, "\n")
	}
	st.printed = ""
	st.open = false
	st.write(full)
}

// stop ends streaming: later events are ignored.
func (st *agentStream) stop() {
	st.mu.Lock()
	st.stopped = true
	st.mu.Unlock()
}

// endLine terminates a partly printed reply.
func (st *agentStream) endLine() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.open {
		_, _ = io.WriteString(st.w, "\n")
		st.open = false
	}
}

// complete reconciles the streamed text with the final reply (events may
// have been coalesced or missed) and ends the line.
func (st *agentStream) complete(final string) {
	st.mu.Lock()
	if final != "" && final != st.printed {
		st.rewrite(final)
	}
	st.mu.Unlock()
	st.endLine()
}

// chatMessageText is the text of a chat event's message.
func chatMessageText(raw json.RawMessage) string {
	var m struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(m.Content, &parts)
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}
