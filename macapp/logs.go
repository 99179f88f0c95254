package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/protocol"
)

const logsPollInterval = time.Second

func (a *app) logsCmd() *cobra.Command {
	var f clientFlags
	var follow bool
	var limit int
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the gateway log (logs.tail)",
		Long: "Show the last lines of the gateway log. With --follow, keep polling for new lines\n" +
			"every second (reconnecting if the gateway restarts) until interrupted.\n" +
			"--json prints the raw JSON records, one per line.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 5000 {
				return usagef("invalid --limit %d: must be 1-5000", limit)
			}
			return a.runLogs(cmd.Context(), &f, follow, limit, logsPollInterval)
		},
	}
	addClientFlags(cmd, &f)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().IntVarP(&limit, "limit", "n", 200, "print at most `N` lines")
	return cmd
}

func (a *app) runLogs(ctx context.Context, f *clientFlags, follow bool, limit int, every time.Duration) error {
	dialCtx, cancel := withTimeout(ctx, f)
	s, err := a.connect(dialCtx, f, readScopes)
	cancel()
	if err != nil {
		return err
	}
	defer func() { s.c.Close() }()

	var cursor *int64
	first := true
	for {
		p := protocol.LogsTailParams{Cursor: cursor}
		if first {
			p.Limit = &limit
		}
		var res protocol.LogsTailResult
		err := s.c.Call(ctx, "logs.tail", p, &res)
		if err != nil {
			if ctx.Err() != nil && follow {
				return nil
			}
			if !follow || !isConnectionLoss(err) {
				return err
			}
			fmt.Fprintf(a.stderr, "Connection to the gateway lost (%s); reconnecting…\n", errMessage(err))
			_ = s.c.Close()
			ns, err := a.reconnect(ctx, f, every)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			s = ns
			fmt.Fprintln(a.stderr, "Reconnected.")
			continue
		}
		if res.Reset && !first {
			fmt.Fprintln(a.stderr, "(log file was rotated or truncated)")
		}
		if res.Truncated && first && !f.json {
			fmt.Fprintln(a.stderr, "(earlier lines omitted)")
		}
		for _, line := range res.Lines {
			if f.json {
				fmt.Fprintln(a.stdout, line)
			} else {
				fmt.Fprintln(a.stdout, formatLogLine(line))
			}
		}
		c := res.Cursor
		cursor = &c
		first = false
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// reconnect dials until it succeeds, ctx ends, or the gateway rejects the
// credentials.
func (a *app) reconnect(ctx context.Context, f *clientFlags, every time.Duration) (*session, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
		dialCtx, cancel := withTimeout(ctx, f)
		s, err := a.connect(dialCtx, f, readScopes)
		cancel()
		if err == nil {
			return s, nil
		}
		if client.IsFatalConnectError(err) {
			return nil, err
		}
	}
}

func isConnectionLoss(err error) bool {
	var ce *client.CloseError
	return errors.As(err, &ce) || errors.Is(err, client.ErrClosed)
}

// formatLogLine renders one JSON log record as "time LEVEL msg k=v …";
// lines that are not JSON objects are printed as they are.
func formatLogLine(line string) string {
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec == nil {
		return line
	}
	take := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := rec[k]; ok {
				delete(rec, k)
				if s, ok := v.(string); ok {
					return s
				}
				return fmt.Sprint(v)
			}
		}
		return ""
	}
	ts := take("time", "ts", "timestamp")
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		ts = t.Local().Format("2006-01-02 15:04:05.000")
	}
	level := strings.ToUpper(take("level", "lvl"))
	msg := take("msg", "message")

	var b strings.Builder
	for _, part := range []string{ts, fmt.Sprintf("%-5s", level), msg} {
		if strings.TrimSpace(part) == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(part)
	}
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteByte(' ')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(logValue(rec[k]))
	}
	return b.String()
}

func logValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" || strings.ContainsAny(x, " \t\n\"=") {
			b, _ := json.Marshal(x)
			return string(b)
		}
		return x
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}
