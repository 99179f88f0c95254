package sessions

import "github.com/pincerhq/pincer/core/store"

// Domain is the store migration domain of this package.
const Domain = "sessions"

func init() {
	store.Register(store.Migration{Domain: Domain, Version: 1, SQL: `
CREATE TABLE sessions (
	key                    TEXT PRIMARY KEY,
	session_id             TEXT    NOT NULL UNIQUE,
	agent_id               TEXT    NOT NULL,
	created_at_ms          INTEGER NOT NULL,
	updated_at_ms          INTEGER NOT NULL,
	last_interaction_at_ms INTEGER NOT NULL DEFAULT 0,
	display_name           TEXT    NOT NULL DEFAULT '',
	label                  TEXT    NOT NULL DEFAULT '',
	kind                   TEXT    NOT NULL DEFAULT '',
	chat_type              TEXT    NOT NULL DEFAULT '',
	model                  TEXT    NOT NULL DEFAULT '',
	model_provider         TEXT    NOT NULL DEFAULT '',
	input_tokens           INTEGER NOT NULL DEFAULT 0,
	output_tokens          INTEGER NOT NULL DEFAULT 0,
	total_tokens           INTEGER NOT NULL DEFAULT 0,
	status                 TEXT    NOT NULL DEFAULT '',
	last_run_id            TEXT    NOT NULL DEFAULT '',
	aborted_last_run       INTEGER NOT NULL DEFAULT 0,
	last_route_json        TEXT    NOT NULL DEFAULT '',
	compaction_seq         INTEGER NOT NULL DEFAULT 0,
	compaction_summary     TEXT    NOT NULL DEFAULT '',
	compaction_count       INTEGER NOT NULL DEFAULT 0,
	compacted_at_ms        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_updated ON sessions(updated_at_ms DESC, key);
CREATE INDEX sessions_agent_updated ON sessions(agent_id, updated_at_ms DESC, key);

-- One row per transcript message; a rowid table because records can be
-- large (images). session_key lets Delete also remove the transcripts of
-- earlier sessionIds, which a reset keeps.
CREATE TABLE session_messages (
	session_id      TEXT    NOT NULL,
	seq             INTEGER NOT NULL,
	id              TEXT    NOT NULL UNIQUE,
	session_key     TEXT    NOT NULL,
	role            TEXT    NOT NULL,
	idempotency_key TEXT    NOT NULL DEFAULT '',
	record_json     TEXT    NOT NULL,
	bytes           INTEGER NOT NULL,
	created_at_ms   INTEGER NOT NULL,
	PRIMARY KEY (session_id, seq)
);
CREATE INDEX session_messages_key ON session_messages(session_key);
CREATE INDEX session_messages_idem ON session_messages(session_id, idempotency_key, role) WHERE idempotency_key <> '';

CREATE TABLE session_runs (
	run_id         TEXT PRIMARY KEY,
	session_key    TEXT    NOT NULL DEFAULT '',
	agent_id       TEXT    NOT NULL DEFAULT '',
	status         TEXT    NOT NULL,
	accepted_at_ms INTEGER NOT NULL,
	started_at_ms  INTEGER NOT NULL DEFAULT 0,
	ended_at_ms    INTEGER NOT NULL DEFAULT 0,
	final_json     TEXT    NOT NULL DEFAULT '',
	error          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX session_runs_key ON session_runs(session_key);
CREATE INDEX session_runs_open ON session_runs(status) WHERE status IN ('accepted', 'running');`})
	store.Register(store.Migration{Domain: Domain, Version: 2, SQL: `
ALTER TABLE sessions ADD COLUMN model_override TEXT NOT NULL DEFAULT '';`})
}
