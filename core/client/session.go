package client

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/protocol"
)

// ErrSessionStopped is returned by Session.Call once Run has returned.
var ErrSessionStopped = errors.New("client: session stopped")

// Session keeps a connection to a gateway up: it dials, and when the
// connection drops it reconnects with exponential backoff (1s doubling to
// 30s, reset after every successful hello), like the official clients. The
// instance id stays the same across reconnects.
type Session struct {
	opt Options

	mu      sync.Mutex
	cur     *Client
	changed chan struct{} // closed and replaced whenever cur changes
	stopped chan struct{}
	runErr  error
	running bool
}

// NewSession returns a session; call Run to connect.
func NewSession(opt Options) *Session {
	if opt.InstanceID == "" {
		if o, err := opt.withDefaults(); err == nil {
			opt.InstanceID = o.InstanceID
		}
	}
	return &Session{opt: opt, changed: make(chan struct{}), stopped: make(chan struct{})}
}

// Run connects and reconnects until ctx is done (then it closes the
// connection and returns nil) or the gateway rejects the credentials or the
// protocol version (AUTH_TOKEN_MISSING, AUTH_TOKEN_MISMATCH, AUTH_PASSWORD_*,
// PROTOCOL_MISMATCH), which it returns. Run may be called once.
func (s *Session) Run(ctx context.Context) (err error) {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("client: Session.Run called twice")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.runErr = err
		s.mu.Unlock()
		close(s.stopped)
	}()

	opt, err := s.opt.withDefaults()
	if err != nil {
		return err
	}
	log := opt.Logger.With("gateway", opt.URL)
	backoff := opt.BackoffMin
	for {
		c, err := Dial(ctx, opt)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if IsFatalConnectError(err) {
				log.Error("gateway rejected the connection; not retrying", "err", err)
				return err
			}
			log.Warn("gateway connect failed", "err", err, "retryIn", backoff)
		} else {
			backoff = opt.BackoffMin
			s.setClient(c)
			select {
			case <-c.Done():
			case <-ctx.Done():
				_ = c.Close()
				s.setClient(nil)
				return nil
			}
			s.setClient(nil)
			log.Warn("gateway connection lost", "err", c.Err(), "retryIn", backoff)
		}

		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, opt.BackoffMax)
	}
}

func (s *Session) setClient(c *Client) {
	s.mu.Lock()
	s.cur = c
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Client returns the connected client, or nil between connections.
func (s *Session) Client() *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Call waits (bounded by ctx) for a connection and sends the request on it.
// A request interrupted by a drop is not retried.
func (s *Session) Call(ctx context.Context, method string, params any, out any) error {
	for {
		s.mu.Lock()
		c, changed := s.cur, s.changed
		s.mu.Unlock()
		if c != nil && c.Err() == nil {
			return c.Call(ctx, method, params, out)
		}
		select {
		case <-changed:
		case <-s.stopped:
			s.mu.Lock()
			err := s.runErr
			s.mu.Unlock()
			if err != nil {
				return err
			}
			return ErrSessionStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// IsFatalConnectError reports whether a connect failure will not go away by
// retrying with the same options: missing or wrong shared secret, or no
// common protocol version.
func IsFatalConnectError(err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch code := pe.DetailCode(); {
	case code == protocol.DetailAuthTokenMissing,
		code == protocol.DetailAuthTokenMismatch,
		code == protocol.DetailProtocolMismatch,
		strings.HasPrefix(code, "AUTH_PASSWORD_"):
		return true
	}
	return false
}
