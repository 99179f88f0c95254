package providers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxErrorBody bounds how much of an error response is read: enough for any
// provider's JSON error, not enough for a misconfigured proxy's HTML page to
// flood the logs.
const maxErrorBody = 64 << 10

// httpErrorMiddleware turns every HTTP error response into an *APIError
// before the SDK sees it. The SDKs only understand their own vendor's error
// envelope and fail to decode others (Ollama's {"error":"…"}, vLLM's
// {"detail":…}, a proxy's plain text), losing the status we need to decide
// between retry and failover. Both SDKs return a middleware error unchanged.
func httpErrorMiddleware(provider string) func(*http.Request, func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	return func(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		res, err := next(req)
		if err != nil || res == nil || res.StatusCode < 400 {
			return res, err
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		_ = res.Body.Close()
		return nil, &APIError{
			Provider:   provider,
			Status:     res.StatusCode,
			Message:    errorBodyMessage(body, res.StatusCode),
			RetryAfter: parseRetryAfter(res.Header, time.Now()),
		}
	}
}

// errorBodyMessage extracts the human-readable message of an error body in
// any of the shapes providers use.
func errorBodyMessage(body []byte, status int) string {
	var doc map[string]any
	if json.Unmarshal(body, &doc) == nil {
		if m := messageFromJSON(doc); m != "" {
			return m
		}
	}
	text := strings.TrimSpace(string(body))
	if text == "" || strings.HasPrefix(text, "<") {
		if t := http.StatusText(status); t != "" {
			return t
		}
		return "status " + strconv.Itoa(status)
	}
	const max = 500
	if len(text) > max {
		text = text[:max] + "…"
	}
	return text
}

// messageFromJSON reads {"error":{"type","message"}} (Anthropic, OpenAI),
// {"error":"…"} (Ollama, llama.cpp), {"message":"…"} and {"detail":…}
// (FastAPI servers such as vLLM).
func messageFromJSON(doc map[string]any) string {
	switch e := doc["error"].(type) {
	case string:
		return e
	case map[string]any:
		msg, _ := e["message"].(string)
		typ, _ := e["type"].(string)
		if typ == "" {
			typ, _ = e["code"].(string)
		}
		switch {
		case msg != "" && typ != "" && !strings.Contains(msg, typ):
			return typ + ": " + msg
		case msg != "":
			return msg
		case typ != "":
			return typ
		}
	}
	if m, ok := doc["message"].(string); ok && m != "" {
		return m
	}
	switch d := doc["detail"].(type) {
	case string:
		return d
	case nil:
	default:
		if b, err := json.Marshal(d); err == nil {
			return string(b)
		}
	}
	return ""
}

// parseRetryAfter reads retry-after-ms (OpenAI) or Retry-After (seconds or
// an HTTP date) as seconds; 0 when absent or unparseable.
func parseRetryAfter(h http.Header, now time.Time) float64 {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && !math.IsInf(ms, 0) {
			return ms / 1000
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && !math.IsInf(s, 0) {
			return s
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now).Seconds(); d > 0 {
			return d
		}
	}
	return 0
}

// anthropicErrorStatus maps the type of an Anthropic error event (sent
// inside a 200 stream) to the HTTP status the API uses for it.
func anthropicErrorStatus(typ string) int {
	switch typ {
	case "invalid_request_error":
		return 400
	case "authentication_error":
		return 401
	case "billing_error":
		return 402
	case "permission_error":
		return 403
	case "not_found_error":
		return 404
	case "request_too_large":
		return 413
	case "rate_limit_error":
		return 429
	case "timeout_error":
		return 504
	case "overloaded_error":
		return 529
	default: // api_error and anything new: a server-side failure
		return 500
	}
}

// openAIErrorStatus maps the code/type of an OpenAI-style error reported
// inside a stream to an HTTP status. Unknown failures count as server
// errors: a stream that breaks for no stated reason is usually transient.
func openAIErrorStatus(code, typ string) int {
	for _, s := range []string{code, typ} {
		if n, err := strconv.Atoi(s); err == nil && n >= 400 && n < 600 {
			return n
		}
	}
	k := strings.ToLower(code + " " + typ)
	switch {
	case strings.Contains(k, "rate_limit") || strings.Contains(k, "too_many_requests"):
		return 429
	case strings.Contains(k, "overloaded") || strings.Contains(k, "unavailable"):
		return 503
	case strings.Contains(k, "timeout"):
		return 504
	case strings.Contains(k, "server_error") || strings.Contains(k, "internal") || strings.Contains(k, "api_error"):
		return 500
	case strings.Contains(k, "auth") || strings.Contains(k, "api_key"):
		return 401
	case strings.Contains(k, "permission"):
		return 403
	case strings.Contains(k, "not_found"):
		return 404
	case strings.Contains(k, "invalid") || strings.Contains(k, "context_length") ||
		strings.Contains(k, "policy") || strings.Contains(k, "bad_request"):
		return 400
	}
	return 500
}

// errStreamTruncated reports a stream that ended before the provider said
// it was finished: the connection dropped mid-answer.
var errStreamTruncated = errors.New("stream ended before the response was complete")

// Retryable reports whether err is worth another attempt of the same call:
// HTTP 429 and 5xx, a dropped or reset connection, a network timeout. The
// caller's own cancellation never is.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return ae.Retryable()
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, errStreamTruncated) {
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	// The server closed the connection before answering.
	if ue, ok := errors.AsType[*url.Error](err); ok && errors.Is(ue.Err, io.EOF) {
		return true
	}
	// HTTP/2 resets and some proxies only surface as text.
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "stream error") ||
		strings.Contains(s, "unexpected EOF") || strings.Contains(s, "server sent GOAWAY")
}
