package outbox

import "github.com/pincerhq/pincer/core/store"

// Domain is the store migration domain of this package.
const Domain = "outbox"

func init() {
	// lane groups the items that must be delivered in order (one chat of
	// one account). AUTOINCREMENT keeps ids unique after Prune, since
	// clients may hold them.
	store.Register(store.Migration{Domain: Domain, Version: 1, SQL: `
CREATE TABLE outbox (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	key                TEXT    NOT NULL UNIQUE,
	channel            TEXT    NOT NULL,
	account_id         TEXT    NOT NULL DEFAULT '',
	lane               TEXT    NOT NULL,
	msg_json           TEXT    NOT NULL,
	status             TEXT    NOT NULL,
	attempts           INTEGER NOT NULL DEFAULT 0,
	next_attempt_at_ms INTEGER NOT NULL,
	last_error         TEXT    NOT NULL DEFAULT '',
	delivery_json      TEXT    NOT NULL DEFAULT '',
	created_at_ms      INTEGER NOT NULL,
	updated_at_ms      INTEGER NOT NULL
);
CREATE INDEX outbox_active ON outbox(lane, id) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_status ON outbox(status, updated_at_ms);`})
}
