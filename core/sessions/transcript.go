package sessions

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Roles of a transcript message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool" // a tool result; on the wire "toolResult"
	RoleSystem    = "system"
)

// Kinds of a transcript message.
const (
	KindInject     = "inject"     // a transcript-only note (chat.inject)
	KindCompaction = "compaction" // the marker Compact appends
)

// Message is one transcript entry. Content is raw JSON: for user (and
// system) messages a JSON string, or an array of parts when the message
// carries images; for assistant and tool messages an array of parts:
// {"type":"text","text"}, {"type":"image",…}, {"type":"toolCall","id","name","arguments"}.
type Message struct {
	Seq            int64           `json:"seq"`
	ID             string          `json:"id"`
	Role           string          `json:"role"`
	Content        json.RawMessage `json:"content"`
	Timestamp      int64           `json:"timestamp"`
	RunID          string          `json:"runId,omitempty"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
	Provider       string          `json:"provider,omitempty"`
	Model          string          `json:"model,omitempty"`
	API            string          `json:"api,omitempty"`
	StopReason     string          `json:"stopReason,omitempty"`
	ResponseID     string          `json:"responseId,omitempty"`
	ToolCallID     string          `json:"toolCallId,omitempty"`
	ToolName       string          `json:"toolName,omitempty"`
	IsError        bool            `json:"isError,omitempty"`
	Usage          *Usage          `json:"usage,omitempty"`
	SenderIsOwner  bool            `json:"senderIsOwner,omitempty"`
	Kind           string          `json:"kind,omitempty"`
	Label          string          `json:"label,omitempty"`
}

// Usage is the token usage of the model call that produced a message.
type Usage struct {
	Input       int   `json:"input"`
	Output      int   `json:"output"`
	CacheRead   int   `json:"cacheRead"`
	CacheWrite  int   `json:"cacheWrite"`
	TotalTokens int   `json:"totalTokens"`
	Cost        *Cost `json:"cost,omitempty"`
}

// Cost is the priced usage in USD.
type Cost struct {
	Input      float64 `json:"input"`
	Output     float64 `json:"output"`
	CacheRead  float64 `json:"cacheRead"`
	CacheWrite float64 `json:"cacheWrite"`
	Total      float64 `json:"total"`
}

// Text returns the message's text: the string content, or its text parts
// joined by newlines.
func (m Message) Text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Content, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" && p.Text != "" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// TextContent is the Content of a plain-text user or system message.
func TextContent(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// TextParts is the Content of an assistant or tool message with one text part.
func TextParts(s string) json.RawMessage {
	b, _ := json.Marshal([]map[string]string{{"type": "text", "text": s}})
	return b
}

// normalize checks a message before it is stored and fills what the caller
// may leave out.
func normalize(m *Message, now int64) error {
	if m.Role == "toolResult" {
		m.Role = RoleTool
	}
	switch m.Role {
	case RoleUser, RoleAssistant, RoleTool, RoleSystem:
	case "":
		return errors.New("sessions: message without a role")
	default:
		return fmt.Errorf("sessions: unknown message role %q (want user, assistant, tool or system)", m.Role)
	}
	switch m.Kind {
	case "", KindInject, KindCompaction:
	default:
		return fmt.Errorf("sessions: unknown message kind %q", m.Kind)
	}
	c := bytes.TrimSpace(m.Content)
	if len(c) == 0 {
		if m.Role == RoleUser || m.Role == RoleSystem {
			c = []byte(`""`)
		} else {
			c = []byte(`[]`)
		}
	}
	if !json.Valid(c) {
		return fmt.Errorf("sessions: %s message content is not valid JSON", m.Role)
	}
	switch c[0] {
	case '[':
	case '"':
		// Assistant and tool content is always a parts array on the wire.
		if m.Role == RoleAssistant || m.Role == RoleTool {
			var s string
			_ = json.Unmarshal(c, &s)
			c = TextParts(s)
		}
	default:
		return fmt.Errorf("sessions: %s message content must be a JSON string or an array of parts", m.Role)
	}
	m.Content = append(json.RawMessage(nil), c...)
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.Timestamp == 0 {
		m.Timestamp = now
	}
	if u := m.Usage; u != nil && u.TotalTokens == 0 {
		u.TotalTokens = u.Input + u.Output + u.CacheRead + u.CacheWrite
	}
	return nil
}

// Append adds messages to the current transcript of the session at key
// (creating the session if needed) in one transaction and returns them as
// stored. Seq numbers continue the session's sequence (+1 each); ID and
// Timestamp are filled when zero. A message whose IdempotencyKey and role
// match one already in the transcript is not stored again: the stored one
// is returned in its place, so a retried turn cannot duplicate. The session's
// updatedAt moves, lastInteractionAt moves for user messages, and assistant
// usage and model update its counters. Append returns after the commit.
func (s *Store) Append(ctx context.Context, key string, msgs ...Message) ([]Message, error) {
	if _, err := validKey(key); err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	now := s.nowMs()
	in := make([]Message, len(msgs))
	for i, m := range msgs {
		if m.Usage != nil {
			u := *m.Usage
			m.Usage = &u
		}
		if err := normalize(&m, now); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		in[i] = m
	}
	var out []Message
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		sess, err := s.ensureTx(ctx, tx, key)
		if err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM session_messages WHERE session_id = ?`,
			sess.SessionID).Scan(&last); err != nil {
			return err
		}
		changed := false
		for _, m := range in {
			if m.IdempotencyKey != "" {
				prev, err := findByIdem(ctx, tx, sess.SessionID, m.IdempotencyKey, m.Role)
				if err != nil {
					return err
				}
				if prev != nil {
					out = append(out, *prev)
					continue
				}
			}
			last++
			m.Seq = last
			rec, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO session_messages (session_id, seq, id, session_key, role,
				idempotency_key, record_json, bytes, created_at_ms) VALUES (?,?,?,?,?,?,?,?,?)`,
				sess.SessionID, m.Seq, m.ID, key, m.Role, m.IdempotencyKey, string(rec), wireSize(m), now); err != nil {
				if strings.Contains(err.Error(), "session_messages.id") {
					return fmt.Errorf("sessions: message id %q already exists", m.ID)
				}
				return err
			}
			changed = true
			if m.Role == RoleUser && m.Kind == "" {
				sess.LastInteractionAt = now
			}
			if m.Role == RoleAssistant && m.Usage != nil {
				sess.InputTokens = int64(m.Usage.Input)
				sess.OutputTokens = int64(m.Usage.Output)
				sess.TotalTokens = int64(m.Usage.Input + m.Usage.CacheRead + m.Usage.CacheWrite)
			}
			if m.Role == RoleAssistant && m.Model != "" {
				sess.Model, sess.ModelProvider = m.Model, m.Provider
			}
			out = append(out, m)
		}
		if !changed {
			return nil
		}
		sess.UpdatedAt = now
		return putSession(ctx, tx, sess, false)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func findByIdem(ctx context.Context, q querier, sessionID, idem, role string) (*Message, error) {
	var seq int64
	var id, rec string
	err := q.QueryRowContext(ctx, `SELECT seq, id, record_json FROM session_messages
		WHERE session_id = ? AND idempotency_key = ? AND role = ? ORDER BY seq LIMIT 1`, sessionID, idem, role).Scan(&seq, &id, &rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeRecord(seq, id, rec)
}

func decodeRecord(seq int64, id, rec string) (*Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(rec), &m); err != nil {
		return nil, fmt.Errorf("sessions: message %s (seq %d) is unreadable: %w", id, seq, err)
	}
	m.Seq, m.ID = seq, id
	return &m, nil
}

// wireSize is the size of the message as chat.history sends it, the measure
// of HistoryOptions.MaxBytes.
func wireSize(m Message) int {
	b, err := json.Marshal(Wire(m))
	if err != nil {
		return len(m.Content)
	}
	return len(b)
}

// History paging limits.
const (
	DefaultHistoryLimit    = 200
	MaxHistoryLimit        = 1000
	DefaultHistoryMaxBytes = 6 << 20
)

// HistoryOptions page History.
type HistoryOptions struct {
	// Limit is the most messages returned (default 200, at most 1000).
	Limit int
	// Before returns only messages with seq < Before (the NextBefore of the
	// previous page); 0 starts at the newest message.
	Before int64
	// MaxBytes caps the page by the messages' wire size (default 6 MiB).
	// A message is never cut: the page stops before the one that would
	// cross the cap, but always holds at least one message.
	MaxBytes int
	// SessionID reads an earlier transcript of this session (one that a
	// reset left behind); "" is the current one.
	SessionID string
}

// HistoryPage is one page of a transcript.
type HistoryPage struct {
	SessionID string    `json:"sessionId,omitempty"`
	Messages  []Message `json:"messages"` // oldest first
	// HasMore says older messages exist before this page; pass NextBefore
	// as HistoryOptions.Before to read them.
	HasMore    bool  `json:"hasMore"`
	Total      int   `json:"totalMessages"`
	NextBefore int64 `json:"nextBefore,omitempty"`
}

// History returns the newest messages of the session at key (or of
// opt.SessionID) up to opt.Limit and opt.MaxBytes, oldest first. An unknown
// session is an empty page, not an error.
func (s *Store) History(ctx context.Context, key string, opt HistoryOptions) (HistoryPage, error) {
	page := HistoryPage{Messages: []Message{}}
	if _, err := validKey(key); err != nil {
		return page, err
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	limit = min(limit, MaxHistoryLimit)
	maxBytes := opt.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultHistoryMaxBytes
	}
	sessionID := opt.SessionID
	if sessionID == "" {
		sess, err := getSession(ctx, s.db, key)
		if errors.Is(err, ErrNotFound) {
			return page, nil
		}
		if err != nil {
			return page, err
		}
		sessionID = sess.SessionID
	}
	page.SessionID = sessionID
	// The key condition keeps SessionID from reading another session's transcript.
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM session_messages WHERE session_id = ? AND session_key = ?`,
		sessionID, key).Scan(&page.Total); err != nil {
		return page, err
	}
	before := opt.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	// Choose the page from sizes alone, then read only those records.
	rows, err := s.db.QueryContext(ctx, `SELECT seq, bytes FROM session_messages WHERE session_id = ? AND session_key = ?
		AND seq < ? ORDER BY seq DESC LIMIT ?`, sessionID, key, before, limit+1)
	if err != nil {
		return page, err
	}
	var lo, hi int64
	n, size := 0, 0
	for rows.Next() {
		var seq int64
		var b int
		if err := rows.Scan(&seq, &b); err != nil {
			rows.Close()
			return page, err
		}
		if n == limit || (n > 0 && size+b > maxBytes) {
			page.HasMore = true
			break
		}
		if n == 0 {
			hi = seq
		}
		lo = seq
		n++
		size += b
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, err
	}
	if n == 0 {
		return page, nil
	}
	if page.HasMore {
		page.NextBefore = lo
	}
	rows, err = s.db.QueryContext(ctx, `SELECT seq, id, record_json FROM session_messages WHERE session_id = ? AND
		session_key = ? AND seq BETWEEN ? AND ? ORDER BY seq ASC`, sessionID, key, lo, hi)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var id, rec string
		if err := rows.Scan(&seq, &id, &rec); err != nil {
			return page, err
		}
		m, err := decodeRecord(seq, id, rec)
		if err != nil {
			return page, err
		}
		page.Messages = append(page.Messages, *m)
	}
	return page, rows.Err()
}

// messagesAfter returns the transcript of sessionID with seq > after, oldest first.
func messagesAfter(ctx context.Context, q querier, sessionID string, after int64) ([]Message, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, id, record_json FROM session_messages WHERE session_id = ? AND seq > ?
		ORDER BY seq ASC`, sessionID, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var seq int64
		var id, rec string
		if err := rows.Scan(&seq, &id, &rec); err != nil {
			return nil, err
		}
		m, err := decodeRecord(seq, id, rec)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}
