package gateway

import (
	"encoding/json"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"type":"req","id":"1:abc","method":"health"}`,
		`{"type":"req","id":"2","method":"logs.tail","params":{"limit":5}}`,
		`{"type":"req","id":"","method":"x"}`,
		`{"type":"res","id":"1","method":"x"}`,
		`{"type":"req","id":"1","method":"x","extra":1}`,
		`{"type":"req","id":1,"method":"x"}`,
		`[1,2,3]`, `null`, `"str"`, `{`, ``, `{"type":"req","id":"1","method":"m","traceparent":"00-abc"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseRequest(data)
		if err != nil {
			if err != errNotJSON && err.Error() == "" {
				t.Fatal("error without reason")
			}
			return
		}
		if req.Type != "req" || req.ID == "" || req.Method == "" {
			t.Fatalf("accepted invalid frame %q: %+v", data, req)
		}
		if !json.Valid(data) {
			t.Fatalf("accepted non-JSON %q", data)
		}
	})
}

func FuzzAttributeHeaders(f *testing.F) {
	f.Add("203.0.113.1, 10.0.0.1", "")
	f.Add("", "198.51.100.2")
	f.Add("garbage,,", "::1")
	f.Fuzz(func(t *testing.T, xff, real string) {
		s := New(Options{TrustedProxies: []string{"127.0.0.1", "10.0.0.0/8"}})
		h := map[string][]string{}
		if xff != "" {
			h["X-Forwarded-For"] = []string{xff}
		}
		if real != "" {
			h["X-Real-Ip"] = []string{real}
		}
		_ = forwardedClient(h, s)
	})
}
