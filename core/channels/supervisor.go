package channels

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/channels/channel"
)

// Restart backoff of a failing channel account.
const (
	restartMin = 1 * time.Second
	restartMax = 5 * time.Minute
	// stableAfter resets the backoff: a run that lasted this long was healthy.
	stableAfter = 2 * time.Minute
)

// Health states of an account.
const (
	StateStopped      = "stopped"
	StateStarting     = "starting"
	StateHealthy      = "healthy"
	StateDisconnected = "disconnected" // running, but the platform link is down
	StateRestarting   = "restarting"   // failed; waiting to start again
	StateDead         = "dead"         // linked and running, but disconnected for too long
	StateFailed       = "failed"       // a permanent error (bad credentials): not retried until started again
)

// deadAfter: a linked account that stays disconnected (and silent) this
// long is reported as linked-but-dead.
const deadAfter = 3 * time.Minute

// account runs one channel account's plugin under supervision: a panic or
// an error restarts it with backoff; it never takes anything else down.
type account struct {
	channelID, accountID string
	plugin               channel.Plugin
	handler              channel.Handler
	log                  *slog.Logger
	after                func(time.Duration) <-chan time.Time // tests shorten waits

	mu        sync.Mutex
	cancel    context.CancelFunc
	done      chan struct{}
	state     string
	lastError string
	lastStart time.Time
	lastStop  time.Time
	lastIn    time.Time
	lastOut   time.Time
	restarts  int
	// lastDeliveryError is the latest message that failed for good.
	lastDeliveryError string
	nextBackoff       time.Duration
}

func newAccount(channelID, accountID string, p channel.Plugin, h channel.Handler, log *slog.Logger) *account {
	return &account{channelID: channelID, accountID: accountID, plugin: p, handler: h, log: log, state: StateStopped,
		after: time.After, nextBackoff: restartMin}
}

// start launches the supervision loop (no-op when running).
func (a *account) start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	a.state = StateStarting
	go a.loop(ctx, a.done)
}

// stop ends the loop and waits for the plugin to return (bounded).
func (a *account) stop(timeout time.Duration) bool {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.cancel = nil
	a.mu.Unlock()
	if cancel == nil {
		return true
	}
	cancel()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		a.log.Warn("channel did not stop in time", "channel", a.channelID, "account", a.accountID)
		return false
	}
}

func (a *account) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	for {
		started := time.Now()
		a.mu.Lock()
		a.lastStart, a.state = started, StateStarting
		a.mu.Unlock()
		err := a.runOnce(ctx)
		now := time.Now()
		a.mu.Lock()
		a.lastStop = now
		if ctx.Err() != nil {
			a.state = StateStopped
			a.mu.Unlock()
			return
		}
		if now.Sub(started) >= stableAfter {
			a.nextBackoff = restartMin
		}
		wait := a.nextBackoff
		a.nextBackoff = min(a.nextBackoff*2, restartMax)
		a.restarts++
		if err == nil {
			err = fmt.Errorf("%s stopped unexpectedly", a.channelID)
		}
		if errors.Is(err, channel.ErrPermanent) {
			// Retrying cannot help (a revoked token …): wait for an operator.
			cancel := a.cancel
			a.lastError, a.state, a.cancel = err.Error(), StateFailed, nil
			a.mu.Unlock()
			if cancel != nil {
				cancel()
			}
			a.log.Error("channel failed; not restarting", "channel", a.channelID, "account", a.accountID, "err", err)
			return
		}
		a.lastError, a.state = err.Error(), StateRestarting
		a.mu.Unlock()
		a.log.Warn("channel stopped; restarting", "channel", a.channelID, "account", a.accountID, "err", err, "retryIn", wait)
		select {
		case <-ctx.Done():
			a.mu.Lock()
			a.state = StateStopped
			a.mu.Unlock()
			return
		case <-a.after(wait):
		}
	}
}

// runOnce runs the plugin, turning a panic into an error.
func (a *account) runOnce(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s panicked: %v", a.channelID, r)
			a.log.Error("channel panicked", "channel", a.channelID, "account", a.accountID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	return a.plugin.Start(ctx, func(ctx context.Context, in channel.Inbound) {
		a.mu.Lock()
		a.lastIn = time.Now()
		a.mu.Unlock()
		a.handler(ctx, in)
	})
}

// snapshot is the account's status for channels.status.
type snapshot struct {
	State                     string
	Running                   bool
	Status                    channel.Status
	LastError                 string
	LastStart, LastStop       time.Time
	LastInbound, LastOutbound time.Time
	Restarts                  int
	DeliveryError             string
}

func (a *account) snapshot() snapshot {
	st := a.plugin.Status()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := snapshot{State: a.state, Running: a.cancel != nil, Status: st, LastError: a.lastError, LastStart: a.lastStart,
		LastStop: a.lastStop, LastInbound: a.lastIn, LastOutbound: a.lastOut, Restarts: a.restarts,
		DeliveryError: a.lastDeliveryError}
	if st.LastError != "" {
		s.LastError = st.LastError
	}
	if s.Running && s.State == StateStarting {
		switch {
		case st.Connected:
			s.State = StateHealthy
		case st.Running && st.Linked && time.Since(a.lastStart) > deadAfter && time.Since(a.lastIn) > deadAfter:
			// Credentials in place, process running, no link and no traffic.
			s.State = StateDead
		case st.Running:
			s.State = StateDisconnected
		}
	}
	return s
}
