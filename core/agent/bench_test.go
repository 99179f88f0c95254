package agent_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// BenchmarkChatSendToFinal measures the run overhead without a real model:
// a fake provider answers at once, 100 sessions take turns, and each op is
// one chat.send until its chat final event arrives. Reports p50/p99 latency
// and runs per second.
//
//	go test -run x -bench ChatSendToFinal -benchtime 2000x ./core/agent/
func BenchmarkChatSendToFinal(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchChatSend(b, clients) })
	}
}

func benchChatSend(b *testing.B, clients int) {
	m := fakeModelB(b)
	g := daemontest.Start(b, daemon.Options{}, m.Config())
	const sessions = 100
	type waiter struct {
		start time.Time
		done  chan time.Duration
	}
	var mu sync.Mutex
	pending := map[string]*waiter{}
	opt := g.Options(protocol.ScopeWrite, protocol.ScopeRead)
	opt.OnEvent = func(ev protocol.EventFrame) {
		if ev.Event != "chat" {
			return
		}
		var p struct{ RunID, State string }
		_ = json.Unmarshal(ev.Payload, &p)
		if p.State != "final" && p.State != "error" {
			return
		}
		mu.Lock()
		w := pending[p.RunID]
		delete(pending, p.RunID)
		mu.Unlock()
		if w != nil {
			w.done <- time.Since(w.start)
		}
	}
	g.DialWith(b, opt)
	senders := make([]*clientT, clients)
	for i := range senders {
		senders[i] = &clientT{c: g.Dial(b, protocol.ScopeWrite)}
	}
	var next atomic.Int64
	lat := make([]time.Duration, 0, b.N)
	var latMu sync.Mutex
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(s *clientT) {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				id := fmt.Sprintf("bench-%d", n)
				w := &waiter{start: time.Now(), done: make(chan time.Duration, 1)}
				mu.Lock()
				pending[id] = w
				mu.Unlock()
				key := fmt.Sprintf("bench%d", n%sessions)
				var res any
				if err := s.c.Call(b.Context(), "chat.send", map[string]any{"sessionKey": key, "message": "hi", "idempotencyKey": id, "queueMode": "followup"}, &res); err != nil {
					b.Error(err)
					return
				}
				select {
				case d := <-w.done:
					latMu.Lock()
					lat = append(lat, d)
					latMu.Unlock()
				case <-time.After(30 * time.Second):
					b.Error("no final for", id)
					return
				}
			}
		}(senders[i])
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "runs/s")
}
