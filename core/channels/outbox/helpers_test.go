//go:build cgo

package outbox

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/store"
)

// fakeClock is a settable clock. After registers a waiter that fires when
// Advance passes its deadline; with auto set, After advances the clock
// itself and fires at once (to run through backoffs).
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	auto    bool
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_795_311_433_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if c.auto && d > 0 {
		c.t = c.t.Add(d)
	}
	if c.auto || d <= 0 {
		ch <- c.t
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.t.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.t
	}
	c.waiters = kept
}

// hasWaiter reports whether something waits for exactly t.
func (c *fakeClock) hasWaiter(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		if w.at.Equal(t) {
			return true
		}
	}
	return false
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "state", "pincer.sqlite") }

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{SkipIntegrityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openQueue(t *testing.T, db *store.DB, s Sender, opt Options) *Queue {
	t.Helper()
	q, err := Open(context.Background(), db, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// run starts q.Run and returns a func that stops it and waits for it.
func run(t *testing.T, q *Queue) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond; the timeout only keeps a broken test from hanging.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func msg(chat, text string) channel.Outbound {
	return channel.Outbound{AccountID: "default", To: channel.Peer{Kind: channel.PeerDirect, ID: chat}, Text: text}
}

// call is one Send the fake sender saw.
type call struct {
	channel string
	chat    string
	text    string
}

// fakeSender records sends and answers with fn (nil: success).
type fakeSender struct {
	mu    sync.Mutex
	calls []call
	fn    func(n int, c call) (channel.Delivery, error) // n: how many sends of this text before
	seen  map[string]int
}

func (s *fakeSender) Send(ctx context.Context, channelID string, m channel.Outbound) (channel.Delivery, error) {
	c := call{channel: channelID, chat: m.To.ID, text: m.Text}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	if s.seen == nil {
		s.seen = map[string]int{}
	}
	n := s.seen[m.Text]
	s.seen[m.Text]++
	fn := s.fn
	s.mu.Unlock()
	if fn != nil {
		return fn(n, c)
	}
	return channel.Delivery{MessageID: "m-" + m.Text, ChatID: m.To.ID}, nil
}

func (s *fakeSender) count(text string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[text]
}

func (s *fakeSender) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func (s *fakeSender) texts(chat string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if chat == "" || c.chat == chat {
			out = append(out, c.text)
		}
	}
	return out
}
