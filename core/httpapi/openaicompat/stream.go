package openaicompat

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/agent"
)

// deltaQueue carries reply text from the run's goroutine (Turn.OnDelta,
// which must not block) to the HTTP handler that writes it.
type deltaQueue struct {
	mu   sync.Mutex
	buf  []string
	wake chan struct{}
}

func newDeltaQueue() *deltaQueue { return &deltaQueue{wake: make(chan struct{}, 1)} }

func (q *deltaQueue) push(d string) {
	if d == "" {
		return
	}
	q.mu.Lock()
	q.buf = append(q.buf, d)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *deltaQueue) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.buf
	q.buf = nil
	return out
}

// sseWriter writes Server-Sent Events and flushes each one.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	_ = s.rc.Flush()
	return s
}

func (s *sseWriter) write(frame string) bool {
	if _, err := s.w.Write([]byte(frame)); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

// data writes `data: <json>`.
func (s *sseWriter) data(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.write("data: " + string(b) + "\n\n")
}

// event writes `event: <name>` + `data: <json>`.
func (s *sseWriter) event(name string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.write("event: " + name + "\ndata: " + string(b) + "\n\n")
}

// comment keeps an idle stream alive through proxies; SSE clients skip it.
func (s *sseWriter) comment() bool { return s.write(": keep-alive\n\n") }

func (s *sseWriter) done() { s.write("data: [DONE]\n\n") }

// keepAliveEvery spaces comments on a stream while the agent is quiet
// (long tool calls).
var keepAliveEvery = 15 * time.Second

// streamed is a finished run and the text already sent for it.
type streamed struct {
	agent.Outcome
	Sent string
}

// remainder is the final text not yet streamed: all of it when nothing
// streamed (a replayed run), the tail when the deltas are a prefix of it.
// A reply that differs otherwise (text between tool rounds is joined with
// blank lines that were never streamed) adds nothing.
func (s streamed) remainder() string {
	switch {
	case s.Sent == "" && s.Text == "":
		return noResponseText
	case strings.HasPrefix(s.Text, s.Sent):
		return s.Text[len(s.Sent):]
	}
	return ""
}

// pump writes the run's deltas with emit until it ends; ok is false when
// the client went away or a write failed (the run itself goes on).
func pump(ctx context.Context, sse *sseWriter, t *agent.Ticket, q *deltaQueue, emit func(string) bool) (streamed, bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		out agent.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := t.Wait(ctx)
		done <- result{out, err}
	}()
	var sent strings.Builder
	flush := func() bool {
		for _, d := range q.take() {
			if !emit(d) {
				return false
			}
			sent.WriteString(d)
		}
		return true
	}
	tick := time.NewTicker(keepAliveEvery)
	defer tick.Stop()
	for {
		select {
		case <-q.wake:
			if !flush() {
				return streamed{}, false
			}
		case <-tick.C:
			if !sse.comment() {
				return streamed{}, false
			}
		case res := <-done:
			if res.err != nil {
				return streamed{}, false
			}
			// OnDelta runs on the run's goroutine before the run ends, so
			// everything it queued is here now.
			if !flush() {
				return streamed{}, false
			}
			return streamed{Outcome: res.out, Sent: sent.String()}, true
		case <-ctx.Done():
			return streamed{}, false
		}
	}
}
