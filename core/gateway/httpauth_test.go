package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthorizeHTTP(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Auth.ExemptLoopback = false
		o.Auth.MaxAttempts, o.Auth.Window, o.Auth.Lockout = 2, time.Minute, time.Minute
	}, func(s *Server) {
		s.Handle("GET /secret", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a := s.AuthorizeHTTP(r); !a.OK {
				WriteUnauthorized(w, a)
				return
			}
			_, _ = w.Write([]byte("ok"))
		}))
	})
	base := "http://" + strings.TrimPrefix(h.url, "ws://")
	get := func(auth, query string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/secret"+query, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp, b.String()
	}
	if resp, body := get("Bearer "+testToken, ""); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("good token: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("", "?token="+testToken); resp.StatusCode != 401 || !strings.Contains(body, `"type":"unauthorized"`) {
		t.Fatalf("query token accepted: %d %q", resp.StatusCode, body)
	}
	get("Bearer wrong", "")
	resp, _ := get("Bearer wrong", "")
	if resp.StatusCode != 429 && resp.StatusCode != 401 {
		t.Fatalf("second failure: %d", resp.StatusCode)
	}
	if resp, _ := get("Bearer "+testToken, ""); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("locked-out client: %d", resp.StatusCode)
	}
}
