//go:build cgo

package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
)

func TestEnqueueDurable(t *testing.T) {
	path := dbPath(t)
	db := openDB(t, path)
	clock := newClock()
	q := openQueue(t, db, &fakeSender{}, Options{Now: clock.Now})
	m := channel.Outbound{
		AccountID: "work",
		To:        channel.Peer{Kind: channel.PeerGroup, ID: "-100123", ThreadID: "7", TopicKind: "topic"},
		Text:      "hello **world**",
		Media:     []channel.Media{{Kind: "image", MimeType: "image/png", FileName: "a.png", Path: "/tmp/a.png", Size: 42}},
		ReplyToID: "99",
		Silent:    true,
	}
	it, err := q.Enqueue(context.Background(), "k1", "telegram", m)
	if err != nil {
		t.Fatal(err)
	}
	if it.ID == 0 || it.Status != StatusPending || it.Key != "k1" || it.Channel != "telegram" || it.AccountID != "work" ||
		!it.NextAttemptAt.Equal(clock.Now()) || !it.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("enqueued item = %+v", it)
	}
	// Committed: a fresh connection (after close and reopen) sees it.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := openDB(t, path)
	q2 := openQueue(t, db2, &fakeSender{}, Options{})
	got, err := q2.Get(context.Background(), it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, it) {
		t.Fatalf("after reopen\n got %+v\nwant %+v", got, it)
	}
	if !reflect.DeepEqual(got.Msg, m) {
		t.Fatalf("message changed: %+v", got.Msg)
	}
	st, err := q2.Stats(context.Background())
	if err != nil || st != (Stats{Pending: 1}) {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

func TestEnqueueIdempotent(t *testing.T) {
	ctx := waitCtx(t)
	s := &fakeSender{}
	q := openQueue(t, openDB(t, dbPath(t)), s, Options{})
	a, err := q.Enqueue(ctx, "same", "telegram", msg("1", "first"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.Enqueue(ctx, "same", "telegram", msg("2", "second"))
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != a.ID || b.Msg.Text != "first" {
		t.Fatalf("repeated key gave %+v, want item %d", b, a.ID)
	}
	// Without a key every message is its own item.
	c, _ := q.Enqueue(ctx, "", "telegram", msg("1", "x"))
	d, _ := q.Enqueue(ctx, "", "telegram", msg("1", "x"))
	if c.ID == d.ID || c.Key == "" || c.Key == d.Key {
		t.Fatalf("keyless items %+v %+v", c, d)
	}

	run(t, q)
	if _, err := q.Wait(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Wait(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	// The key still answers after delivery, and nothing is sent again.
	again, err := q.Enqueue(ctx, "same", "telegram", msg("1", "first"))
	if err != nil || again.ID != a.ID || again.Status != StatusDelivered || again.Delivery.MessageID != "m-first" {
		t.Fatalf("after delivery: %+v, %v", again, err)
	}
	st, _ := q.Stats(ctx)
	if st != (Stats{Delivered: 3}) || s.count("first") != 1 || s.count("second") != 0 {
		t.Fatalf("stats %+v, first sent %d times, second %d", st, s.count("first"), s.count("second"))
	}
}

func TestEnqueueRejects(t *testing.T) {
	q := openQueue(t, openDB(t, dbPath(t)), &fakeSender{}, Options{})
	ctx := context.Background()
	for name, tc := range map[string]struct {
		ch string
		m  channel.Outbound
	}{
		"no channel":   {"", msg("1", "x")},
		"no recipient": {"telegram", msg("", "x")},
		"empty":        {"telegram", msg("1", " \n")},
	} {
		if _, err := q.Enqueue(ctx, "", tc.ch, tc.m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	media := msg("1", "")
	media.Media = []channel.Media{{Kind: "image", URL: "https://x.y/a.png"}}
	if _, err := q.Enqueue(ctx, "", "telegram", media); err != nil {
		t.Errorf("media without text: %v", err)
	}
}

func TestOrderPerChatAndBoundedParallelism(t *testing.T) {
	ctx := waitCtx(t)
	var mu sync.Mutex
	active := map[string]int{}
	total, maxTotal := 0, 0
	var violation error
	s := &fakeSender{}
	s.fn = func(_ int, c call) (channel.Delivery, error) {
		mu.Lock()
		active[c.chat]++
		total++
		maxTotal = max(maxTotal, total)
		if active[c.chat] > 1 && violation == nil {
			violation = fmt.Errorf("two sends in flight to chat %s", c.chat)
		}
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		mu.Lock()
		active[c.chat]--
		total--
		mu.Unlock()
		return channel.Delivery{MessageID: c.text}, nil
	}
	q := openQueue(t, openDB(t, dbPath(t)), s, Options{Workers: 2})
	chats := []string{"a", "b", "c", "d"}
	want := map[string][]string{}
	var ids []int64
	enqueue := func(round int) {
		for _, chat := range chats {
			text := fmt.Sprintf("%s%02d", chat, round)
			it, err := q.Enqueue(ctx, "", "telegram", msg(chat, text))
			if err != nil {
				t.Fatal(err)
			}
			want[chat] = append(want[chat], text)
			ids = append(ids, it.ID)
		}
	}
	for round := range 10 {
		enqueue(round)
	}
	run(t, q)
	for round := 10; round < 20; round++ { // more while it runs
		enqueue(round)
	}
	for _, id := range ids {
		if _, err := q.Wait(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if violation != nil {
		t.Fatal(violation)
	}
	if maxTotal > 2 {
		t.Fatalf("%d sends in flight with 2 workers", maxTotal)
	}
	for _, chat := range chats {
		if got := s.texts(chat); !slices.Equal(got, want[chat]) {
			t.Fatalf("chat %s got %v, want %v", chat, got, want[chat])
		}
	}
}

func TestParallelAcrossChats(t *testing.T) {
	ctx := waitCtx(t)
	entered := make(chan string, 10)
	release := make(chan struct{})
	s := &fakeSender{fn: func(_ int, c call) (channel.Delivery, error) {
		entered <- c.text
		<-release
		return channel.Delivery{MessageID: c.text}, nil
	}}
	q := openQueue(t, openDB(t, dbPath(t)), s, Options{})
	a1, _ := q.Enqueue(ctx, "", "telegram", msg("A", "a1"))
	a2, _ := q.Enqueue(ctx, "", "telegram", msg("A", "a2"))
	b1, _ := q.Enqueue(ctx, "", "telegram", msg("B", "b1"))
	c1, _ := q.Enqueue(ctx, "", "discord", msg("A", "c1")) // same chat id, other channel
	run(t, q)
	got := map[string]bool{}
	for range 3 {
		select {
		case text := <-entered:
			got[text] = true
		case <-ctx.Done():
			t.Fatalf("sends in flight together: %v (want a1, b1, c1)", got)
		}
	}
	if !got["a1"] || !got["b1"] || !got["c1"] {
		t.Fatalf("in flight: %v", got)
	}
	// a2 waits for a1.
	if it, _ := q.Get(ctx, a2.ID); it.Status != StatusPending || it.Attempts != 0 {
		t.Fatalf("a2 while a1 in flight: %+v", it)
	}
	st, _ := q.Stats(ctx)
	if st != (Stats{Pending: 1, Sending: 3}) {
		t.Fatalf("stats %+v", st)
	}
	close(release)
	for _, id := range []int64{a1.ID, a2.ID, b1.ID, c1.ID} {
		it, err := q.Wait(ctx, id)
		if err != nil || it.Delivery.MessageID != it.Msg.Text {
			t.Fatalf("Wait(%d) = %+v, %v", id, it, err)
		}
	}
}

func TestTransientRetryAfter(t *testing.T) {
	ctx := waitCtx(t)
	clock := newClock()
	t0 := clock.Now()
	s := &fakeSender{fn: func(n int, c call) (channel.Delivery, error) {
		if c.text == "first" && n == 0 {
			return channel.Delivery{}, channel.Transient(errors.New("429 too many requests"), 30*time.Second)
		}
		return channel.Delivery{MessageID: "m-" + c.text}, nil
	}}
	q := openQueue(t, openDB(t, dbPath(t)), s, Options{Now: clock.Now, After: clock.After})
	first, _ := q.Enqueue(ctx, "", "telegram", msg("1", "first"))
	second, _ := q.Enqueue(ctx, "", "telegram", msg("1", "second"))
	other, _ := q.Enqueue(ctx, "", "telegram", msg("2", "other"))
	run(t, q)

	eventually(t, "the first attempt to settle", func() bool {
		it, _ := q.Get(ctx, first.ID)
		return it.Attempts == 1 && it.Status == StatusPending
	})
	it, _ := q.Get(ctx, first.ID)
	if !it.NextAttemptAt.Equal(t0.Add(30*time.Second)) || !strings.Contains(it.LastError, "429") {
		t.Fatalf("after a rate limit: %+v", it)
	}
	// Other chats go on; this chat waits in order.
	if _, err := q.Wait(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Run to wait for the retry time", func() bool { return clock.hasWaiter(t0.Add(30 * time.Second)) })
	clock.Advance(29 * time.Second)
	if s.count("first") != 1 || s.count("second") != 0 {
		t.Fatalf("sent before RetryAfter: first %d, second %d", s.count("first"), s.count("second"))
	}
	if it, _ := q.Get(ctx, second.ID); it.Status != StatusPending || it.Attempts != 0 {
		t.Fatalf("second overtook the first: %+v", it)
	}
	clock.Advance(time.Second)
	it, err := q.Wait(ctx, first.ID)
	if err != nil || it.Attempts != 2 || it.Delivery.MessageID != "m-first" {
		t.Fatalf("first = %+v, %v", it, err)
	}
	if _, err := q.Wait(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.texts("1"); !slices.Equal(got, []string{"first", "first", "second"}) {
		t.Fatalf("chat 1 saw %v", got)
	}
}

func TestBackoffAndExhaustedAttempts(t *testing.T) {
	ctx := waitCtx(t)
	clock := newClock()
	clock.auto = true
	var mu sync.Mutex
	var at []time.Time
	s := &fakeSender{fn: func(int, call) (channel.Delivery, error) {
		mu.Lock()
		at = append(at, clock.Now())
		n := len(at)
		mu.Unlock()
		if n%2 == 0 {
			return channel.Delivery{}, errors.New("connection reset") // unclassified: retried
		}
		return channel.Delivery{}, channel.Transient(errors.New("502 bad gateway"), 0)
	}}
	failed := make(chan Item, 4)
	q := openQueue(t, openDB(t, dbPath(t)), s, Options{Now: clock.Now, After: clock.After, MaxAttempts: 5,
		BaseDelay: time.Second, MaxDelay: 3 * time.Second, OnFailed: func(it Item) { failed <- it }})
	it, _ := q.Enqueue(ctx, "", "telegram", msg("1", "doomed"))
	run(t, q)

	got, err := q.Wait(ctx, it.ID)
	if !errors.Is(err, ErrFailed) || got.Status != StatusFailed || got.Attempts != 5 ||
		!strings.Contains(got.LastError, "gave up after 5 attempts") || !strings.Contains(got.LastError, "502") {
		t.Fatalf("Wait = %+v, %v", got, err)
	}
	select {
	case f := <-failed:
		if f.ID != it.ID || f.Status != StatusFailed || f.LastError != got.LastError {
			t.Fatalf("OnFailed got %+v", f)
		}
	case <-ctx.Done():
		t.Fatal("OnFailed not called")
	}
	// Delays: 1s, 2s, then capped at 3s, each jittered to [d/2, d].
	mu.Lock()
	defer mu.Unlock()
	bounds := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	if len(at) != 5 {
		t.Fatalf("%d sends, want 5", len(at))
	}
	for i, d := range bounds {
		if gap := at[i+1].Sub(at[i]); gap < d/2 || gap > d {
			t.Fatalf("delay before attempt %d = %v, want within [%v, %v]", i+2, gap, d/2, d)
		}
	}
	fs, err := q.Failed(ctx, 10)
	if err != nil || len(fs) != 1 || fs[0].ID != it.ID {
		t.Fatalf("Failed = %+v, %v", fs, err)
	}
	if st, _ := q.Stats(ctx); st != (Stats{Failed: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestPermanentFailure(t *testing.T) {
	ctx := waitCtx(t)
	s := &fakeSender{fn: func(_ int, c call) (channel.Delivery, error) {
		switch c.text {
		case "blocked":
			return channel.Delivery{}, channel.Permanent(errors.New("403 bot was blocked by the user"))
		case "boom":
			panic("plugin bug")
		}
		return channel.Delivery{MessageID: "m-" + c.text}, nil
	}}
	var mu sync.Mutex
	var failed []Item
	q := openQueue(t, openDB(t, dbPath(t)), s, Options{OnFailed: func(it Item) {
		mu.Lock()
		failed = append(failed, it)
		mu.Unlock()
	}})
	a, _ := q.Enqueue(ctx, "", "telegram", msg("1", "blocked"))
	b, _ := q.Enqueue(ctx, "", "telegram", msg("1", "boom"))
	c, _ := q.Enqueue(ctx, "", "telegram", msg("1", "after"))
	run(t, q)

	for _, id := range []int64{a.ID, b.ID} {
		it, err := q.Wait(ctx, id)
		if !errors.Is(err, ErrFailed) || it.Attempts != 1 {
			t.Fatalf("Wait(%d) = %+v, %v", id, it, err)
		}
	}
	// A failed item does not hold up the chat.
	if it, err := q.Wait(ctx, c.ID); err != nil || it.Delivery.MessageID != "m-after" {
		t.Fatalf("after = %+v, %v", it, err)
	}
	eventually(t, "OnFailed for both", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(failed) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	// OnFailed runs as each item fails; the order between them is not fixed.
	sort.Slice(failed, func(i, j int) bool { return failed[i].ID < failed[j].ID })
	if failed[0].ID != a.ID || !strings.Contains(failed[0].LastError, "blocked by the user") ||
		failed[1].ID != b.ID || !strings.Contains(failed[1].LastError, "panicked: plugin bug") {
		t.Fatalf("OnFailed got %+v", failed)
	}
	if s.count("blocked") != 1 || s.count("boom") != 1 {
		t.Fatal("a permanent failure was retried")
	}

	// Retry queues a failed item again.
	s.mu.Lock()
	s.fn = nil
	s.mu.Unlock()
	if _, err := q.Retry(ctx, c.ID); err == nil {
		t.Fatal("Retry of a delivered item succeeded")
	}
	it, err := q.Retry(ctx, a.ID)
	if err != nil || it.Status != StatusPending || it.Attempts != 0 {
		t.Fatalf("Retry = %+v, %v", it, err)
	}
	if it, err := q.Wait(ctx, a.ID); err != nil || it.Delivery.MessageID != "m-blocked" {
		t.Fatalf("after Retry: %+v, %v", it, err)
	}
}

func TestCrashMidSend(t *testing.T) {
	path := dbPath(t)
	ctx := waitCtx(t)

	// The first gateway claims a message and is sending it when its
	// database goes away: the send finishes but cannot be recorded.
	db1 := openDB(t, path)
	entered := make(chan struct{})
	release := make(chan struct{})
	s1 := &fakeSender{fn: func(_ int, c call) (channel.Delivery, error) {
		close(entered)
		<-release
		return channel.Delivery{MessageID: "lost"}, nil
	}}
	q1 := openQueue(t, db1, s1, Options{})
	a, _ := q1.Enqueue(ctx, "a", "telegram", msg("1", "in flight"))
	b, _ := q1.Enqueue(ctx, "b", "telegram", msg("1", "queued behind"))
	stop1 := run(t, q1)
	<-entered
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}
	close(release)
	stop1()

	// The second gateway finds the claimed message and sends it again
	// (at-least-once), then the rest, each exactly once.
	db2 := openDB(t, path)
	s2 := &fakeSender{}
	q2 := openQueue(t, db2, s2, Options{})
	if it, _ := q2.Get(ctx, a.ID); it.Status != StatusSending || it.Attempts != 1 {
		t.Fatalf("after the crash: %+v", it)
	}
	stop2 := run(t, q2)
	for _, id := range []int64{a.ID, b.ID} {
		if it, err := q2.Wait(ctx, id); err != nil || it.Status != StatusDelivered {
			t.Fatalf("Wait(%d) = %+v, %v", id, it, err)
		}
	}
	it, _ := q2.Get(ctx, a.ID)
	if it.Attempts != 2 || it.Delivery.MessageID != "m-in flight" {
		t.Fatalf("resent item %+v", it)
	}
	stop2()
	if got := s2.texts(""); !slices.Equal(got, []string{"in flight", "queued behind"}) {
		t.Fatalf("second gateway sent %v", got)
	}
	if err := db2.Close(); err != nil {
		t.Fatal(err)
	}

	// A third start sends nothing.
	db3 := openDB(t, path)
	s3 := &fakeSender{}
	q3 := openQueue(t, db3, s3, Options{})
	stop3 := run(t, q3)
	// Enqueue after recovery and wait for it: by then Run has passed over
	// the delivered items.
	c, _ := q3.Enqueue(ctx, "c", "telegram", msg("1", "new"))
	if _, err := q3.Wait(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	stop3()
	if got := s3.texts(""); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("third gateway sent %v", got)
	}
}

func TestCrashWithAttemptsUsedFails(t *testing.T) {
	path := dbPath(t)
	ctx := waitCtx(t)
	db := openDB(t, path)
	q := openQueue(t, db, &fakeSender{}, Options{})
	it, _ := q.Enqueue(ctx, "", "telegram", msg("1", "x"))
	if _, err := db.ExecContext(ctx, `UPDATE outbox SET status = 'sending', attempts = 3 WHERE id = ?`, it.ID); err != nil {
		t.Fatal(err)
	}
	failed := make(chan Item, 1)
	s := &fakeSender{}
	q = openQueue(t, db, s, Options{MaxAttempts: 3, OnFailed: func(it Item) { failed <- it }})
	run(t, q)
	got, err := q.Wait(ctx, it.ID)
	if !errors.Is(err, ErrFailed) || !strings.Contains(got.LastError, "interrupted") {
		t.Fatalf("Wait = %+v, %v", got, err)
	}
	select {
	case f := <-failed:
		if f.ID != it.ID {
			t.Fatalf("OnFailed(%+v)", f)
		}
	case <-ctx.Done():
		t.Fatal("OnFailed not called")
	}
	if s.total() != 0 {
		t.Fatal("sent an item without attempts left")
	}
}

func TestShutdownMidSend(t *testing.T) {
	ctx := waitCtx(t)
	db := openDB(t, dbPath(t))
	entered := make(chan struct{})
	s := &fakeSender{fn: func(n int, c call) (channel.Delivery, error) {
		if n == 0 {
			close(entered)
			time.Sleep(10 * time.Millisecond)
			return channel.Delivery{}, context.Canceled // the plugin saw its context end
		}
		return channel.Delivery{MessageID: "ok"}, nil
	}}
	q := openQueue(t, db, s, Options{})
	it, _ := q.Enqueue(ctx, "", "telegram", msg("1", "x"))
	stop := run(t, q)
	<-entered
	stop()
	got, _ := q.Get(ctx, it.ID)
	if got.Status != StatusPending || got.Attempts != 1 || !strings.Contains(got.LastError, "shutdown") {
		t.Fatalf("after shutdown: %+v", got)
	}
	run(t, q)
	if got, err := q.Wait(ctx, it.ID); err != nil || got.Delivery.MessageID != "ok" || got.Attempts != 2 {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
}

func TestSuccessAtShutdownIsRecorded(t *testing.T) {
	ctx := waitCtx(t)
	db := openDB(t, dbPath(t))
	entered := make(chan struct{})
	release := make(chan struct{})
	s := &fakeSender{fn: func(int, call) (channel.Delivery, error) {
		close(entered)
		<-release
		return channel.Delivery{MessageID: "done"}, nil
	}}
	q := openQueue(t, db, s, Options{})
	it, _ := q.Enqueue(ctx, "", "telegram", msg("1", "x"))
	stop := run(t, q)
	<-entered
	go func() {
		time.Sleep(5 * time.Millisecond)
		close(release)
	}()
	stop() // returns after the send finished
	if got, _ := q.Get(ctx, it.ID); got.Status != StatusDelivered || got.Delivery.MessageID != "done" {
		t.Fatalf("after shutdown: %+v", got)
	}
}

func TestWait(t *testing.T) {
	ctx := waitCtx(t)
	q := openQueue(t, openDB(t, dbPath(t)), &fakeSender{}, Options{})
	if _, err := q.Wait(ctx, 12345); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Wait(unknown) = %v", err)
	}
	it, _ := q.Enqueue(ctx, "", "telegram", msg("chat", "hi"))
	// Without Run nothing settles: Wait ends with its context.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if got, err := q.Wait(short, it.ID); !errors.Is(err, context.DeadlineExceeded) || got.Status != StatusPending {
		t.Fatalf("Wait without Run = %+v, %v", got, err)
	}
	res := make(chan Item, 1)
	go func() {
		got, err := q.Wait(ctx, it.ID)
		if err != nil {
			t.Error(err)
		}
		res <- got
	}()
	run(t, q)
	got := <-res
	if got.Status != StatusDelivered || got.Delivery != (channel.Delivery{MessageID: "m-hi", ChatID: "chat"}) {
		t.Fatalf("Wait = %+v", got)
	}
}

func TestPrune(t *testing.T) {
	ctx := waitCtx(t)
	clock := newClock()
	q := openQueue(t, openDB(t, dbPath(t)), &fakeSender{}, Options{Now: clock.Now, After: clock.After})
	old, _ := q.Enqueue(ctx, "old", "telegram", msg("1", "old"))
	run(t, q)
	if _, err := q.Wait(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	recent, _ := q.Enqueue(ctx, "recent", "telegram", msg("1", "recent"))
	if _, err := q.Wait(ctx, recent.ID); err != nil {
		t.Fatal(err)
	}
	n, err := q.Prune(ctx, clock.Now().Add(-time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if _, err := q.Get(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned item: %v", err)
	}
	if _, err := q.Get(ctx, recent.ID); err != nil {
		t.Fatal(err)
	}
	// Ids are not reused.
	next, _ := q.Enqueue(ctx, "next", "telegram", msg("1", "next"))
	if next.ID <= recent.ID {
		t.Fatalf("id %d reused", next.ID)
	}
}

func TestUndecodableItemFails(t *testing.T) {
	ctx := waitCtx(t)
	db := openDB(t, dbPath(t))
	failed := make(chan Item, 1)
	q := openQueue(t, db, &fakeSender{}, Options{OnFailed: func(it Item) { failed <- it }})
	a, _ := q.Enqueue(ctx, "", "telegram", msg("1", "a"))
	b, _ := q.Enqueue(ctx, "", "telegram", msg("1", "b"))
	if _, err := db.ExecContext(ctx, `UPDATE outbox SET msg_json = '{"To": 5}' WHERE id = ?`, a.ID); err != nil {
		t.Fatal(err)
	}
	run(t, q)
	if _, err := q.Wait(ctx, a.ID); !errors.Is(err, ErrFailed) {
		t.Fatalf("Wait(undecodable) = %v", err)
	}
	if _, err := q.Wait(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	<-failed
}
