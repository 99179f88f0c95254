package channels

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
)

// fakePlugin behaves as told on each Start.
type fakePlugin struct {
	starts    atomic.Int32
	behaviour func(ctx context.Context, n int32, h channel.Handler) error
	connected atomic.Bool
}

func (f *fakePlugin) Start(ctx context.Context, h channel.Handler) error {
	return f.behaviour(ctx, f.starts.Add(1), h)
}
func (f *fakePlugin) Send(context.Context, channel.Outbound) (channel.Delivery, error) {
	return channel.Delivery{}, nil
}
func (f *fakePlugin) Typing(context.Context, channel.Peer) error { return nil }
func (f *fakePlugin) Status() channel.Status {
	return channel.Status{Running: true, Connected: f.connected.Load(), Linked: true}
}
func (f *fakePlugin) TextLimit() int { return 100 }

func testAccount(p channel.Plugin, h channel.Handler) (*account, *[]time.Duration) {
	var waits []time.Duration
	a := newAccount("fake", "default", p, h, slog.New(slog.DiscardHandler))
	a.after = func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		c := make(chan time.Time, 1)
		c <- time.Now()
		return c
	}
	return a, &waits
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestPanickingPluginIsRestartedWithBackoff(t *testing.T) {
	p := &fakePlugin{}
	p.behaviour = func(ctx context.Context, n int32, h channel.Handler) error {
		if n <= 3 {
			panic("boom")
		}
		p.connected.Store(true)
		<-ctx.Done()
		return nil
	}
	a, waits := testAccount(p, func(context.Context, channel.Inbound) {})
	a.start()
	eventually(t, "fourth start", func() bool { return p.starts.Load() >= 4 })
	eventually(t, "healthy", func() bool { return a.snapshot().State == StateHealthy })
	if !a.stop(time.Second) {
		t.Fatal("stop timed out")
	}
	s := a.snapshot()
	if s.Restarts != 3 || s.State != StateStopped || s.LastError == "" {
		t.Fatalf("snapshot = %+v", s)
	}
	if len(*waits) != 3 || (*waits)[0] != restartMin || (*waits)[1] != 2*restartMin || (*waits)[2] != 4*restartMin {
		t.Fatalf("backoff = %v", *waits)
	}
}

func TestFailingStartIsReportedAndRetried(t *testing.T) {
	p := &fakePlugin{}
	p.behaviour = func(ctx context.Context, n int32, h channel.Handler) error {
		if n == 1 {
			return errors.New("bad token")
		}
		<-ctx.Done()
		return nil
	}
	a, _ := testAccount(p, func(context.Context, channel.Inbound) {})
	a.start()
	eventually(t, "second start", func() bool { return p.starts.Load() >= 2 })
	if s := a.snapshot(); s.LastError != "bad token" || s.Restarts != 1 {
		t.Fatalf("snapshot = %+v", s)
	}
	a.stop(time.Second)
}

func TestHangingPluginDoesNotBlockStop(t *testing.T) {
	release := make(chan struct{})
	p := &fakePlugin{}
	p.behaviour = func(ctx context.Context, n int32, h channel.Handler) error {
		<-release // ignores ctx
		return nil
	}
	a, _ := testAccount(p, func(context.Context, channel.Inbound) {})
	a.start()
	eventually(t, "start", func() bool { return p.starts.Load() == 1 })
	if a.stop(50 * time.Millisecond) {
		t.Fatal("stop claimed success for a hung plugin")
	}
	close(release)
}

func TestInboundIsRecorded(t *testing.T) {
	got := make(chan channel.Inbound, 1)
	p := &fakePlugin{}
	p.behaviour = func(ctx context.Context, n int32, h channel.Handler) error {
		h(ctx, channel.Inbound{Text: "hi"})
		<-ctx.Done()
		return nil
	}
	a, _ := testAccount(p, func(_ context.Context, in channel.Inbound) { got <- in })
	a.start()
	defer a.stop(time.Second)
	select {
	case in := <-got:
		if in.Text != "hi" {
			t.Fatalf("inbound = %+v", in)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no inbound")
	}
	if a.snapshot().LastInbound.IsZero() {
		t.Fatal("last inbound not recorded")
	}
}

func TestPermanentStartErrorIsNotRetried(t *testing.T) {
	p := &fakePlugin{}
	p.behaviour = func(ctx context.Context, n int32, h channel.Handler) error {
		return channel.Permanent(errors.New("unauthorized: bot token revoked"))
	}
	a, waits := testAccount(p, func(context.Context, channel.Inbound) {})
	a.start()
	eventually(t, "failed", func() bool { return a.snapshot().State == StateFailed })
	if p.starts.Load() != 1 || len(*waits) != 0 {
		t.Fatalf("starts %d, waits %v", p.starts.Load(), *waits)
	}
	// An operator start tries again.
	a.start()
	eventually(t, "second start", func() bool { return p.starts.Load() == 2 })
	a.stop(time.Second)
}
