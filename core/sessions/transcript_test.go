//go:build cgo

package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestAppendAssignsAndUpdatesSession(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	key := MainKey("main")
	now := clk.now().UnixMilli()

	out := mustAppend(t, s, key,
		Message{Role: RoleUser, Content: TextContent("hi there"), IdempotencyKey: "idem-1:user", SenderIsOwner: true},
		Message{Role: RoleAssistant, Content: json.RawMessage(`"plain text becomes parts"`), RunID: "idem-1", Timestamp: 42,
			Provider: "fake", Model: "fake-1", Usage: &Usage{Input: 10, Output: 5, CacheRead: 3}},
		Message{Role: "toolResult", ToolCallID: "c1", ToolName: "ls", Content: TextParts("x")},
	)
	if len(out) != 3 {
		t.Fatalf("got %d messages", len(out))
	}
	for i, m := range out {
		if m.Seq != int64(i+1) {
			t.Errorf("message %d seq %d", i, m.Seq)
		}
		if _, err := uuid.Parse(m.ID); err != nil {
			t.Errorf("message %d id %q", i, m.ID)
		}
	}
	if out[0].Timestamp != now || out[1].Timestamp != 42 {
		t.Errorf("timestamps %d %d", out[0].Timestamp, out[1].Timestamp)
	}
	if string(out[1].Content) != `[{"text":"plain text becomes parts","type":"text"}]` {
		t.Errorf("assistant content %s", out[1].Content)
	}
	if out[1].Usage.TotalTokens != 18 || out[2].Role != RoleTool {
		t.Errorf("usage %+v role %q", out[1].Usage, out[2].Role)
	}
	sess, _ := s.Get(ctx, key)
	if sess.UpdatedAt != now || sess.LastInteractionAt != now || sess.InputTokens != 10 || sess.OutputTokens != 5 ||
		sess.TotalTokens != 13 || sess.Model != "fake-1" || sess.ModelProvider != "fake" {
		t.Fatalf("session after append = %+v", sess)
	}

	// The seq continues; an assistant-only append moves updatedAt but not lastInteractionAt.
	clk.advance(time.Second)
	more := mustAppend(t, s, key, assistantMsg("later"))
	sess, _ = s.Get(ctx, key)
	if more[0].Seq != 4 || sess.UpdatedAt != clk.now().UnixMilli() || sess.LastInteractionAt != now {
		t.Fatalf("seq %d, session %+v", more[0].Seq, sess)
	}

	// A retried user message (same idempotency key) is not stored twice.
	again := mustAppend(t, s, key, Message{Role: RoleUser, Content: TextContent("hi there"), IdempotencyKey: "idem-1:user"})
	if again[0].Seq != 1 || again[0].ID != out[0].ID {
		t.Fatalf("duplicate append returned %+v", again[0])
	}
	if p, _ := s.History(ctx, key, HistoryOptions{}); p.Total != 4 {
		t.Fatalf("total after duplicate = %d", p.Total)
	}
}

func TestAppendRejectsBadInputAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	key := MainKey("main")
	mustAppend(t, s, key, userMsg("first"))
	for i, bad := range []Message{
		{Role: "", Content: TextContent("x")},
		{Role: "robot", Content: TextContent("x")},
		{Role: RoleUser, Content: json.RawMessage(`{"not":"allowed"}`)},
		{Role: RoleUser, Content: json.RawMessage(`"unterminated`)},
		{Role: RoleAssistant, Content: json.RawMessage(`42`)},
		{Role: RoleUser, Content: TextContent("x"), Kind: "weird"},
	} {
		if _, err := s.Append(ctx, key, userMsg("good one first"), bad); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	dup := mustAppend(t, s, key, userMsg("with id"))
	if _, err := s.Append(ctx, key, userMsg("ok"), Message{Role: RoleUser, ID: dup[0].ID, Content: TextContent("clash")}); err == nil {
		t.Error("duplicate message id accepted")
	}
	p, _ := s.History(ctx, key, HistoryOptions{})
	if p.Total != 2 {
		t.Fatalf("a rejected append left messages behind: total %d", p.Total)
	}
	if _, err := s.Append(ctx, "main", userMsg("x")); err == nil {
		t.Error("short key accepted")
	}
	if out, err := s.Append(ctx, key); err != nil || out != nil {
		t.Errorf("empty append = %v, %v", out, err)
	}
}

func TestHistoryPaging(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	key := MainKey("main")

	if p, err := s.History(ctx, key, HistoryOptions{}); err != nil || len(p.Messages) != 0 || p.Total != 0 || p.HasMore || p.Messages == nil {
		t.Fatalf("unknown session page = %+v, %v", p, err)
	}
	var batch []Message
	for i := 1; i <= 25; i++ {
		batch = append(batch, userMsg(fmt.Sprintf("m%02d", i)))
	}
	mustAppend(t, s, key, batch...)

	p, err := s.History(ctx, key, HistoryOptions{})
	if err != nil || len(p.Messages) != 25 || p.HasMore || p.Total != 25 || p.NextBefore != 0 {
		t.Fatalf("full page: %d messages, %+v, %v", len(p.Messages), p, err)
	}

	// Walk back in pages of 10: 16..25, 6..15, 1..5.
	var seen []int64
	before := int64(0)
	for pages := 0; ; pages++ {
		p, err := s.History(ctx, key, HistoryOptions{Limit: 10, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 25 {
			t.Fatalf("total %d", p.Total)
		}
		for i := 1; i < len(p.Messages); i++ {
			if p.Messages[i].Seq != p.Messages[i-1].Seq+1 {
				t.Fatalf("page not oldest-first: %v", seqs(p.Messages))
			}
		}
		seen = append(append([]int64{}, seqs(p.Messages)...), seen...)
		if pages == 0 && (p.Messages[0].Seq != 16 || p.Messages[9].Seq != 25 || !p.HasMore || p.NextBefore != 16) {
			t.Fatalf("newest page = %v hasMore %v next %d", seqs(p.Messages), p.HasMore, p.NextBefore)
		}
		if !p.HasMore {
			if len(p.Messages) != 5 || p.NextBefore != 0 {
				t.Fatalf("last page = %v next %d", seqs(p.Messages), p.NextBefore)
			}
			break
		}
		before = p.NextBefore
	}
	if len(seen) != 25 || seen[0] != 1 || seen[24] != 25 {
		t.Fatalf("walk saw %v", seen)
	}
	if p, _ := s.History(ctx, key, HistoryOptions{Limit: 5000}); len(p.Messages) != 25 {
		t.Fatal("limit over the maximum")
	}
	if p, _ := s.History(ctx, key, HistoryOptions{Before: 1}); len(p.Messages) != 0 || p.HasMore {
		t.Fatalf("before the first message = %+v", p)
	}
}

func TestHistoryByteCap(t *testing.T) {
	s, _ := newStore(t)
	key := MainKey("main")
	big := strings.Repeat("x", 1000)
	for i := 0; i < 10; i++ {
		mustAppend(t, s, key, userMsg(fmt.Sprintf("%d:%s", i, big)))
	}
	one := wireLen(t, mustHistory(t, s, key, HistoryOptions{Limit: 1}).Messages[0])

	// Room for three and a half messages: three whole ones come back.
	p := mustHistory(t, s, key, HistoryOptions{MaxBytes: one*3 + one/2})
	if len(p.Messages) != 3 || !p.HasMore || p.NextBefore != 8 || p.Messages[0].Seq != 8 || p.Total != 10 {
		t.Fatalf("capped page = %v hasMore %v next %d", seqs(p.Messages), p.HasMore, p.NextBefore)
	}
	for _, m := range p.Messages {
		if !strings.HasSuffix(m.Text(), big) {
			t.Fatal("a message was cut")
		}
	}
	// Exactly three fits too.
	if p := mustHistory(t, s, key, HistoryOptions{MaxBytes: one * 3}); len(p.Messages) != 3 {
		t.Fatalf("exact cap = %d messages", len(p.Messages))
	}
	// A cap below one message still returns the newest message whole.
	p = mustHistory(t, s, key, HistoryOptions{MaxBytes: 10})
	if len(p.Messages) != 1 || p.Messages[0].Seq != 10 || !p.HasMore || !strings.HasSuffix(p.Messages[0].Text(), big) {
		t.Fatalf("tiny cap = %v", seqs(p.Messages))
	}
	// Byte cap and cursor together.
	p = mustHistory(t, s, key, HistoryOptions{MaxBytes: one * 2, Before: 3})
	if fmt.Sprint(seqs(p.Messages)) != "[1 2]" || p.HasMore {
		t.Fatalf("cap+cursor = %v hasMore %v", seqs(p.Messages), p.HasMore)
	}
}

func TestAppendDurableAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	s, closeDB := openAt(t, path)
	key := "agent:main:webchat:dm:me"
	var want []string
	for i := 0; i < 50; i++ {
		out := mustAppend(t, s, key, userMsg(fmt.Sprintf("u%d", i)), assistantMsg(fmt.Sprintf("a%d", i)))
		want = append(want, out[0].ID, out[1].ID)
	}
	before, _ := s.Get(ctx, key)
	closeDB()

	s2, _ := openAt(t, path)
	p, err := s2.History(ctx, key, HistoryOptions{Limit: 1000})
	if err != nil || p.Total != 100 || len(p.Messages) != 100 {
		t.Fatalf("after reopen: %d/%d, %v", len(p.Messages), p.Total, err)
	}
	for i, m := range p.Messages {
		if m.ID != want[i] || m.Seq != int64(i+1) {
			t.Fatalf("message %d = %+v", i, m)
		}
	}
	if p.Messages[99].Text() != "a49" || p.Messages[99].Usage == nil || p.Messages[99].Usage.Input != 10 {
		t.Fatalf("last message = %+v", p.Messages[99])
	}
	after, _ := s2.Get(ctx, key)
	if after.SessionID != before.SessionID || after.UpdatedAt != before.UpdatedAt {
		t.Fatalf("session changed across reopen: %+v vs %+v", after, before)
	}
}

func TestConcurrentAppendsKeepSeqUnique(t *testing.T) {
	s, _ := newStore(t)
	key := MainKey("main")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if _, err := s.Append(context.Background(), key, userMsg(fmt.Sprintf("%d-%d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	p := mustHistory(t, s, key, HistoryOptions{Limit: 1000})
	if p.Total != 80 {
		t.Fatalf("total %d", p.Total)
	}
	for i, m := range p.Messages {
		if m.Seq != int64(i+1) {
			t.Fatalf("seqs %v", seqs(p.Messages))
		}
	}
}

func mustHistory(t *testing.T, s *Store, key string, opt HistoryOptions) HistoryPage {
	t.Helper()
	p, err := s.History(context.Background(), key, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func seqs(ms []Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func wireLen(t *testing.T, m Message) int {
	b, err := json.Marshal(Wire(m))
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func TestHistoryReturnsWhatAppendStored(t *testing.T) {
	s, _ := newStore(t)
	key := "agent:main:tooltest"
	in := make([]Message, len(storedHistory))
	for i, m := range storedHistory {
		m.Seq = 0
		in[i] = m
	}
	out := mustAppend(t, s, key, in...)
	p := mustHistory(t, s, key, HistoryOptions{})
	if len(p.Messages) != len(out) {
		t.Fatalf("%d vs %d", len(p.Messages), len(out))
	}
	for i := range out {
		if !reflect.DeepEqual(p.Messages[i], out[i]) {
			t.Errorf("message %d:\n history %+v\n  append %+v", i, p.Messages[i], out[i])
		}
		w := Wire(p.Messages[i])
		if w["__openclaw"].(map[string]any)["id"] != storedHistory[i].ID {
			t.Errorf("message %d lost its id", i)
		}
	}
}
