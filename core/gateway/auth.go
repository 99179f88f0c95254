package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"
)

// Loopback failures are never locked out; each is answered after
// 250 ms × 2^(n−1), capped at 5 s, n counting at most the last 6 failures
// within the window (spec Appendix E).
const (
	loopbackDelayBase    = 250 * time.Millisecond
	loopbackDelayMax     = 5 * time.Second
	loopbackHistoryLimit = 6
)

type limitEntry struct {
	attempts    []time.Time
	lockedUntil time.Time
	// loopback penalty shared by concurrent attempts
	penaltyUntil time.Time
}

// authLimiter rate-limits shared-secret failures per client IP.
type authLimiter struct {
	opt     AuthOptions
	mu      sync.Mutex
	entries map[string]*limitEntry
	now     func() time.Time
}

func newAuthLimiter(opt AuthOptions) *authLimiter {
	return &authLimiter{opt: opt, entries: map[string]*limitEntry{}, now: time.Now}
}

func (l *authLimiter) exempt(ip string) bool { return l.opt.ExemptLoopback && isLoopbackIP(ip) }

func (l *authLimiter) refresh(e *limitEntry, now time.Time) {
	if !e.lockedUntil.IsZero() && !now.Before(e.lockedUntil) {
		e.lockedUntil = time.Time{}
		e.attempts = nil
	}
	cut := now.Add(-l.opt.Window)
	i := 0
	for i < len(e.attempts) && !e.attempts[i].After(cut) {
		i++
	}
	e.attempts = e.attempts[i:]
}

// check reports whether ip may attempt auth, and if not, when to retry.
func (l *authLimiter) check(ip string) (bool, time.Duration) {
	if l.exempt(ip) {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[ip]
	if e == nil {
		return true, 0
	}
	now := l.now()
	l.refresh(e, now)
	if e.lockedUntil.IsZero() && len(e.attempts) >= l.opt.MaxAttempts {
		e.lockedUntil = now.Add(l.opt.Lockout)
	}
	if !e.lockedUntil.IsZero() && now.Before(e.lockedUntil) {
		return false, e.lockedUntil.Sub(now)
	}
	return len(e.attempts) < l.opt.MaxAttempts, 0
}

// failure records a failed attempt and returns how long to delay the answer
// (non-zero for exempt loopback peers only).
func (l *authLimiter) failure(ip string) time.Duration {
	exempt := l.exempt(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entries[ip]
	if e == nil {
		e = &limitEntry{}
		l.entries[ip] = e
	}
	if !exempt && !e.lockedUntil.IsZero() && now.Before(e.lockedUntil) {
		return 0
	}
	l.refresh(e, now)
	e.attempts = append(e.attempts, now)
	if exempt {
		if len(e.attempts) > loopbackHistoryLimit {
			e.attempts = e.attempts[len(e.attempts)-loopbackHistoryLimit:]
		}
		d := loopbackDelayBase << (len(e.attempts) - 1)
		if d > loopbackDelayMax {
			d = loopbackDelayMax
		}
		until := now.Add(d)
		if until.After(e.penaltyUntil) {
			e.penaltyUntil = until
		}
		return e.penaltyUntil.Sub(now)
	}
	if len(e.attempts) >= l.opt.MaxAttempts {
		e.lockedUntil = now.Add(l.opt.Lockout)
	}
	return 0
}

func (l *authLimiter) reset(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, ip)
}

func (l *authLimiter) prune() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for k, e := range l.entries {
		if !e.lockedUntil.IsZero() && now.Before(e.lockedUntil) {
			continue
		}
		l.refresh(e, now)
		if len(e.attempts) == 0 && now.After(e.penaltyUntil) {
			delete(l.entries, k)
		}
	}
}

// secretEqual compares in constant time (hashing first so lengths leak nothing).
func secretEqual(a, b string) bool {
	ha := sha256.Sum256([]byte(a))
	hb := sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// actorLimiter is a sliding-window limit per actor (control-plane writes).
type actorLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	hits   map[string][]time.Time
}

func newActorLimiter(max int, window time.Duration) *actorLimiter {
	return &actorLimiter{max: max, window: window, hits: map[string][]time.Time{}}
}

// allow records a hit for actor, or reports how long until one is allowed.
func (l *actorLimiter) allow(actor string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	cut := now.Add(-l.window)
	h := l.hits[actor]
	i := 0
	for i < len(h) && !h[i].After(cut) {
		i++
	}
	h = h[i:]
	if len(h) >= l.max {
		l.hits[actor] = h
		return false, h[0].Add(l.window).Sub(now)
	}
	l.hits[actor] = append(h, now)
	return true, 0
}
