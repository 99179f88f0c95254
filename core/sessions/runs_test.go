//go:build cgo

package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestRecordRunDuplicate(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	key := MainKey("main")
	r, err := s.RecordRun(ctx, Run{RunID: "idem-agent-1", SessionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != RunAccepted || r.AgentID != "main" || r.AcceptedAt != clk.now().UnixMilli() {
		t.Fatalf("run = %+v", r)
	}
	sess, err := s.Get(ctx, key)
	if err != nil || sess.Status != "running" || sess.LastRunID != "idem-agent-1" {
		t.Fatalf("session = %+v, %v", sess, err)
	}

	clk.advance(time.Second)
	dup, err := s.RecordRun(ctx, Run{RunID: "idem-agent-1", SessionKey: "agent:ops:main"})
	if !errors.Is(err, ErrRunExists) || dup == nil || dup.SessionKey != key || dup.AcceptedAt != r.AcceptedAt {
		t.Fatalf("duplicate = %+v, %v", dup, err)
	}
	if _, err := s.Get(ctx, "agent:ops:main"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a rejected duplicate created a session")
	}
	for _, bad := range []Run{{RunID: ""}, {RunID: "x", Status: "weird"}, {RunID: "y", SessionKey: "main"}} {
		if _, err := s.RecordRun(ctx, bad); err == nil {
			t.Errorf("RecordRun(%+v) accepted", bad)
		}
	}
	// A run without a session (e.g. an outbound send) is fine.
	if _, err := s.RecordRun(ctx, Run{RunID: "bare"}); err != nil {
		t.Fatal(err)
	}
}

func TestRunLifecycle(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	key := MainKey("main")
	if _, err := s.RecordRun(ctx, Run{RunID: "r1", SessionKey: key}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	started := clk.now().UnixMilli()
	u, err := s.UpdateRun(ctx, "r1", func(r *Run) { r.Status, r.StartedAt, r.RunID = RunRunning, started, "renamed" })
	if err != nil || u.RunID != "r1" || u.Status != RunRunning {
		t.Fatalf("UpdateRun = %+v, %v", u, err)
	}
	if _, err := s.UpdateRun(ctx, "r1", func(r *Run) { r.Status = "bogus" }); err == nil {
		t.Fatal("UpdateRun accepted a bad status")
	}
	if _, err := s.UpdateRun(ctx, "missing", func(*Run) {}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateRun missing: %v", err)
	}
	if _, err := s.FinishRun(ctx, "r1", RunRunning, nil, ""); err == nil {
		t.Fatal("FinishRun accepted an open status")
	}

	clk.advance(time.Second)
	final := json.RawMessage(`{"runId":"r1","status":"ok","summary":"completed"}`)
	f, err := s.FinishRun(ctx, "r1", RunOK, final, "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != RunOK || f.EndedAt != clk.now().UnixMilli() || f.StartedAt != started || string(f.Final) != string(final) {
		t.Fatalf("finished = %+v", f)
	}
	got, _ := s.GetRun(ctx, "r1")
	if string(got.Final) != string(final) || got.Active() {
		t.Fatalf("GetRun = %+v", got)
	}
	sess, _ := s.Get(ctx, key)
	if sess.Status != "done" || sess.AbortedLastRun {
		t.Fatalf("session after ok = %+v", sess)
	}
	again, err := s.FinishRun(ctx, "r1", RunError, nil, "late")
	if !errors.Is(err, ErrRunFinished) || again.Status != RunOK {
		t.Fatalf("second finish = %+v, %v", again, err)
	}
	if _, err := s.FinishRun(ctx, "nope", RunOK, nil, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finish missing: %v", err)
	}

	// An aborted run marks the session; a newer run's session state is
	// not overwritten when an older run finishes late.
	if _, err := s.RecordRun(ctx, Run{RunID: "r2", SessionKey: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordRun(ctx, Run{RunID: "r3", SessionKey: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishRun(ctx, "r2", RunAborted, nil, "stopped"); err != nil {
		t.Fatal(err)
	}
	if sess, _ := s.Get(ctx, key); sess.LastRunID != "r3" || sess.Status != "running" {
		t.Fatalf("older run overwrote the session: %+v", sess)
	}
	if _, err := s.FinishRun(ctx, "r3", RunAborted, nil, "stopped"); err != nil {
		t.Fatal(err)
	}
	if sess, _ := s.Get(ctx, key); sess.Status != "killed" || !sess.AbortedLastRun {
		t.Fatalf("session after abort = %+v", sess)
	}

	// Pruning keeps open runs.
	if _, err := s.RecordRun(ctx, Run{RunID: "open"}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	n, err := s.PruneRuns(ctx, clk.now().UnixMilli())
	if err != nil || n != 3 {
		t.Fatalf("PruneRuns = %d, %v", n, err)
	}
	if _, err := s.GetRun(ctx, "open"); err != nil {
		t.Fatal("pruned an open run")
	}
}

func TestRecoverInterruptedAfterCrash(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s, closeDB := openAt(t, path)
	key := MainKey("main")
	for _, id := range []string{"done", "accepted", "running"} {
		if _, err := s.RecordRun(ctx, Run{RunID: id, SessionKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.FinishRun(ctx, "done", RunOK, json.RawMessage(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRun(ctx, "running", func(r *Run) { r.Status = RunRunning }); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, key, userMsg("this turn was accepted before the crash"))
	closeDB() // the process dies: nobody finishes the open runs

	s2, _ := openAt(t, path)
	got, err := s2.RecoverInterrupted(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("recovered %+v", got)
	}
	for _, r := range got {
		if r.Status != RunError || r.Error != DefaultInterruptedReason || r.EndedAt == 0 {
			t.Fatalf("recovered run = %+v", r)
		}
		stored, _ := s2.GetRun(ctx, r.RunID)
		if stored.Status != RunError {
			t.Fatalf("stored = %+v", stored)
		}
	}
	if d, _ := s2.GetRun(ctx, "done"); d.Status != RunOK {
		t.Fatalf("finished run touched: %+v", d)
	}
	sess, _ := s2.Get(ctx, key)
	if sess.Status != "failed" || !sess.AbortedLastRun || sess.LastRunID != "running" {
		t.Fatalf("session after recovery = %+v", sess)
	}
	if p, _ := s2.History(ctx, key, HistoryOptions{}); p.Total != 1 {
		t.Fatal("the accepted turn was lost")
	}
	again, err := s2.RecoverInterrupted(ctx, "custom")
	if err != nil || len(again) != 0 {
		t.Fatalf("second recovery = %+v, %v", again, err)
	}
}
