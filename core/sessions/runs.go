package sessions

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Run statuses. Accepted and running runs are open; the rest are final.
const (
	RunAccepted = "accepted"
	RunRunning  = "running"
	RunOK       = "ok"
	RunError    = "error"
	RunTimeout  = "timeout"
	RunAborted  = "aborted"
)

var (
	// ErrRunExists is returned by RecordRun, with the stored run, when the
	// runId (the caller's idempotency key) was seen before.
	ErrRunExists = errors.New("sessions: run already recorded")
	// ErrRunFinished is returned by FinishRun for a run that already ended.
	ErrRunFinished = errors.New("sessions: run already finished")
)

// DefaultInterruptedReason is RecoverInterrupted's error text when the
// caller gives none.
const DefaultInterruptedReason = "the gateway stopped while this run was in progress; send the message again"

// Run is the durable record of one agent run. Times are Unix milliseconds.
type Run struct {
	RunID      string          `json:"runId"`
	SessionKey string          `json:"sessionKey,omitempty"`
	AgentID    string          `json:"agentId,omitempty"`
	Status     string          `json:"status"`
	AcceptedAt int64           `json:"acceptedAt"`
	StartedAt  int64           `json:"startedAt,omitempty"`
	EndedAt    int64           `json:"endedAt,omitempty"`
	Final      json.RawMessage `json:"final,omitempty"` // the final response payload, replayed for duplicates
	Error      string          `json:"error,omitempty"`
}

// Active reports whether the run has not ended.
func (r Run) Active() bool { return r.Status == RunAccepted || r.Status == RunRunning }

const runCols = `run_id, session_key, agent_id, status, accepted_at_ms, started_at_ms, ended_at_ms, final_json, error`

func scanRun(r scanner) (*Run, error) {
	var x Run
	var final string
	if err := r.Scan(&x.RunID, &x.SessionKey, &x.AgentID, &x.Status, &x.AcceptedAt, &x.StartedAt, &x.EndedAt, &final, &x.Error); err != nil {
		return nil, err
	}
	if final != "" {
		x.Final = json.RawMessage(final)
	}
	return &x, nil
}

func getRun(ctx context.Context, q querier, runID string) (*Run, error) {
	x, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runCols+` FROM session_runs WHERE run_id = ?`, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return x, err
}

func putRun(ctx context.Context, q querier, r *Run) error {
	if len(r.Final) > 0 && !json.Valid(r.Final) {
		return errors.New("sessions: run final payload is not valid JSON")
	}
	_, err := q.ExecContext(ctx, `INSERT INTO session_runs (`+runCols+`) VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT(run_id) DO UPDATE SET session_key=excluded.session_key, agent_id=excluded.agent_id, status=excluded.status,
		accepted_at_ms=excluded.accepted_at_ms, started_at_ms=excluded.started_at_ms, ended_at_ms=excluded.ended_at_ms,
		final_json=excluded.final_json, error=excluded.error`,
		r.RunID, r.SessionKey, r.AgentID, r.Status, r.AcceptedAt, r.StartedAt, r.EndedAt, string(r.Final), r.Error)
	return err
}

func validStatus(s string) bool {
	switch s {
	case RunAccepted, RunRunning, RunOK, RunError, RunTimeout, RunAborted:
		return true
	}
	return false
}

// sessionStatus is what a session shows after its run ends with status.
func sessionStatus(runStatus string) string {
	switch runStatus {
	case RunAccepted, RunRunning:
		return "running"
	case RunOK:
		return "done"
	case RunTimeout:
		return "timeout"
	case RunAborted:
		return "killed"
	}
	return "failed"
}

// RecordRun stores a new run (Status defaults to "accepted", AcceptedAt to
// now, AgentID to the session key's agent) and, when it names a session,
// creates the session if needed and marks it running — all in one
// transaction, so an accepted run is never lost. A runId seen before is
// ErrRunExists together with the stored run.
func (s *Store) RecordRun(ctx context.Context, r Run) (*Run, error) {
	if strings.TrimSpace(r.RunID) == "" {
		return nil, errors.New("sessions: run without a runId")
	}
	if r.Status == "" {
		r.Status = RunAccepted
	}
	if !validStatus(r.Status) {
		return nil, fmt.Errorf("sessions: unknown run status %q", r.Status)
	}
	if r.SessionKey != "" {
		agentID, err := validKey(r.SessionKey)
		if err != nil {
			return nil, err
		}
		if r.AgentID == "" {
			r.AgentID = agentID
		}
	}
	if r.AcceptedAt == 0 {
		r.AcceptedAt = s.nowMs()
	}
	var out *Run
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		prev, err := getRun(ctx, tx, r.RunID)
		if err == nil {
			out = prev
			return ErrRunExists
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := putRun(ctx, tx, &r); err != nil {
			return err
		}
		out = &r
		if r.SessionKey == "" {
			return nil
		}
		sess, err := s.ensureTx(ctx, tx, r.SessionKey)
		if err != nil {
			return err
		}
		sess.LastRunID, sess.Status, sess.UpdatedAt = r.RunID, sessionStatus(r.Status), s.nowMs()
		return putSession(ctx, tx, sess, false)
	})
	if errors.Is(err, ErrRunExists) {
		return out, err
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetRun returns a run, or ErrNotFound.
func (s *Store) GetRun(ctx context.Context, runID string) (*Run, error) {
	return getRun(ctx, s.db, runID)
}

// UpdateRun applies fn to a run and saves it (RunID cannot change).
func (s *Store) UpdateRun(ctx context.Context, runID string, fn func(*Run)) (*Run, error) {
	var out *Run
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		cur, err := getRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		next := *cur
		fn(&next)
		next.RunID = cur.RunID
		if !validStatus(next.Status) {
			return fmt.Errorf("sessions: unknown run status %q", next.Status)
		}
		if err := putRun(ctx, tx, &next); err != nil {
			return err
		}
		out = &next
		return nil
	})
	return out, err
}

// FinishRun ends a run with a final status (ok, error, timeout, aborted),
// its final payload and error text, and updates its session's status,
// lastRunId and abortedLastRun in the same transaction. A run that already
// ended is ErrRunFinished (with the stored run).
func (s *Store) FinishRun(ctx context.Context, runID, status string, final json.RawMessage, errText string) (*Run, error) {
	if !validStatus(status) || status == RunAccepted || status == RunRunning {
		return nil, fmt.Errorf("sessions: %q is not a final run status (want ok, error, timeout or aborted)", status)
	}
	var out *Run
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		cur, err := getRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		if !cur.Active() {
			out = cur
			return ErrRunFinished
		}
		next := *cur
		next.Status, next.Error, next.EndedAt = status, errText, s.nowMs()
		next.Final = append(json.RawMessage(nil), final...)
		if err := putRun(ctx, tx, &next); err != nil {
			return err
		}
		out = &next
		return s.endSessionRun(ctx, tx, &next)
	})
	if errors.Is(err, ErrRunFinished) {
		return out, err
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// endSessionRun reflects a finished run on its session, unless a later run
// has taken the session over.
func (s *Store) endSessionRun(ctx context.Context, tx *sql.Tx, r *Run) error {
	if r.SessionKey == "" {
		return nil
	}
	sess, err := getSession(ctx, tx, r.SessionKey)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if sess.LastRunID != "" && sess.LastRunID != r.RunID {
		return nil
	}
	sess.LastRunID = r.RunID
	sess.Status = sessionStatus(r.Status)
	sess.AbortedLastRun = r.Status != RunOK
	sess.UpdatedAt = s.nowMs()
	return putSession(ctx, tx, sess, false)
}

// RecoverInterrupted ends every run a crash left accepted or running: each
// becomes "error" with reason as its error text (DefaultInterruptedReason
// when empty), and its session shows the failure. It returns the runs it
// ended. The gateway calls it once at startup, before accepting runs.
func (s *Store) RecoverInterrupted(ctx context.Context, reason string) ([]Run, error) {
	if strings.TrimSpace(reason) == "" {
		reason = DefaultInterruptedReason
	}
	var out []Run
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `SELECT `+runCols+` FROM session_runs WHERE status IN (?, ?) ORDER BY accepted_at_ms, run_id`,
			RunAccepted, RunRunning)
		if err != nil {
			return err
		}
		var open []Run
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				rows.Close()
				return err
			}
			open = append(open, *r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		now := s.nowMs()
		for _, r := range open {
			r.Status, r.Error, r.EndedAt = RunError, reason, now
			if err := putRun(ctx, tx, &r); err != nil {
				return err
			}
			if err := s.endSessionRun(ctx, tx, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PruneRuns deletes finished runs that ended before the given Unix
// millisecond time and reports how many it removed. Open runs are kept.
func (s *Store) PruneRuns(ctx context.Context, endedBefore int64) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM session_runs WHERE status NOT IN (?, ?) AND ended_at_ms < ?`,
			RunAccepted, RunRunning, endedBefore)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
