package channels

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/store"
)

// IngressDomain is the store migration domain of the inbound queue.
const IngressDomain = "channel_ingress"

func init() {
	// Every inbound message is committed here before the plugin
	// acknowledges it to its platform (a Telegram offset advances only
	// after the handler returns), so a crash never loses one; the
	// (channel, account, event) key makes a redelivery a no-op.
	store.Register(store.Migration{Domain: IngressDomain, Version: 1, SQL: `
CREATE TABLE channel_ingress (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	channel       TEXT    NOT NULL,
	account_id    TEXT    NOT NULL,
	event_key     TEXT    NOT NULL,
	inbound_json  TEXT    NOT NULL,
	status        TEXT    NOT NULL,
	run_id        TEXT    NOT NULL DEFAULT '',
	error         TEXT    NOT NULL DEFAULT '',
	created_at_ms INTEGER NOT NULL,
	updated_at_ms INTEGER NOT NULL,
	UNIQUE (channel, account_id, event_key)
);
CREATE INDEX channel_ingress_open ON channel_ingress(id) WHERE status IN ('pending', 'submitted');
CREATE INDEX channel_ingress_done ON channel_ingress(updated_at_ms) WHERE status IN ('done', 'dropped');`})
}

// Ingress row states.
const (
	ingressPending   = "pending"   // received, not yet handed to an agent
	ingressSubmitted = "submitted" // the agent run is recorded (run_id); its reply is not queued yet
	ingressDone      = "done"      // answered (reply queued) or handled (command, pairing)
	ingressDropped   = "dropped"   // not processed: access denied, empty …
)

// ingressRow is one received message.
type ingressRow struct {
	ID     int64
	In     channel.Inbound
	Status string
	RunID  string
}

// ingress is the durable inbound queue.
type ingress struct{ db *store.DB }

// eventKey identifies a platform event for dedupe.
func eventKey(in channel.Inbound) string {
	switch {
	case in.EventID != "":
		return "e:" + in.EventID
	case in.MessageID != "" && in.Edited:
		return fmt.Sprintf("m:%s:%s:edit:%d", in.Peer.ID, in.MessageID, in.Time.UnixNano())
	case in.MessageID != "":
		return "m:" + in.Peer.ID + ":" + in.MessageID
	}
	return fmt.Sprintf("t:%s:%s:%d", in.Peer.ID, in.Sender.ID, in.Time.UnixNano())
}

// add commits an inbound message; it reports false for a redelivery.
func (q *ingress) add(ctx context.Context, in channel.Inbound) (int64, bool, error) {
	raw := in.Raw
	in.Raw = nil // platform payloads can be large and are for debugging only
	body, err := json.Marshal(in)
	in.Raw = raw
	if err != nil {
		return 0, false, err
	}
	var id int64
	var added bool
	err = q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMilli()
		res, err := tx.ExecContext(ctx, `INSERT INTO channel_ingress (channel, account_id, event_key, inbound_json, status,
			created_at_ms, updated_at_ms) VALUES (?,?,?,?,?,?,?) ON CONFLICT(channel, account_id, event_key) DO NOTHING`,
			in.Channel, in.AccountID, eventKey(in), string(body), ingressPending, now, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		added = n > 0
		if added {
			id, err = res.LastInsertId()
		}
		return err
	})
	return id, added, err
}

// open returns the rows not finished yet, oldest first.
func (q *ingress) open(ctx context.Context) ([]ingressRow, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT id, inbound_json, status, run_id FROM channel_ingress
		WHERE status IN (?, ?) ORDER BY id`, ingressPending, ingressSubmitted)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ingressRow
	for rows.Next() {
		var r ingressRow
		var body string
		if err := rows.Scan(&r.ID, &body, &r.Status, &r.RunID); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &r.In); err != nil {
			// Cannot happen for rows this code wrote; keep the row, skip it.
			continue
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// mark moves rows to a state (and records the run id / error).
func (q *ingress) mark(ctx context.Context, ids []int64, status, runID, errText string) error {
	if len(ids) == 0 {
		return nil
	}
	return q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMilli()
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE channel_ingress SET status = ?, run_id = CASE WHEN ? = '' THEN run_id ELSE ? END,
				error = ?, updated_at_ms = ? WHERE id = ?`, status, runID, runID, errText, now, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// prune deletes finished rows older than before, keeping their dedupe
// role for that long.
func (q *ingress) prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM channel_ingress WHERE status IN (?, ?) AND updated_at_ms < ?`,
			ingressDone, ingressDropped, before.UnixMilli())
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
