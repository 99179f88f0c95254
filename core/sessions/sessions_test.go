//go:build cgo

package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestEnsureGetUpdate(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	key := MainKey("main")

	if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Ensure: %v", err)
	}
	a, err := s.Ensure(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(a.SessionID); err != nil {
		t.Fatalf("sessionId %q: %v", a.SessionID, err)
	}
	if a.AgentID != "main" || a.Kind != "direct" || a.ChatType != "direct" || a.DisplayName != "main" || a.CreatedAt != clk.now().UnixMilli() {
		t.Fatalf("new session = %+v", a)
	}
	b, err := s.Ensure(ctx, key)
	if err != nil || b.SessionID != a.SessionID {
		t.Fatalf("second Ensure changed the session: %+v, %v", b, err)
	}
	g, _ := s.Ensure(ctx, "agent:ops:telegram:group:-100")
	if g.Kind != "group" || g.AgentID != "ops" || g.DisplayName != "" {
		t.Fatalf("group session = %+v", g)
	}

	clk.advance(time.Second)
	u, err := s.Update(ctx, key, func(x *Session) {
		x.Label = "inbox"
		x.SessionID = "hijack"
		x.AgentID = "other"
		x.LastRoute = json.RawMessage(`{"channel":"telegram","to":"42"}`)
		x.CompactionSeq = 99
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Label != "inbox" || u.SessionID != a.SessionID || u.AgentID != "main" || u.CompactionSeq != 0 || u.UpdatedAt != clk.now().UnixMilli() {
		t.Fatalf("Update = %+v", u)
	}
	got, _ := s.Get(ctx, key)
	if got.Label != "inbox" || string(got.LastRoute) != `{"channel":"telegram","to":"42"}` {
		t.Fatalf("after Update Get = %+v", got)
	}
	if _, err := s.Update(ctx, "agent:main:nope", func(*Session) {}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update missing: %v", err)
	}
	if _, err := s.Update(ctx, key, func(x *Session) { x.LastRoute = json.RawMessage(`{bad`) }); err == nil {
		t.Fatal("Update accepted invalid route JSON")
	}
	for _, bad := range []string{"main", "", "agent:main:", "agent:a b:main"} {
		if _, err := s.Ensure(ctx, bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Ensure(%q): %v", bad, err)
		}
	}
}

func TestListOrderingAndFilters(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	keys := []string{"agent:main:main", "agent:main:telegram:dm:1", "agent:ops:main", "agent:main:slack:channel:c1", "agent:ops:cron:job_1"}
	for _, k := range keys {
		clk.advance(time.Minute)
		if _, err := s.Ensure(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	// Touch the oldest: it becomes the newest.
	clk.advance(time.Minute)
	mustAppend(t, s, "agent:main:main", userMsg("hi"))
	clk.advance(time.Minute)
	if _, err := s.Update(ctx, "agent:main:slack:channel:c1", func(x *Session) { x.Label = "Team 50%_done" }); err != nil {
		t.Fatal(err)
	}

	all, total, err := s.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"agent:main:slack:channel:c1", "agent:main:main", "agent:ops:cron:job_1", "agent:ops:main", "agent:main:telegram:dm:1"}
	if total != 5 || fmt.Sprint(sessionKeys(all)) != fmt.Sprint(want) {
		t.Fatalf("List = %v (total %d), want %v", sessionKeys(all), total, want)
	}

	page, total, _ := s.List(ctx, ListOptions{Limit: 2, Offset: 1})
	if total != 5 || fmt.Sprint(sessionKeys(page)) != fmt.Sprint(want[1:3]) {
		t.Fatalf("page = %v (total %d)", sessionKeys(page), total)
	}
	ops, total, _ := s.List(ctx, ListOptions{AgentID: "ops"})
	if total != 2 || fmt.Sprint(sessionKeys(ops)) != fmt.Sprint([]string{"agent:ops:cron:job_1", "agent:ops:main"}) {
		t.Fatalf("agent filter = %v", sessionKeys(ops))
	}
	// Updated within 3 minutes of now: the two just touched and the last created.
	recent, total, _ := s.List(ctx, ListOptions{ActiveMinutes: 2})
	if total != 3 || fmt.Sprint(sessionKeys(recent)) != fmt.Sprint(want[:3]) {
		t.Fatalf("activeMinutes = %v (total %d)", sessionKeys(recent), total)
	}
	for _, tc := range []struct {
		q    string
		want int
	}{{"TELEGRAM", 1}, {"team 50%_", 1}, {"50%x", 0}, {"main", 4}, {"%", 1}, {"_", 2}, {"x%", 0}} {
		_, n, err := s.List(ctx, ListOptions{Search: tc.q})
		if err != nil || n != tc.want {
			t.Errorf("Search %q: %d matches, %v; want %d", tc.q, n, err, tc.want)
		}
	}
	if _, n, _ := s.List(ctx, ListOptions{Label: "Team 50%_done"}); n != 1 {
		t.Errorf("label filter: %d", n)
	}
	empty, n, err := s.List(ctx, ListOptions{AgentID: "nobody"})
	if err != nil || n != 0 || empty == nil || len(empty) != 0 {
		t.Fatalf("empty list = %#v, %d, %v", empty, n, err)
	}
}

func sessionKeys(ss []Session) []string {
	out := make([]string, len(ss))
	for i, x := range ss {
		out[i] = x.Key
	}
	return out
}

func TestResetKeepsOldTranscriptAside(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	key := MainKey("main")
	mustAppend(t, s, key, userMsg("one"), assistantMsg("two"))
	before, _ := s.Get(ctx, key)
	if _, err := s.Update(ctx, key, func(x *Session) { x.Label = "kept" }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordRun(ctx, Run{RunID: "r1", SessionKey: key}); err != nil {
		t.Fatal(err)
	}

	after, err := s.Reset(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if after.SessionID == before.SessionID || after.Label != "kept" || after.Model != "fake-1" ||
		after.InputTokens != 0 || after.TotalTokens != 0 || after.LastRunID != "" || after.Status != "" {
		t.Fatalf("after reset = %+v", after)
	}
	page, err := s.History(ctx, key, HistoryOptions{})
	if err != nil || len(page.Messages) != 0 || page.Total != 0 || page.SessionID != after.SessionID {
		t.Fatalf("history after reset = %+v, %v", page, err)
	}
	old, err := s.History(ctx, key, HistoryOptions{SessionID: before.SessionID})
	if err != nil || len(old.Messages) != 2 || old.Total != 2 {
		t.Fatalf("old transcript = %+v, %v", old, err)
	}
	// The old transcript is only reachable through its own key.
	if other, _ := s.History(ctx, "agent:main:other", HistoryOptions{SessionID: before.SessionID}); len(other.Messages) != 0 {
		t.Fatal("another key read the old transcript")
	}
	// Seq numbering starts over in the new transcript.
	got := mustAppend(t, s, key, userMsg("fresh"))
	if got[0].Seq != 1 {
		t.Fatalf("seq after reset = %d", got[0].Seq)
	}
	// Reset of a missing session creates it.
	if x, err := s.Reset(ctx, "agent:main:new"); err != nil || x.SessionID == "" {
		t.Fatalf("Reset missing = %+v, %v", x, err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	key := "agent:main:telegram:dm:7"
	mustAppend(t, s, key, userMsg("a"))
	old, _ := s.Get(ctx, key)
	if _, err := s.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, key, userMsg("b"))
	mustAppend(t, s, MainKey("main"), userMsg("other session"))
	if _, err := s.RecordRun(ctx, Run{RunID: "run-x", SessionKey: key}); err != nil {
		t.Fatal(err)
	}

	ok, err := s.Delete(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM session_messages WHERE session_key = ?`, key).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d messages left (current and reset transcripts should be gone), %v", n, err)
	}
	if p, _ := s.History(ctx, key, HistoryOptions{SessionID: old.SessionID}); len(p.Messages) != 0 {
		t.Fatal("old transcript survived delete")
	}
	r, err := s.GetRun(ctx, "run-x")
	if err != nil || r.SessionKey != "" {
		t.Fatalf("run after delete = %+v, %v", r, err)
	}
	if p, _ := s.History(ctx, MainKey("main"), HistoryOptions{}); p.Total != 1 {
		t.Fatal("delete touched another session")
	}
	if ok, err := s.Delete(ctx, key); ok || err != nil {
		t.Fatalf("second Delete = %v, %v", ok, err)
	}
}
