package sessions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pincerhq/pincer/core/store"
)

// ErrNotFound means no session (or run) has the given key (or id).
var ErrNotFound = errors.New("sessions: not found")

// Store keeps sessions, transcripts and runs in the state database.
type Store struct {
	db  *store.DB
	now func() time.Time // tests pin the clock
}

// Open returns a Store over db. The schema is applied by store.Open (this
// package registers its migrations in init); Open only checks that it was.
func Open(ctx context.Context, db *store.DB) (*Store, error) {
	if db == nil || db.DB == nil {
		return nil, errors.New("sessions: nil database")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE domain = ?`, Domain).Scan(&n); err != nil {
		return nil, fmt.Errorf("sessions: read schema version: %w", err)
	}
	if n == 0 {
		return nil, errors.New("sessions: the sessions schema is missing; the store was opened before this package was linked in")
	}
	return &Store{db: db, now: time.Now}, nil
}

func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

// Session is one conversation slot. Times are Unix milliseconds.
type Session struct {
	Key               string `json:"key"`
	SessionID         string `json:"sessionId"`
	AgentID           string `json:"agentId"`
	CreatedAt         int64  `json:"createdAt"`
	UpdatedAt         int64  `json:"updatedAt"`
	LastInteractionAt int64  `json:"lastInteractionAt,omitempty"`
	DisplayName       string `json:"displayName,omitempty"`
	Label             string `json:"label,omitempty"`
	Kind              string `json:"kind,omitempty"`     // "direct" | "group"
	ChatType          string `json:"chatType,omitempty"` // "direct" | "group"
	Model             string `json:"model,omitempty"`
	ModelProvider     string `json:"modelProvider,omitempty"`
	// Token counters describe the latest model call: InputTokens and
	// OutputTokens are its usage, TotalTokens is how full the context was
	// (input + cache read + cache write), as OpenClaw reports them.
	InputTokens    int64  `json:"inputTokens"`
	OutputTokens   int64  `json:"outputTokens"`
	TotalTokens    int64  `json:"totalTokens"`
	Status         string `json:"status,omitempty"` // "" | "running" | "done" | "failed" | "timeout" | "killed"
	LastRunID      string `json:"lastRunId,omitempty"`
	AbortedLastRun bool   `json:"abortedLastRun"`
	// LastRoute is where the last inbound message came from (channel,
	// account, peer…), opaque JSON owned by routing.
	LastRoute json.RawMessage `json:"lastRoute,omitempty"`
	// ModelOverride is a provider/model ref chosen for this session (the
	// /model chat command); "" uses the agent's configured model.
	ModelOverride string `json:"modelOverride,omitempty"`
	// Compaction state: the latest summary covers messages with seq <=
	// CompactionSeq of the current sessionId.
	CompactionSeq     int64  `json:"-"`
	CompactionSummary string `json:"-"`
	CompactionCount   int    `json:"compactionCount,omitempty"`
	CompactedAt       int64  `json:"-"`
}

const sessionCols = `key, session_id, agent_id, created_at_ms, updated_at_ms, last_interaction_at_ms, display_name, label,
	kind, chat_type, model, model_provider, input_tokens, output_tokens, total_tokens, status, last_run_id, aborted_last_run,
	last_route_json, compaction_seq, compaction_summary, compaction_count, compacted_at_ms, model_override`

type scanner interface{ Scan(dest ...any) error }

func scanSession(r scanner) (*Session, error) {
	var x Session
	var route string
	if err := r.Scan(&x.Key, &x.SessionID, &x.AgentID, &x.CreatedAt, &x.UpdatedAt, &x.LastInteractionAt, &x.DisplayName,
		&x.Label, &x.Kind, &x.ChatType, &x.Model, &x.ModelProvider, &x.InputTokens, &x.OutputTokens, &x.TotalTokens,
		&x.Status, &x.LastRunID, &x.AbortedLastRun, &route, &x.CompactionSeq, &x.CompactionSummary, &x.CompactionCount,
		&x.CompactedAt, &x.ModelOverride); err != nil {
		return nil, err
	}
	if route != "" {
		x.LastRoute = json.RawMessage(route)
	}
	return &x, nil
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func getSession(ctx context.Context, q querier, key string) (*Session, error) {
	x, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return x, err
}

// withTx runs fn in one write transaction (see store.DB.WriteTx).
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.db.WriteTx(ctx, fn)
}

// kindOf classifies a key's rest the way routing builds group keys
// ("<channel>:group:<id>", "<channel>:channel:<id>").
func kindOf(rest string) string {
	if strings.Contains(":"+rest+":", ":group:") || strings.Contains(":"+rest+":", ":channel:") {
		return "group"
	}
	return "direct"
}

// ensureTx returns the session at key, creating it when absent.
func (s *Store) ensureTx(ctx context.Context, tx *sql.Tx, key string) (*Session, error) {
	agentID, err := validKey(key)
	if err != nil {
		return nil, err
	}
	x, err := getSession(ctx, tx, key)
	if !errors.Is(err, ErrNotFound) {
		return x, err
	}
	_, rest, _ := ParseKey(key)
	now := s.nowMs()
	x = &Session{Key: key, SessionID: uuid.NewString(), AgentID: agentID, CreatedAt: now, UpdatedAt: now,
		Kind: kindOf(rest), ChatType: kindOf(rest)}
	if rest == MainRest {
		x.DisplayName = MainRest
	}
	if err := putSession(ctx, tx, x, true); err != nil {
		return nil, err
	}
	return x, nil
}

func putSession(ctx context.Context, q querier, x *Session, insert bool) error {
	route := ""
	if len(x.LastRoute) > 0 {
		if !json.Valid(x.LastRoute) {
			return errors.New("sessions: LastRoute is not valid JSON")
		}
		route = string(x.LastRoute)
	}
	args := []any{x.SessionID, x.AgentID, x.CreatedAt, x.UpdatedAt, x.LastInteractionAt, x.DisplayName, x.Label,
		x.Kind, x.ChatType, x.Model, x.ModelProvider, x.InputTokens, x.OutputTokens, x.TotalTokens, x.Status, x.LastRunID,
		x.AbortedLastRun, route, x.CompactionSeq, x.CompactionSummary, x.CompactionCount, x.CompactedAt, x.ModelOverride, x.Key}
	var err error
	if insert {
		_, err = q.ExecContext(ctx, `INSERT INTO sessions (session_id, agent_id, created_at_ms, updated_at_ms,
			last_interaction_at_ms, display_name, label, kind, chat_type, model, model_provider, input_tokens, output_tokens,
			total_tokens, status, last_run_id, aborted_last_run, last_route_json, compaction_seq, compaction_summary,
			compaction_count, compacted_at_ms, model_override, key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, args...)
	} else {
		_, err = q.ExecContext(ctx, `UPDATE sessions SET session_id=?, agent_id=?, created_at_ms=?, updated_at_ms=?,
			last_interaction_at_ms=?, display_name=?, label=?, kind=?, chat_type=?, model=?, model_provider=?, input_tokens=?,
			output_tokens=?, total_tokens=?, status=?, last_run_id=?, aborted_last_run=?, last_route_json=?, compaction_seq=?,
			compaction_summary=?, compaction_count=?, compacted_at_ms=?, model_override=? WHERE key=?`, args...)
	}
	return err
}

// Ensure returns the session at key (a full key, see Canonical), creating it
// with a fresh sessionId when it does not exist.
func (s *Store) Ensure(ctx context.Context, key string) (*Session, error) {
	var out *Session
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.ensureTx(ctx, tx, key)
		return err
	})
	return out, err
}

// Get returns the session at key, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (*Session, error) {
	if _, err := validKey(key); err != nil {
		return nil, err
	}
	return getSession(ctx, s.db, key)
}

// Update applies fn to the session at key and saves it, in one transaction.
// Key, SessionID, AgentID, CreatedAt and the compaction state cannot be
// changed this way (Reset and Compact own them); UpdatedAt is set to now
// unless fn moved it. A missing session is ErrNotFound.
func (s *Store) Update(ctx context.Context, key string, fn func(*Session)) (*Session, error) {
	if _, err := validKey(key); err != nil {
		return nil, err
	}
	var out *Session
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		cur, err := getSession(ctx, tx, key)
		if err != nil {
			return err
		}
		next := *cur
		next.LastRoute = append(json.RawMessage(nil), cur.LastRoute...)
		fn(&next)
		next.Key, next.SessionID, next.AgentID, next.CreatedAt = cur.Key, cur.SessionID, cur.AgentID, cur.CreatedAt
		next.CompactionSeq, next.CompactionSummary, next.CompactionCount, next.CompactedAt =
			cur.CompactionSeq, cur.CompactionSummary, cur.CompactionCount, cur.CompactedAt
		if next.UpdatedAt == cur.UpdatedAt {
			next.UpdatedAt = s.nowMs()
		}
		if err := putSession(ctx, tx, &next, false); err != nil {
			return err
		}
		out = &next
		return nil
	})
	return out, err
}

// ListOptions filter and page List. Zero values mean "no filter"; Limit 0
// means no limit.
type ListOptions struct {
	AgentID string
	Limit   int
	Offset  int
	// ActiveMinutes keeps sessions updated within the last N minutes.
	ActiveMinutes int
	// Search matches a case-insensitive substring of the key, display name
	// or label.
	Search string
	// Label keeps sessions whose label equals it exactly.
	Label string
}

// List returns sessions, most recently updated first (ties by key), and how
// many match in total before paging.
func (s *Store) List(ctx context.Context, opt ListOptions) ([]Session, int, error) {
	var where []string
	var args []any
	if opt.AgentID != "" {
		where = append(where, "agent_id = ?")
		args = append(args, opt.AgentID)
	}
	if opt.ActiveMinutes > 0 {
		where = append(where, "updated_at_ms >= ?")
		args = append(args, s.nowMs()-int64(opt.ActiveMinutes)*60_000)
	}
	if q := strings.TrimSpace(opt.Search); q != "" {
		pat := "%" + escapeLike(q) + "%"
		where = append(where, `(key LIKE ? ESCAPE '\' OR display_name LIKE ? ESCAPE '\' OR label LIKE ? ESCAPE '\')`)
		args = append(args, pat, pat, pat)
	}
	if opt.Label != "" {
		where = append(where, "label = ?")
		args = append(args, opt.Label)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	offset := max(opt.Offset, 0)
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions`+cond+
		` ORDER BY updated_at_ms DESC, key ASC LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, *x)
	}
	return out, total, rows.Err()
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Reset starts a new conversation in the slot: a fresh sessionId, empty
// transcript, token counters, run status and compaction state. Name, label,
// kind, model and route are kept. The old transcript is not deleted: it
// stays in the database under the old sessionId (HistoryOptions.SessionID
// reads it) until the session is deleted. A missing session is created.
func (s *Store) Reset(ctx context.Context, key string) (*Session, error) {
	var out *Session
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.ensureTx(ctx, tx, key)
		if err != nil {
			return err
		}
		next := *cur
		next.SessionID = uuid.NewString()
		next.UpdatedAt = s.nowMs()
		next.InputTokens, next.OutputTokens, next.TotalTokens = 0, 0, 0
		next.Status, next.LastRunID, next.AbortedLastRun = "", "", false
		next.CompactionSeq, next.CompactionSummary, next.CompactionCount, next.CompactedAt = 0, "", 0, 0
		if err := putSession(ctx, tx, &next, false); err != nil {
			return err
		}
		out = &next
		return nil
	})
	return out, err
}

// Delete removes the session, every transcript it ever had (the current one
// and those kept by resets), and unlinks its runs: run records stay (they
// answer duplicate idempotency keys) but no longer name the session. It
// reports whether the session existed.
func (s *Store) Delete(ctx context.Context, key string) (bool, error) {
	if _, err := validKey(key); err != nil {
		return false, err
	}
	var existed bool
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE key = ?`, key)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		existed = n > 0
		if _, err := tx.ExecContext(ctx, `DELETE FROM session_messages WHERE session_key = ?`, key); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE session_runs SET session_key = '' WHERE session_key = ?`, key)
		return err
	})
	return existed, err
}
