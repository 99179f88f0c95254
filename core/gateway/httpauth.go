package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTPAuth is the outcome of AuthorizeHTTP.
type HTTPAuth struct {
	OK bool
	// Local: the request came from this machine (no proxy headers).
	Local bool
	// RetryAfter is set when the client is locked out for failed attempts.
	RetryAfter time.Duration
	// ClientIP is the attributed client address.
	ClientIP string
}

// AuthorizeHTTP checks an HTTP request's `Authorization: Bearer <token or
// password>` against the gateway's shared secret, with the same per-IP
// failure limiter as WebSocket connects. With auth mode none every request
// passes. The secret is never read from the query string.
func (s *Server) AuthorizeHTTP(r *http.Request) HTTPAuth {
	a := s.attribute(r)
	out := HTTPAuth{Local: a.local, ClientIP: a.clientIP}
	if a.rejectProxy {
		return out
	}
	if s.opt.Auth.Mode == AuthNone {
		out.OK = true
		return out
	}
	if ok, retry := s.limiter.check(a.clientIP); !ok {
		out.RetryAfter = retry
		return out
	}
	configured := s.opt.Auth.Token
	if s.opt.Auth.Mode == AuthPassword {
		configured = s.opt.Auth.Password
	}
	got := BearerToken(r)
	if configured != "" && got != "" && secretEqual(got, configured) {
		out.OK = true
		s.limiter.reset(a.clientIP)
		return out
	}
	if delay := s.limiter.failure(a.clientIP); delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	return out
}

// BearerToken is the token of an `Authorization: Bearer` header ("" when
// absent).
func BearerToken(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// WriteUnauthorized answers the reference's 401 JSON (or 429 with
// Retry-After for a locked-out client).
func WriteUnauthorized(w http.ResponseWriter, a HTTPAuth) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if a.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((a.RetryAfter+time.Second-1)/time.Second)))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"message":"Too many failed authentication attempts","type":"rate_limited"}}`))
		return
	}
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":{"message":"Unauthorized","type":"unauthorized"}}`))
}
