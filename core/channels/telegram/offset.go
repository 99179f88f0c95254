package telegram

import (
	"context"
	"sync"
)

// OffsetStore persists the long-polling position of an account: the
// update_id to ask getUpdates for next (last processed update_id + 1; 0 when
// nothing was processed yet). The channel manager keeps it in SQLite so a
// restart neither reprocesses nor skips updates.
type OffsetStore interface {
	LoadOffset(ctx context.Context, accountID string) (int64, error)
	SaveOffset(ctx context.Context, accountID string, offset int64) error
}

// MemoryOffsetStore is an in-memory OffsetStore (tests, or when nothing
// durable is configured: offsets then do not survive a process restart).
type MemoryOffsetStore struct {
	mu sync.Mutex
	m  map[string]int64
}

// NewMemoryOffsetStore returns an empty in-memory store.
func NewMemoryOffsetStore() *MemoryOffsetStore {
	return &MemoryOffsetStore{m: map[string]int64{}}
}

// LoadOffset returns the saved offset (0 when none).
func (s *MemoryOffsetStore) LoadOffset(_ context.Context, accountID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[accountID], nil
}

// SaveOffset records the offset.
func (s *MemoryOffsetStore) SaveOffset(_ context.Context, accountID string, offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]int64{}
	}
	s.m[accountID] = offset
	return nil
}
