package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/store"
)

// Item statuses.
const (
	StatusPending   = "pending"   // waiting for its turn or its retry time
	StatusSending   = "sending"   // handed to the sender
	StatusDelivered = "delivered" // the platform accepted it
	StatusFailed    = "failed"    // given up; LastError says why
)

var (
	// ErrNotFound means no item has the given id.
	ErrNotFound = errors.New("outbox: no such item")
	// ErrFailed is what Wait returns (wrapped, with the item) for an item
	// that failed for good.
	ErrFailed = errors.New("outbox: delivery failed")
)

// Sender delivers one message on a channel; the channel manager implements
// it. Errors follow channel.Plugin.Send: channel.Transient (retried),
// channel.Permanent (not retried); other errors are retried.
type Sender interface {
	Send(ctx context.Context, channelID string, msg channel.Outbound) (channel.Delivery, error)
}

// Item is one queued message.
type Item struct {
	ID int64
	// Key is the idempotency key, unique in the queue.
	Key           string
	Channel       string
	AccountID     string
	Msg           channel.Outbound
	Attempts      int // sends started
	NextAttemptAt time.Time
	Status        string // StatusPending | StatusSending | StatusDelivered | StatusFailed
	LastError     string
	Delivery      channel.Delivery // set when delivered
	CreatedAt     time.Time
	UpdatedAt     time.Time

	bad error // the stored message could not be decoded
}

// Stats counts items per status.
type Stats struct {
	Pending, Sending, Delivered, Failed int
}

// Options tune a Queue. Zero values take the defaults.
type Options struct {
	Log *slog.Logger
	// MaxAttempts is how many sends an item gets before it fails (8).
	MaxAttempts int
	// BaseDelay is the first retry delay, doubled per attempt (1s), and
	// MaxDelay caps it (5m). Each delay is jittered to between half and
	// all of it. A platform's RetryAfter replaces the computed delay.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// Workers bounds the sends in flight across conversations (8).
	Workers int
	// SendTimeout bounds one send (2m); a send that times out is retried.
	SendTimeout time.Duration
	// OnFailed is called (from a delivery goroutine; it must not block for
	// long) with an item that failed for good.
	OnFailed func(Item)
	// Now and After replace the clock (tests).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// maxRetryAfter caps how long a platform can make an item wait.
const maxRetryAfter = 24 * time.Hour

// Queue is the outbound queue over the state database.
type Queue struct {
	db  *store.DB
	s   Sender
	opt Options
	log *slog.Logger

	wake chan struct{} // tells Run that something is due

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) when items settle
	running bool
	unsaved []result // outcomes the database did not take yet
}

// Open returns a Queue over db. The schema is applied by store.Open (this
// package registers its migration in init); Open only checks that it was.
func Open(ctx context.Context, db *store.DB, s Sender, opt Options) (*Queue, error) {
	if db == nil || db.DB == nil {
		return nil, errors.New("outbox: nil database")
	}
	if s == nil {
		return nil, errors.New("outbox: nil sender")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE domain = ?`, Domain).Scan(&n); err != nil {
		return nil, fmt.Errorf("outbox: read schema version: %w", err)
	}
	if n == 0 {
		return nil, errors.New("outbox: the outbox schema is missing; the store was opened before this package was linked in")
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 8
	}
	if opt.BaseDelay <= 0 {
		opt.BaseDelay = time.Second
	}
	if opt.MaxDelay <= 0 {
		opt.MaxDelay = 5 * time.Minute
	}
	opt.MaxDelay = max(opt.MaxDelay, opt.BaseDelay)
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	if opt.SendTimeout <= 0 {
		opt.SendTimeout = 2 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.After == nil {
		opt.After = time.After
	}
	return &Queue{db: db, s: s, opt: opt, log: opt.Log, wake: make(chan struct{}, 1), changed: make(chan struct{})}, nil
}

func (q *Queue) nowMs() int64 { return q.opt.Now().UnixMilli() }

// lane names the conversation an item is ordered within.
func lane(channelID string, msg channel.Outbound) string {
	return channelID + "\x1f" + msg.AccountID + "\x1f" + msg.To.ID
}

// Enqueue queues msg for channelID under the idempotency key (a new one
// when key is empty). The item is committed before Enqueue returns. When
// the key is already queued, Enqueue returns that item, whatever its
// status, and queues nothing.
func (q *Queue) Enqueue(ctx context.Context, key, channelID string, msg channel.Outbound) (Item, error) {
	switch {
	case strings.TrimSpace(channelID) == "":
		return Item{}, errors.New("outbox: enqueue: no channel")
	case strings.TrimSpace(msg.To.ID) == "":
		return Item{}, errors.New("outbox: enqueue: no recipient")
	case strings.TrimSpace(msg.Text) == "" && len(msg.Media) == 0:
		return Item{}, errors.New("outbox: enqueue: empty message")
	}
	if key == "" {
		key = uuid.NewString()
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return Item{}, fmt.Errorf("outbox: enqueue: %w", err)
	}
	var it Item
	err = q.withTx(ctx, func(tx *sql.Tx) error {
		now := q.nowMs()
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (key, channel, account_id, lane, msg_json, status,
			next_attempt_at_ms, created_at_ms, updated_at_ms) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(key) DO NOTHING`,
			key, channelID, msg.AccountID, lane(channelID, msg), string(body), StatusPending, now, now, now); err != nil {
			return err
		}
		var err error
		it, err = scanItem(tx.QueryRowContext(ctx, `SELECT `+itemCols+` FROM outbox WHERE key = ?`, key))
		return err
	})
	if err != nil {
		return Item{}, fmt.Errorf("outbox: enqueue: %w", err)
	}
	q.kick()
	return it, nil
}

// Get returns the item with id.
func (q *Queue) Get(ctx context.Context, id int64) (Item, error) {
	it, err := scanItem(q.db.QueryRowContext(ctx, `SELECT `+itemCols+` FROM outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	return it, err
}

// Wait blocks until the item is delivered (it returns the item, with the
// platform's Delivery) or failed (the item and an error wrapping
// ErrFailed), or ctx ends. Items settle only while Run runs.
func (q *Queue) Wait(ctx context.Context, id int64) (Item, error) {
	for {
		q.mu.Lock()
		ch := q.changed
		q.mu.Unlock()
		it, err := q.Get(ctx, id)
		if err != nil {
			return it, err
		}
		switch it.Status {
		case StatusDelivered:
			return it, nil
		case StatusFailed:
			return it, fmt.Errorf("%w: %s", ErrFailed, it.LastError)
		}
		select {
		case <-ctx.Done():
			return it, ctx.Err()
		case <-ch:
		}
	}
}

// Failed returns up to limit (default 100) failed items, the most recent
// first.
func (q *Queue) Failed(ctx context.Context, limit int) ([]Item, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := q.db.QueryContext(ctx, `SELECT `+itemCols+` FROM outbox WHERE status = ?
		ORDER BY updated_at_ms DESC, id DESC LIMIT ?`, StatusFailed, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Stats counts the items per status.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM outbox GROUP BY status`)
	if err != nil {
		return Stats{}, err
	}
	defer rows.Close()
	var st Stats
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return Stats{}, err
		}
		switch s {
		case StatusPending:
			st.Pending = n
		case StatusSending:
			st.Sending = n
		case StatusDelivered:
			st.Delivered = n
		case StatusFailed:
			st.Failed = n
		}
	}
	return st, rows.Err()
}

// Retry queues a failed item again with fresh attempts.
func (q *Queue) Retry(ctx context.Context, id int64) (Item, error) {
	var it Item
	err := q.withTx(ctx, func(tx *sql.Tx) error {
		now := q.nowMs()
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, attempts = 0, next_attempt_at_ms = ?,
			updated_at_ms = ? WHERE id = ? AND status = ?`, StatusPending, now, now, id, StatusFailed)
		if err != nil {
			return err
		}
		it, err = scanItem(tx.QueryRowContext(ctx, `SELECT `+itemCols+` FROM outbox WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("outbox: item %d is %s, not failed", id, it.Status)
		}
		return nil
	})
	if err != nil {
		return Item{}, err
	}
	q.kick()
	return it, nil
}

// Prune deletes delivered and failed items last changed before before and
// reports how many went. Their idempotency keys are forgotten with them.
func (q *Queue) Prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := q.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE status IN (?, ?) AND updated_at_ms < ?`,
			StatusDelivered, StatusFailed, before.UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// kick wakes Run.
func (q *Queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// settled wakes Wait callers.
func (q *Queue) settled() {
	q.mu.Lock()
	close(q.changed)
	q.changed = make(chan struct{})
	q.mu.Unlock()
}

// Run delivers the queue until ctx ends, then waits for the sends in
// flight. Start it once per Queue; it first returns items a previous
// process left "sending" to the queue (see the package doc).
func (q *Queue) Run(ctx context.Context) {
	q.mu.Lock()
	if q.running {
		q.mu.Unlock()
		q.log.Error("outbox: Run called while already running")
		return
	}
	q.running = true
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.running = false
		q.mu.Unlock()
	}()

	if err := q.recoverInterrupted(ctx); err != nil && ctx.Err() == nil {
		q.log.Error("outbox: recover interrupted sends", "err", err)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	done := make(chan struct{}, q.opt.Workers)
	inflight := 0
	for {
		if ctx.Err() != nil {
			return
		}
		wait := time.Duration(-1) // no timer
		if !q.flushUnsaved(ctx) {
			wait = q.opt.BaseDelay
		}
		if free := q.opt.Workers - inflight; free > 0 {
			items, err := q.claim(ctx, free)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				q.log.Error("outbox: claim due messages", "err", err)
				wait = q.opt.BaseDelay
			}
			for _, it := range items {
				inflight++
				wg.Add(1)
				go func() {
					defer wg.Done()
					q.deliver(ctx, it)
					done <- struct{}{}
				}()
			}
			if err == nil {
				next, ok, err := q.nextDue(ctx)
				switch {
				case err != nil && ctx.Err() == nil:
					q.log.Error("outbox: read next due message", "err", err)
					wait = q.opt.BaseDelay
				case ok:
					d := min(max(next.Sub(q.opt.Now()), 0), q.opt.MaxDelay)
					if wait < 0 || d < wait {
						wait = d
					}
				}
			}
		}
		if wait == 0 {
			continue
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = q.opt.After(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-done:
			inflight--
		case <-timer:
		}
		for drained := false; !drained; {
			select {
			case <-done:
				inflight--
			default:
				drained = true
			}
		}
	}
}

// eligible selects the pending items that head their conversation: no
// earlier item of the same lane is still pending or being sent.
const eligible = `o.status = 'pending' AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.lane = o.lane
	AND p.status IN ('pending', 'sending') AND p.id < o.id)`

// claim marks up to n due items sending (one attempt more) and returns
// them, oldest first. Items whose message cannot be decoded fail here.
func (q *Queue) claim(ctx context.Context, n int) ([]Item, error) {
	var items []Item
	var bad []int64
	err := q.withTx(ctx, func(tx *sql.Tx) error {
		items, bad = items[:0], bad[:0]
		now := q.nowMs()
		rows, err := tx.QueryContext(ctx, `SELECT `+itemCols+` FROM outbox o WHERE `+eligible+`
			AND o.next_attempt_at_ms <= ? ORDER BY o.id LIMIT ?`, now, n)
		if err != nil {
			return err
		}
		var undecodable []Item
		for rows.Next() {
			it, err := scanItem(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if it.bad != nil {
				undecodable = append(undecodable, it)
				continue
			}
			items = append(items, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, it := range undecodable {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, last_error = ?, updated_at_ms = ? WHERE id = ?`,
				StatusFailed, it.bad.Error(), now, it.ID); err != nil {
				return err
			}
			bad = append(bad, it.ID)
		}
		for i := range items {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, attempts = attempts + 1, updated_at_ms = ?
				WHERE id = ?`, StatusSending, now, items[i].ID); err != nil {
				return err
			}
			items[i].Status = StatusSending
			items[i].Attempts++
			items[i].UpdatedAt = time.UnixMilli(now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		q.settled()
		for _, id := range bad {
			q.log.Error("outbox: stored message cannot be decoded; failing it", "id", id)
			q.reportFailed(ctx, id)
		}
	}
	return items, nil
}

// nextDue is when the earliest item that could be claimed is due.
func (q *Queue) nextDue(ctx context.Context) (time.Time, bool, error) {
	var ms sql.NullInt64
	if err := q.db.QueryRowContext(ctx, `SELECT MIN(o.next_attempt_at_ms) FROM outbox o WHERE `+eligible).Scan(&ms); err != nil {
		return time.Time{}, false, err
	}
	if !ms.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(ms.Int64), true, nil
}

// recoverInterrupted returns items left "sending" by a previous process to
// the queue (at-least-once: the platform may have them), or fails those
// without attempts left.
func (q *Queue) recoverInterrupted(ctx context.Context) error {
	// Outcomes a previous Run of this Queue could not save belong to
	// sends that did finish: save them, never send those items again.
	q.flushUnsaved(ctx)
	q.mu.Lock()
	keep := "-1"
	for _, r := range q.unsaved {
		keep += fmt.Sprintf(",%d", r.id)
	}
	q.mu.Unlock()
	var failed []int64
	var requeued int64
	err := q.withTx(ctx, func(tx *sql.Tx) error {
		failed = failed[:0]
		rows, err := tx.QueryContext(ctx, `SELECT id FROM outbox WHERE status = ? AND attempts >= ? AND id NOT IN (`+keep+`)`,
			StatusSending, q.opt.MaxAttempts)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			failed = append(failed, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		now := q.nowMs()
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, last_error = ?, updated_at_ms = ?
			WHERE status = ? AND attempts >= ? AND id NOT IN (`+keep+`)`, StatusFailed,
			fmt.Sprintf("interrupted while sending after %d attempts; the platform may have received it", q.opt.MaxAttempts),
			now, StatusSending, q.opt.MaxAttempts); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, next_attempt_at_ms = ?, updated_at_ms = ?
			WHERE status = ? AND id NOT IN (`+keep+`)`, StatusPending, now, now, StatusSending)
		if err != nil {
			return err
		}
		requeued, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if requeued > 0 {
		q.log.Warn("outbox: sending messages again that were in flight when the gateway stopped; a chat may show a duplicate",
			"count", requeued)
	}
	if len(failed) > 0 {
		q.settled()
		for _, id := range failed {
			q.reportFailed(ctx, id)
		}
	}
	return nil
}

// result is the recorded outcome of one send.
type result struct {
	id       int64
	status   string
	nextAt   int64
	lastErr  string
	delivery string
	at       int64
}

// deliver sends one claimed item and records the outcome right away.
func (q *Queue) deliver(ctx context.Context, it Item) {
	sctx, cancel := context.WithTimeout(ctx, q.opt.SendTimeout)
	d, err := q.send(sctx, it)
	cancel()

	now := q.opt.Now()
	r := result{id: it.ID, at: now.UnixMilli(), nextAt: it.NextAttemptAt.UnixMilli()}
	switch {
	case err == nil:
		b, _ := json.Marshal(d)
		r.status, r.delivery = StatusDelivered, string(b)
	case ctx.Err() != nil:
		// Shutdown interrupted the send: the next Run sends it again.
		r.status, r.nextAt, r.lastErr = StatusPending, now.UnixMilli(), "interrupted by shutdown: "+err.Error()
	case errors.Is(err, channel.ErrPermanent):
		r.status, r.lastErr = StatusFailed, err.Error()
	case it.Attempts >= q.opt.MaxAttempts:
		r.status, r.lastErr = StatusFailed, fmt.Sprintf("gave up after %d attempts: %v", it.Attempts, err)
	default:
		r.status, r.lastErr = StatusPending, err.Error()
		r.nextAt = now.Add(q.retryDelay(it.Attempts, err)).UnixMilli()
	}
	if err != nil {
		q.log.Warn("outbox: send failed", "id", it.ID, "channel", it.Channel, "attempt", it.Attempts,
			"status", r.status, "err", err)
	}

	// The outcome is written even when Run is stopping: losing a
	// "delivered" here would send the message again after a restart.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer wcancel()
	if err := q.save(wctx, r); err != nil {
		q.log.Error("outbox: record send outcome; keeping it to retry (the message stays claimed)",
			"id", it.ID, "status", r.status, "err", err)
		q.mu.Lock()
		q.unsaved = append(q.unsaved, r)
		q.mu.Unlock()
		q.kick()
		return
	}
	q.afterSave(wctx, r)
}

// send calls the sender, turning a panic into a permanent failure.
func (q *Queue) send(ctx context.Context, it Item) (d channel.Delivery, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = channel.Permanent(fmt.Errorf("channel %s send panicked: %v", it.Channel, p))
		}
	}()
	return q.s.Send(ctx, it.Channel, it.Msg)
}

// retryDelay is the wait before attempt n+1: the platform's RetryAfter,
// else BaseDelay doubled per attempt up to MaxDelay, jittered.
func (q *Queue) retryDelay(attempts int, err error) time.Duration {
	var se *channel.SendError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return min(se.RetryAfter, maxRetryAfter)
	}
	d := q.opt.BaseDelay
	for i := 1; i < attempts && d < q.opt.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, q.opt.MaxDelay)
	return d/2 + rand.N(d/2+1)
}

func (q *Queue) save(ctx context.Context, r result) error {
	return q.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, next_attempt_at_ms = ?, last_error = ?,
			delivery_json = ?, updated_at_ms = ? WHERE id = ? AND status = ?`,
			r.status, r.nextAt, r.lastErr, r.delivery, r.at, r.id, StatusSending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			q.log.Error("outbox: item was no longer sending when its outcome was recorded", "id", r.id)
		}
		return nil
	})
}

func (q *Queue) afterSave(ctx context.Context, r result) {
	q.settled()
	q.kick()
	if r.status == StatusFailed {
		q.reportFailed(ctx, r.id)
	}
}

// flushUnsaved retries writing outcomes; it reports whether none are left.
func (q *Queue) flushUnsaved(ctx context.Context) bool {
	q.mu.Lock()
	rs := q.unsaved
	q.unsaved = nil
	q.mu.Unlock()
	var left []result
	for _, r := range rs {
		if ctx.Err() != nil {
			left = append(left, r)
			continue
		}
		if err := q.save(ctx, r); err != nil {
			left = append(left, r)
			continue
		}
		q.afterSave(ctx, r)
	}
	if len(left) > 0 {
		q.mu.Lock()
		q.unsaved = append(left, q.unsaved...)
		q.mu.Unlock()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.unsaved) == 0
}

func (q *Queue) reportFailed(ctx context.Context, id int64) {
	if q.opt.OnFailed == nil {
		return
	}
	it, err := q.Get(ctx, id)
	if err != nil {
		q.log.Error("outbox: read failed item", "id", id, "err", err)
		return
	}
	q.opt.OnFailed(it)
}

// withTx runs fn in one write transaction (see store.DB.WriteTx).
func (q *Queue) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return q.db.WriteTx(ctx, fn)
}

const itemCols = `id, key, channel, account_id, msg_json, status, attempts, next_attempt_at_ms, last_error,
	delivery_json, created_at_ms, updated_at_ms`

type scanner interface{ Scan(dest ...any) error }

func scanItem(r scanner) (Item, error) {
	var it Item
	var msg, delivery string
	var next, created, updated int64
	if err := r.Scan(&it.ID, &it.Key, &it.Channel, &it.AccountID, &msg, &it.Status, &it.Attempts, &next,
		&it.LastError, &delivery, &created, &updated); err != nil {
		return Item{}, err
	}
	// A row this version cannot decode is still listed (and fails when
	// claimed) rather than breaking every query that reads it.
	if err := json.Unmarshal([]byte(msg), &it.Msg); err != nil {
		it.bad = fmt.Errorf("decode stored message: %w", err)
	}
	if delivery != "" {
		_ = json.Unmarshal([]byte(delivery), &it.Delivery)
	}
	it.NextAttemptAt, it.CreatedAt, it.UpdatedAt = time.UnixMilli(next), time.UnixMilli(created), time.UnixMilli(updated)
	return it, nil
}
