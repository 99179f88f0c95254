//go:build cgo

package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/store"
)

type countingSender struct{ n atomic.Int64 }

func (s *countingSender) Send(context.Context, string, channel.Outbound) (channel.Delivery, error) {
	n := s.n.Add(1)
	return channel.Delivery{MessageID: fmt.Sprint(n)}, nil
}

// BenchmarkThroughput measures the durable queue alone: each op is one
// message enqueued (committed) and delivered to an instant sender, over
// 20 conversations, on a real SQLite file. Reports messages per second.
//
//	go test -run x -bench Throughput -benchtime 5000x ./core/channels/outbox/
func BenchmarkThroughput(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "state.sqlite"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	s := &countingSender{}
	q, err := Open(context.Background(), db, s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	b.ResetTimer()
	start := time.Now()
	var last Item
	for i := 0; i < b.N; i++ {
		last, err = q.Enqueue(ctx, "", "bench", channel.Outbound{To: channel.Peer{ID: fmt.Sprint(i % 20)}, Text: "hello"})
		if err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for s.n.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err := q.Wait(ctx, last.ID); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
