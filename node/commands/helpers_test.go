package commands

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// probe builds a Registry for cfg and closes it with the test.
func probe(t testing.TB, cfg Config) *Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := Probe(ctx, cfg)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// allowAll is an "ask" config whose approver allows every command once.
func allowAll() Config {
	return Config{
		ExecPolicy: ExecPolicyAsk,
		Approver: func(context.Context, ApprovalRequest) (string, error) {
			return DecisionAllowOnce, nil
		},
	}
}

// call invokes command with params (marshalled to paramsJSON; a string is
// sent verbatim) and returns the payload as it would appear on the wire.
func call(t testing.TB, r *Registry, command string, params any) (map[string]any, *Error) {
	t.Helper()
	var pj string
	switch p := params.(type) {
	case nil:
	case string:
		pj = p
	default:
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		pj = string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	payload, err := r.Invoke(ctx, command, pj)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: error %T is not an *Error: %v", command, err, err)
		}
		if payload != nil {
			t.Fatalf("%s: payload %v alongside error %v", command, payload, err)
		}
		return nil, e
	}
	b, merr := json.Marshal(payload)
	if merr != nil {
		t.Fatalf("%s: payload does not marshal: %v", command, merr)
	}
	var out map[string]any
	if uerr := json.Unmarshal(b, &out); uerr != nil {
		t.Fatalf("%s: payload %s is not a JSON object: %v", command, b, uerr)
	}
	return out, nil
}

// mustCall is call that fails the test on an error.
func mustCall(t testing.TB, r *Registry, command string, params any) map[string]any {
	t.Helper()
	out, err := call(t, r, command, params)
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return out
}

// wantErr checks that command fails with code.
func wantErr(t testing.TB, r *Registry, command string, params any, code string) *Error {
	t.Helper()
	out, err := call(t, r, command, params)
	if err == nil {
		t.Fatalf("%s %v: want %s, got payload %v", command, params, code, out)
	}
	if err.Code != code {
		t.Fatalf("%s %v: want code %s, got %v", command, params, code, err)
	}
	return err
}

func hasCommand(r *Registry, name string) bool { return slices.Contains(r.Commands(), name) }

// keysOf returns m's keys sorted.
func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func wantKeys(t testing.TB, what string, m map[string]any, keys ...string) {
	t.Helper()
	slices.Sort(keys)
	if got := keysOf(m); !slices.Equal(got, keys) {
		t.Fatalf("%s keys = %v, want %v", what, got, keys)
	}
}

// writeSys writes sysfs-style one-value files into dir.
func writeSys(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
