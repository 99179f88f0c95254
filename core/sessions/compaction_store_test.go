//go:build cgo

package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCompactAndModelContext(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	key := MainKey("main")

	if sum, msgs, err := s.ModelContext(ctx, key); err != nil || sum != "" || len(msgs) != 0 {
		t.Fatalf("unknown session context = %q, %v, %v", sum, msgs, err)
	}
	for i := 1; i <= 5; i++ {
		mustAppend(t, s, key, userMsg(fmt.Sprintf("q%d", i)), assistantMsg(fmt.Sprintf("a%d", i)))
	}
	var gotOlder []Message
	err := s.Compact(ctx, key, 4, func(_ context.Context, older []Message) (string, error) {
		gotOlder = older
		return "  The user asked q1..q3.  ", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs(gotOlder)) != "[1 2 3 4 5 6]" {
		t.Fatalf("summarized %v", seqs(gotOlder))
	}
	sum, msgs, err := s.ModelContext(ctx, key)
	if err != nil || sum != "The user asked q1..q3." || fmt.Sprint(seqs(msgs)) != "[7 8 9 10]" {
		t.Fatalf("context = %q %v %v", sum, seqs(msgs), err)
	}
	// History still has everything, plus the marker.
	p := mustHistory(t, s, key, HistoryOptions{})
	if p.Total != 11 {
		t.Fatalf("history total %d", p.Total)
	}
	marker := p.Messages[10]
	if marker.Kind != KindCompaction || marker.Role != RoleSystem || marker.Text() != "The user asked q1..q3." {
		t.Fatalf("marker = %+v", marker)
	}
	if w := Wire(marker); w["role"] != "system" || w["__openclaw"].(map[string]any)["kind"] != "compaction" {
		t.Fatalf("marker wire = %v", w)
	}
	if sess, _ := s.Get(ctx, key); sess.CompactionCount != 1 || sess.CompactionSeq != 6 {
		t.Fatalf("session = %+v", sess)
	}

	// New messages land after the marker; a second compaction carries the
	// first summary forward as the first "older" message.
	mustAppend(t, s, key, userMsg("q6"), assistantMsg("a6"))
	err = s.Compact(ctx, key, 2, func(_ context.Context, older []Message) (string, error) {
		gotOlder = older
		return "q1..q5 covered", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if gotOlder[0].Kind != KindCompaction || gotOlder[0].Text() != "The user asked q1..q3." ||
		fmt.Sprint(seqs(gotOlder[1:])) != "[7 8 9 10]" {
		t.Fatalf("second compaction saw %+v", gotOlder)
	}
	sum, msgs, _ = s.ModelContext(ctx, key)
	if sum != "q1..q5 covered" || fmt.Sprint(seqs(msgs)) != "[12 13]" {
		t.Fatalf("context after second compaction = %q %v", sum, seqs(msgs))
	}

	if err := s.Compact(ctx, key, 2, func(context.Context, []Message) (string, error) { return "x", nil }); !errors.Is(err, ErrNothingToCompact) {
		t.Fatalf("nothing to compact: %v", err)
	}
	if err := s.Compact(ctx, "agent:main:none", 0, func(context.Context, []Message) (string, error) { return "x", nil }); !errors.Is(err, ErrNothingToCompact) {
		t.Fatalf("unknown session: %v", err)
	}

	// Reset clears the compaction.
	if _, err := s.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	if sum, msgs, _ := s.ModelContext(ctx, key); sum != "" || len(msgs) != 0 {
		t.Fatalf("context after reset = %q %v", sum, msgs)
	}
}

func TestCompactKeepsToolPairsAndFailsCleanly(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	key := MainKey("main")
	call := Message{Role: RoleAssistant, Content: json.RawMessage(`[{"type":"toolCall","id":"c1","name":"ls","arguments":{}}]`)}
	mustAppend(t, s, key, userMsg("q1"), assistantMsg("a1"), userMsg("list files"), call,
		Message{Role: RoleTool, ToolCallID: "c1", ToolName: "ls", Content: TextParts("a.txt")},
		Message{Role: RoleTool, ToolCallID: "c1", ToolName: "ls", Content: TextParts("b.txt")},
		assistantMsg("there are two files"))

	// keepLast 3 would start the context at a tool result; the cut moves
	// back to the assistant turn that made the call.
	var older []Message
	if err := s.Compact(ctx, key, 3, func(_ context.Context, o []Message) (string, error) { older = o; return "s", nil }); err != nil {
		t.Fatal(err)
	}
	_, msgs, _ := s.ModelContext(ctx, key)
	if fmt.Sprint(seqs(older)) != "[1 2 3]" || fmt.Sprint(seqs(msgs)) != "[4 5 6 7]" {
		t.Fatalf("older %v, context %v", seqs(older), seqs(msgs))
	}

	// A failing summarizer or an empty summary records nothing.
	mustAppend(t, s, key, userMsg("more"), assistantMsg("ok"))
	before := mustHistory(t, s, key, HistoryOptions{}).Total
	if err := s.Compact(ctx, key, 1, func(context.Context, []Message) (string, error) { return "", errors.New("model down") }); err == nil ||
		!strings.Contains(err.Error(), "model down") {
		t.Fatalf("summarizer error: %v", err)
	}
	if err := s.Compact(ctx, key, 1, func(context.Context, []Message) (string, error) { return " \n", nil }); err == nil {
		t.Fatal("empty summary accepted")
	}
	if n := mustHistory(t, s, key, HistoryOptions{}).Total; n != before {
		t.Fatalf("failed compactions left %d messages, want %d", n, before)
	}
	// A reset while the summary is written wins; the compaction is dropped.
	err := s.Compact(ctx, key, 1, func(ctx context.Context, _ []Message) (string, error) {
		_, err := s.Reset(ctx, key)
		return "stale", err
	})
	if !errors.Is(err, ErrCompactionConflict) {
		t.Fatalf("conflict: %v", err)
	}
	sess, _ := s.Get(ctx, key)
	if sess.CompactionSummary != "" {
		t.Fatalf("stale summary recorded: %+v", sess)
	}
}
