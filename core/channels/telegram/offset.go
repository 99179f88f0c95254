package telegram

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/store"
)

// OffsetStore persists the long-polling position of an account: the
// update_id to ask getUpdates for next (last processed update_id + 1; 0 when
// nothing was processed yet). It is kept per bot: update ids belong to one
// bot, so after the account's token changes to another bot the saved offset
// no longer applies (and would skip that bot's updates).
type OffsetStore interface {
	// LoadOffset returns the saved offset of the account, or 0 when none
	// was saved for this bot.
	LoadOffset(ctx context.Context, accountID string, botID int64) (int64, error)
	SaveOffset(ctx context.Context, accountID string, botID int64, offset int64) error
}

// MemoryOffsetStore is an in-memory OffsetStore (tests, or when nothing
// durable is configured: offsets then do not survive a process restart).
type MemoryOffsetStore struct {
	mu sync.Mutex
	m  map[string]botOffset
}

type botOffset struct{ bot, offset int64 }

// NewMemoryOffsetStore returns an empty in-memory store.
func NewMemoryOffsetStore() *MemoryOffsetStore {
	return &MemoryOffsetStore{m: map[string]botOffset{}}
}

// LoadOffset returns the saved offset (0 when none).
func (s *MemoryOffsetStore) LoadOffset(_ context.Context, accountID string, botID int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.m[accountID]; ok && o.bot == botID {
		return o.offset, nil
	}
	return 0, nil
}

// SaveOffset records the offset.
func (s *MemoryOffsetStore) SaveOffset(_ context.Context, accountID string, botID, offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]botOffset{}
	}
	s.m[accountID] = botOffset{botID, offset}
	return nil
}

// Domain is the store migration domain of this package.
const Domain = "telegram"

func init() {
	store.Register(store.Migration{Domain: Domain, Version: 1, SQL: `
CREATE TABLE telegram_offsets (
	account_id    TEXT    NOT NULL PRIMARY KEY,
	bot_id        INTEGER NOT NULL,
	next_offset   INTEGER NOT NULL,
	updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;`})
}

// SQLiteOffsetStore keeps offsets in the gateway's state database, so a
// restart neither reprocesses nor skips updates.
type SQLiteOffsetStore struct {
	db *store.DB
}

// NewSQLiteOffsetStore returns a store on db (migrated by store.Open).
func NewSQLiteOffsetStore(db *store.DB) *SQLiteOffsetStore { return &SQLiteOffsetStore{db: db} }

// LoadOffset returns the saved offset (0 when none, or saved for another bot).
func (s *SQLiteOffsetStore) LoadOffset(ctx context.Context, accountID string, botID int64) (int64, error) {
	var bot, off int64
	err := s.db.QueryRowContext(ctx, "SELECT bot_id, next_offset FROM telegram_offsets WHERE account_id = ?", accountID).Scan(&bot, &off)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, err
	case bot != botID:
		return 0, nil
	}
	return off, nil
}

// SaveOffset records the offset.
func (s *SQLiteOffsetStore) SaveOffset(ctx context.Context, accountID string, botID, offset int64) error {
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO telegram_offsets(account_id, bot_id, next_offset, updated_at_ms) VALUES (?, ?, ?, ?)
ON CONFLICT(account_id) DO UPDATE SET bot_id = excluded.bot_id, next_offset = excluded.next_offset, updated_at_ms = excluded.updated_at_ms`,
			accountID, botID, offset, time.Now().UnixMilli())
		return err
	})
}
