package sessions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

const (
	// charsPerToken is the usual rough ratio for English text and code.
	charsPerToken = 4
	// messageOverheadTokens stands for role markers and framing per message.
	messageOverheadTokens = 4
	// imageTokens is a flat guess per image part: providers bill images by
	// pixels, not by the size of their base64.
	imageTokens = 1000
	// ReservePercent of the context window is kept free for the system
	// prompt, tool definitions and the reply.
	ReservePercent = 20
)

var (
	// ErrNothingToCompact means the context after the last compaction
	// holds no more than keepLast messages.
	ErrNothingToCompact = errors.New("sessions: nothing to compact")
	// ErrCompactionConflict means the session was reset or compacted while
	// the summary was being written; nothing was recorded.
	ErrCompactionConflict = errors.New("sessions: the session changed during compaction; try again")
)

// EstimateTokens guesses how many tokens msgs take in a model's context:
// about one token per four bytes of text, tool names and tool arguments, a
// flat amount per image and a little per message.
func EstimateTokens(msgs []Message) int {
	chars, tokens := 0, 0
	for _, m := range msgs {
		tokens += messageOverheadTokens
		c, t := contentSize(m.Content)
		chars += c + len(m.ToolName)
		tokens += t
	}
	return tokens + (chars+charsPerToken-1)/charsPerToken
}

// contentSize returns the text bytes and the fixed token cost of content.
func contentSize(raw json.RawMessage) (chars, tokens int) {
	if len(raw) == 0 {
		return 0, 0
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(s), 0
	}
	var parts []struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		Thinking  string          `json:"thinking"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return len(raw), 0
	}
	for _, p := range parts {
		switch p.Type {
		case "image":
			tokens += imageTokens
		case "toolCall":
			chars += len(p.Name) + len(p.Arguments)
		default:
			chars += len(p.Text) + len(p.Thinking)
		}
	}
	return chars, tokens
}

// NeedsCompaction reports whether msgs no longer fit in a context window of
// contextTokens once ReservePercent of it is kept free. A window of 0 or
// less means unknown, and never asks for compaction.
func NeedsCompaction(msgs []Message, contextTokens int) bool {
	if contextTokens <= 0 {
		return false
	}
	budget := contextTokens - contextTokens*ReservePercent/100
	return EstimateTokens(msgs) > budget
}

// ModelContext is what the next model call should see of the session at
// key: the latest compaction summary ("" if none) and the messages after it,
// oldest first (compaction markers left out). An unknown session is empty.
func (s *Store) ModelContext(ctx context.Context, key string) (string, []Message, error) {
	if _, err := validKey(key); err != nil {
		return "", nil, err
	}
	sess, err := getSession(ctx, s.db, key)
	if errors.Is(err, ErrNotFound) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	msgs, err := messagesAfter(ctx, s.db, sess.SessionID, sess.CompactionSeq)
	if err != nil {
		return "", nil, err
	}
	return sess.CompactionSummary, withoutMarkers(msgs), nil
}

func withoutMarkers(msgs []Message) []Message {
	out := msgs[:0]
	for _, m := range msgs {
		if m.Kind != KindCompaction {
			out = append(out, m)
		}
	}
	return out
}

// Compact summarizes all but the last keepLast messages of the session's
// model context and records the summary. summarize runs outside any
// transaction (it is a model call); when an earlier summary exists, older
// starts with a system message of Kind "compaction" holding it, so the new
// summary can carry it forward. The cut never separates a tool result from
// the assistant turn that called it. The summary, the seq it covers and a
// compaction marker in the transcript are then written in one transaction;
// the older messages stay in the transcript and in History, but
// ModelContext returns only the summary and what follows it.
func (s *Store) Compact(ctx context.Context, key string, keepLast int,
	summarize func(ctx context.Context, older []Message) (string, error)) error {
	if _, err := validKey(key); err != nil {
		return err
	}
	if summarize == nil {
		return errors.New("sessions: Compact needs a summarize function")
	}
	keepLast = max(keepLast, 0)
	sess, err := getSession(ctx, s.db, key)
	if errors.Is(err, ErrNotFound) {
		return ErrNothingToCompact
	}
	if err != nil {
		return err
	}
	all, err := messagesAfter(ctx, s.db, sess.SessionID, sess.CompactionSeq)
	if err != nil {
		return err
	}
	msgs := withoutMarkers(all)
	cut := len(msgs) - keepLast
	for cut > 0 && cut < len(msgs) && msgs[cut].Role == RoleTool {
		cut--
	}
	if cut <= 0 {
		return ErrNothingToCompact
	}
	older := msgs[:cut]
	if sess.CompactionSummary != "" {
		prev := Message{Role: RoleSystem, Kind: KindCompaction, Content: TextContent(sess.CompactionSummary),
			Timestamp: sess.CompactedAt}
		older = append([]Message{prev}, older...)
	}
	summary, err := summarize(ctx, older)
	if err != nil {
		return fmt.Errorf("sessions: summarize: %w", err)
	}
	summary = strings.TrimSpace(summary)
	if summary == "" {
		return errors.New("sessions: summarize returned an empty summary")
	}
	covers := msgs[cut-1].Seq
	return s.withTx(ctx, func(tx *sql.Tx) error {
		cur, err := getSession(ctx, tx, key)
		if errors.Is(err, ErrNotFound) {
			return ErrCompactionConflict
		}
		if err != nil {
			return err
		}
		if cur.SessionID != sess.SessionID || cur.CompactionSeq != sess.CompactionSeq {
			return ErrCompactionConflict
		}
		now := s.nowMs()
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM session_messages WHERE session_id = ?`,
			cur.SessionID).Scan(&last); err != nil {
			return err
		}
		marker := Message{Role: RoleSystem, Kind: KindCompaction, Content: TextContent(summary), Seq: last + 1, Timestamp: now}
		if err := normalize(&marker, now); err != nil {
			return err
		}
		rec, err := json.Marshal(marker)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO session_messages (session_id, seq, id, session_key, role,
			idempotency_key, record_json, bytes, created_at_ms) VALUES (?,?,?,?,?,?,?,?,?)`,
			cur.SessionID, marker.Seq, marker.ID, key, marker.Role, "", string(rec), wireSize(marker), now); err != nil {
			return err
		}
		cur.CompactionSeq, cur.CompactionSummary, cur.CompactedAt = covers, summary, now
		cur.CompactionCount++
		cur.UpdatedAt = now
		return putSession(ctx, tx, cur, false)
	})
}
