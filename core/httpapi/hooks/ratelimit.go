package hooks

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The reference throttles failed hook authentication per client: after 20
// failures in 60 s further failures get 429 for 60 s; loopback is not
// exempt; a valid token resets the count.
const (
	authFailLimit  = 20
	authFailWindow = 60 * time.Second
	authLockout    = 60 * time.Second
	limiterMaxKeys = 10000
)

type failLimiter struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]*failBucket
}

type failBucket struct {
	count       int
	windowStart time.Time
	lockedUntil time.Time
}

func newFailLimiter() *failLimiter {
	return &failLimiter{now: time.Now, keys: map[string]*failBucket{}}
}

// locked reports how long the client must still wait (0: not locked).
func (l *failLimiter) locked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		return 0
	}
	if d := b.lockedUntil.Sub(l.now()); d > 0 {
		return d
	}
	return 0
}

func (l *failLimiter) failure(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= limiterMaxKeys {
			l.pruneLocked(now)
		}
		b = &failBucket{windowStart: now}
		l.keys[key] = b
	}
	if now.Sub(b.windowStart) > authFailWindow {
		b.count, b.windowStart = 0, now
	}
	b.count++
	if b.count >= authFailLimit {
		b.lockedUntil = now.Add(authLockout)
		b.count, b.windowStart = 0, now
	}
}

func (l *failLimiter) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

func (l *failLimiter) pruneLocked(now time.Time) {
	for k, b := range l.keys {
		if now.After(b.lockedUntil) && now.Sub(b.windowStart) > authFailWindow {
			delete(l.keys, k)
		}
	}
}

// clientKey attributes a request to a client address: the peer, or when
// the peer is a configured trusted proxy, the right-most X-Forwarded-For
// entry that is not one (X-Real-IP as the fallback).
func clientKey(r *http.Request, trusted []string) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer := net.ParseIP(host)
	if peer == nil || !isTrusted(peer, trusted) {
		return host
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		parts := strings.Split(strings.Join(xff, ","), ",")
		for i := len(parts) - 1; i >= 0; i-- {
			ip := net.ParseIP(strings.TrimSpace(parts[i]))
			if ip != nil && !isTrusted(ip, trusted) {
				return ip.String()
			}
		}
	}
	if ip := net.ParseIP(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ip != nil {
		return ip.String()
	}
	return host
}

func isTrusted(ip net.IP, trusted []string) bool {
	for _, t := range trusted {
		t = strings.TrimSpace(t)
		if strings.Contains(t, "/") {
			if _, n, err := net.ParseCIDR(t); err == nil && n.Contains(ip) {
				return true
			}
			continue
		}
		if p := net.ParseIP(t); p != nil && p.Equal(ip) {
			return true
		}
	}
	return false
}
