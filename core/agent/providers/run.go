package providers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Retry defaults of a Registry.
const (
	DefaultMaxAttempts   = 3
	DefaultBaseDelay     = time.Second
	DefaultMaxDelay      = 30 * time.Second
	DefaultMaxRetryAfter = 60 * time.Second
)

// ModelError is the failure of one model of a Run.
type ModelError struct {
	Ref      string // the "provider/model" ref as given
	Provider string // "" when the ref did not resolve
	Model    string
	Attempts int  // calls made (0 when the ref did not resolve)
	Partial  bool // output had already been streamed when it failed
	Err      error
}

func (e *ModelError) Error() string {
	var b strings.Builder
	b.WriteString(e.Ref)
	b.WriteString(": ")
	var ae *APIError
	if errors.As(e.Err, &ae) {
		fmt.Fprintf(&b, "HTTP %d: %s", ae.Status, ae.Message)
	} else {
		msg := e.Err.Error()
		if e.Provider != "" {
			msg = strings.TrimPrefix(msg, e.Provider+": ")
		}
		b.WriteString(msg)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.Partial {
		b.WriteString(" (the answer was cut off after it had started streaming)")
	}
	return b.String()
}

func (e *ModelError) Unwrap() error { return e.Err }

// RunError is a Run in which every model failed; errors.As finds each
// ModelError and APIError in it.
type RunError struct {
	Failures []*ModelError
}

func (e *RunError) Error() string {
	if len(e.Failures) == 1 {
		return "model call failed: " + e.Failures[0].Error()
	}
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = f.Error()
	}
	return fmt.Sprintf("all %d models failed: %s", len(e.Failures), strings.Join(parts, "; "))
}

func (e *RunError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f
	}
	return errs
}

// Run calls the models of refs in order until one answers. Each model is
// retried with exponential backoff on retryable errors (429, 5xx, a
// dropped connection), waiting as long as the provider's Retry-After asks
// (capped); on any other failure, or when the retries run out, Run moves
// to the next ref. It stops at once — without trying further models — when
// ctx ends, when onEvent returns an error (which Run returns as is), and
// when a model fails after part of its answer reached onEvent: the caller
// has shown it, and a second answer would repeat it.
//
// req.Model is ignored: each ref supplies its own.
func (r *Registry) Run(ctx context.Context, refs []string, req Request, onEvent func(Event) error) (*Response, error) {
	if len(refs) == 0 {
		return nil, ErrNoModel
	}
	if onEvent == nil {
		onEvent = func(Event) error { return nil }
	}
	var failures []*ModelError
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, model, err := r.Resolve(ref)
		if err != nil {
			failures = append(failures, &ModelError{Ref: ref, Err: err})
			continue
		}
		resp, stop, err := r.runModel(ctx, ref, p, model, req, onEvent)
		if err == nil {
			return resp, nil
		}
		if stop {
			return nil, err // a *ModelError, or onEvent's own error
		}
		failures = append(failures, err.(*ModelError))
	}
	return nil, &RunError{Failures: failures}
}

// runModel makes up to MaxAttempts calls of one model. stop says the
// failure must not move on to the next model.
func (r *Registry) runModel(ctx context.Context, ref string, p Provider, model string, req Request, onEvent func(Event) error) (*Response, bool, error) {
	req.Model = model
	attempts := r.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	for n := 1; ; n++ {
		streamed := false
		var cbErr error
		resp, err := p.Stream(ctx, req, func(ev Event) error {
			streamed = true
			if err := onEvent(ev); err != nil {
				cbErr = err
				return err
			}
			return nil
		})
		if err == nil {
			if resp.Provider == "" {
				resp.Provider = p.ID()
			}
			if resp.Model == "" {
				resp.Model = model
			}
			if resp.API == "" {
				resp.API = p.API()
			}
			return resp, false, nil
		}
		if cbErr != nil {
			return nil, true, cbErr
		}
		me := &ModelError{Ref: ref, Provider: p.ID(), Model: model, Attempts: n, Err: err}
		if ctxErr := ctx.Err(); ctxErr != nil {
			if !errors.Is(err, ctxErr) {
				me.Err = fmt.Errorf("%w (%v)", ctxErr, err)
			}
			return nil, true, me
		}
		if streamed {
			me.Partial = true
			return nil, true, me
		}
		if n >= attempts || !Retryable(err) {
			return nil, false, me
		}
		if serr := r.sleep(ctx, r.retryDelay(n, err)); serr != nil {
			me.Err = fmt.Errorf("%w (waiting to retry after: %v)", serr, err)
			return nil, true, me
		}
	}
}

// retryDelay is the wait before attempt n+1: the provider's Retry-After
// when it gave one (capped), else BaseDelay·2^(n-1) capped at MaxDelay.
func (r *Registry) retryDelay(n int, err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		limit := r.MaxRetryAfter
		if limit <= 0 {
			limit = DefaultMaxRetryAfter
		}
		d := time.Duration(ae.RetryAfter * float64(time.Second))
		return min(d, limit)
	}
	base, limit := r.BaseDelay, r.MaxDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	if limit <= 0 {
		limit = DefaultMaxDelay
	}
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (r *Registry) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
