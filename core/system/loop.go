package system

import (
	"sort"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

// loopSampler measures scheduling delay: a timer that should fire every
// interval records how late it fires, Go's analogue of Node's event-loop
// delay that OpenClaw clients display.
type loopSampler struct {
	interval time.Duration
	mu       sync.Mutex
	delays   []float64 // ms, ring of the last samples
	next     int
	degraded *int64
	done     chan struct{}
}

const loopSamples = 60

func newLoopSampler() *loopSampler {
	l := &loopSampler{interval: time.Second, done: make(chan struct{})}
	go l.run()
	return l
}

func (l *loopSampler) run() {
	t := time.NewTimer(l.interval)
	last := time.Now()
	for {
		select {
		case <-l.done:
			t.Stop()
			return
		case now := <-t.C:
			d := float64(now.Sub(last)-l.interval) / float64(time.Millisecond)
			if d < 0 {
				d = 0
			}
			l.mu.Lock()
			if len(l.delays) < loopSamples {
				l.delays = append(l.delays, d)
			} else {
				l.delays[l.next] = d
				l.next = (l.next + 1) % loopSamples
			}
			l.mu.Unlock()
			last = time.Now()
			t.Reset(l.interval)
		}
	}
}

func (l *loopSampler) stop() { close(l.done) }

func (l *loopSampler) snapshot() *protocol.EventLoopHealth {
	l.mu.Lock()
	samples := append([]float64(nil), l.delays...)
	l.mu.Unlock()
	h := &protocol.EventLoopHealth{Reasons: []string{}, IntervalMs: float64(l.interval.Milliseconds())}
	if len(samples) == 0 {
		return h
	}
	sort.Float64s(samples)
	h.DelayMaxMs = samples[len(samples)-1]
	h.DelayP99Ms = samples[(len(samples)*99)/100]
	if h.DelayP99Ms > 200 {
		h.Degraded = true
		h.Reasons = append(h.Reasons, "event_loop_delay")
		l.mu.Lock()
		if l.degraded == nil {
			now := time.Now().UnixMilli()
			l.degraded = &now
		}
		h.DegradedSinceMs = l.degraded
		l.mu.Unlock()
	} else {
		l.mu.Lock()
		l.degraded = nil
		l.mu.Unlock()
	}
	return h
}
