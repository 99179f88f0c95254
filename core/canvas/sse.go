package canvas

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Event streams tick this often to notice a draining gateway (whose
// graceful shutdown would otherwise wait for them) and ping every
// pingEvery ticks.
const (
	sseTick   = 500 * time.Millisecond
	pingEvery = 40
)

type sseStream struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	ticks int
	timer *time.Ticker
	tick  <-chan time.Time
}

// startSSE answers 200 text/event-stream. The ticker stops when the
// request ends.
func startSSE(w http.ResponseWriter, r *http.Request) (*sseStream, bool) {
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.SetWriteDeadline(time.Time{})
	s := &sseStream{w: w, rc: rc, timer: time.NewTicker(sseTick)}
	s.tick = s.timer.C
	go func() {
		<-r.Context().Done()
		s.timer.Stop()
	}()
	if _, err := fmt.Fprint(w, "retry: 1500\n\n"); err != nil {
		return nil, false
	}
	if rc.Flush() != nil {
		return nil, false
	}
	return s, true
}

// event writes one event; data must be a single line (compact JSON).
func (s *sseStream) event(name, data string) error {
	if strings.ContainsAny(data, "\r\n") {
		data = strings.NewReplacer("\r", "", "\n", "").Replace(data)
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, data); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseStream) comment(text string) error {
	if _, err := fmt.Fprintf(s.w, ": %s\n\n", text); err != nil {
		return err
	}
	return s.rc.Flush()
}

// keepStreaming is checked on every tick: false ends the stream (the
// gateway is draining or the host closed).
func (h *Host) keepStreaming() bool {
	h.mu.Lock()
	closed, srv := h.closed, h.srv
	h.mu.Unlock()
	if closed || (srv != nil && srv.Draining()) {
		return false
	}
	return true
}

// due counts ticks and reports whether a keep-alive ping is due.
func (s *sseStream) due() bool {
	s.ticks++
	return s.ticks%pingEvery == 0
}
