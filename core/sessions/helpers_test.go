//go:build cgo

package sessions

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/store"
)

// testClock is a settable clock so that ordering tests do not depend on
// wall-clock resolution.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "state", "pincer.sqlite") }

// openAt opens the store at path; close it with the returned func (tests
// that reopen call it themselves, others leave it to Cleanup).
func openAt(t *testing.T, path string) (*Store, func()) {
	t.Helper()
	db, err := store.Open(path, store.Options{SkipIntegrityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), db)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s, func() {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func newStore(t *testing.T) (*Store, *testClock) {
	t.Helper()
	s, _ := openAt(t, dbPath(t))
	c := &testClock{t: time.UnixMilli(1_795_311_433_000)}
	s.now = c.now
	return s, c
}

func userMsg(text string) Message {
	return Message{Role: RoleUser, Content: TextContent(text)}
}

func assistantMsg(text string) Message {
	return Message{Role: RoleAssistant, Content: TextParts(text), API: "openai-completions", Provider: "fake",
		Model: "fake-1", StopReason: "stop", Usage: &Usage{Input: 10, Output: 5}}
}

func mustAppend(t *testing.T, s *Store, key string, msgs ...Message) []Message {
	t.Helper()
	out, err := s.Append(context.Background(), key, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
