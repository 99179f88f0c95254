package commands

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParseRunParams checks that system.run's param parsing never panics,
// fails only with INVALID_REQUEST, and accepts only requests that can be
// executed as given.
func FuzzParseRunParams(f *testing.F) {
	for _, seed := range []string{
		``,
		`null`,
		`{}`,
		`[]`,
		`"ls"`,
		`{"command":["echo","hi"]}`,
		`{"command":["sh","-c","echo $FOO"],"env":{"FOO":"bar"},"cwd":"/tmp","timeoutMs":1500}`,
		`{"command":[""]}`,
		`{"command":["a\u0000b"]}`,
		`{"command":["ls"],"timeoutMs":-1}`,
		`{"command":["ls"],"timeoutMs":1e309}`,
		`{"command":["ls"],"timeoutMs":2.5}`,
		`{"command":["ls"],"env":{"LD_PRELOAD":"x"}}`,
		`{"command":["ls"],"env":{"A=B":"c"}}`,
		`{"command":["ls"],"rawCommand":"ls","agentId":"main","sessionKey":"k","runId":"r","suppressNotifyOnExit":true,"needsScreenRecording":false,"systemRunPlan":{"argv":["ls"]}}`,
		`{"command":{"0":"ls"}}`,
		`{"command":["ls"],"env":null,"cwd":null}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := parseRunParams(json.RawMessage(raw))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidRequest || e.Message == "" {
				t.Fatalf("%q: error %v is not INVALID_REQUEST", raw, err)
			}
			if req != nil {
				t.Fatalf("%q: request alongside error", raw)
			}
			return
		}
		if req == nil || len(req.argv) == 0 || strings.TrimSpace(req.argv[0]) == "" {
			t.Fatalf("%q: accepted without a program: %+v", raw, req)
		}
		for _, a := range req.argv {
			if strings.ContainsRune(a, 0) {
				t.Fatalf("%q: accepted a NUL in argv", raw)
			}
		}
		if strings.ContainsRune(req.cwd, 0) {
			t.Fatalf("%q: accepted a NUL in cwd", raw)
		}
		for k, v := range req.env {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) || blockedEnvKey(k) {
				t.Fatalf("%q: accepted env %q=%q", raw, k, v)
			}
		}
		if req.timeout < 0 {
			t.Fatalf("%q: negative timeout %v", raw, req.timeout)
		}
	})
}
