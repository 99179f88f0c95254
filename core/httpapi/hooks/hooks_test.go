package hooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/channels/telegram/telegramtest"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

const hookToken = "hook-secret-0123456789"

func startModel(t *testing.T) *agenttest.Model {
	return agenttest.StartT(t)
}

// gatewayConfig is a config whose main agent uses the fake model, plus
// extra top-level keys.
func gatewayConfig(m *agenttest.Model, extra string) string { return m.ConfigWith(extra) }

func hooksConfig(m *agenttest.Model, hooks string) string {
	return gatewayConfig(m, fmt.Sprintf(`hooks: {enabled: true, token: %q, %s}`, hookToken, hooks))
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response %d is not JSON: %q", r.code, r.body)
	}
	return v
}

// do sends a request with a bounded timeout; headers are name, value pairs.
func do(t *testing.T, method, url string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: res.StatusCode, header: res.Header, body: raw}
}

func hookPost(t *testing.T, g *daemontest.Gateway, path string, body any, headers ...string) response {
	t.Helper()
	return do(t, http.MethodPost, g.HTTP+path, body, append([]string{"Authorization", "Bearer " + hookToken}, headers...)...)
}

// waitFor polls cond until it holds (at most 20 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quiesce waits until the gateway runs nothing (no session is running,
// and a heartbeat asked for since `since` has finished), so the test's
// state directory is not written to while it is removed.
func quiesce(t *testing.T, g *daemontest.Gateway, heartbeatSince time.Time) {
	t.Helper()
	c := g.Dial(t, protocol.CLIDefaultScopes...)
	if !heartbeatSince.IsZero() {
		waitFor(t, "the heartbeat", func() bool {
			var last map[string]any
			daemontest.Call(t, c, "last-heartbeat", nil, &last)
			ts, _ := last["ts"].(float64)
			return int64(ts) >= heartbeatSince.UnixMilli()
		})
	}
	idle := 0
	waitFor(t, "idle sessions", func() bool {
		var list map[string]any
		daemontest.Call(t, c, "sessions.list", map[string]any{}, &list)
		rows, _ := list["sessions"].([]any)
		for _, r := range rows {
			if r.(map[string]any)["status"] == "running" {
				idle = 0
				return false
			}
		}
		idle++
		time.Sleep(50 * time.Millisecond)
		return idle >= 2
	})
}

// modelSaw reports whether some model request's messages contain s.
func modelSaw(m *agenttest.Model, s string) bool {
	for _, req := range m.Requests() {
		raw, _ := json.Marshal(req["messages"])
		if strings.Contains(string(raw), s) {
			return true
		}
	}
	return false
}

func TestWakeQueuesAndWakesTheHeartbeat(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, hooksConfig(m, ""))

	res := hookPost(t, g, "/hooks/wake", map[string]any{"text": "The nightly import finished", "mode": "next-heartbeat"})
	if res.code != 200 {
		t.Fatalf("wake: %d %s", res.code, res.body)
	}
	if v := res.json(t); v["ok"] != true || v["mode"] != "next-heartbeat" || v["eventOutcome"] != "queued" {
		t.Fatalf("wake = %v", v)
	}
	// The same text again is already the newest queued event.
	if v := hookPost(t, g, "/hooks/wake", map[string]any{"text": "The nightly import finished", "mode": "next-heartbeat"}).json(t); v["eventOutcome"] != "coalesced" {
		t.Fatalf("repeat wake = %v", v)
	}
	time.Sleep(300 * time.Millisecond)
	if m.Calls() != 0 {
		t.Fatal("a next-heartbeat wake ran a heartbeat")
	}

	// mode defaults to now: a heartbeat turn runs with both queued events.
	res = hookPost(t, g, "/hooks/wake", map[string]any{"text": "Backup verified"})
	if v := res.json(t); res.code != 200 || v["mode"] != "now" || v["eventOutcome"] != "queued" {
		t.Fatalf("wake now: %d %v", res.code, v)
	}
	waitFor(t, "the heartbeat turn", func() bool {
		return modelSaw(m, "Backup verified") && modelSaw(m, "The nightly import finished")
	})
	c := g.Dial(t, protocol.ScopeRead)
	waitFor(t, "last-heartbeat", func() bool {
		var last map[string]any
		daemontest.Call(t, c, "last-heartbeat", nil, &last)
		return last != nil && last["status"] != nil
	})

	// Bad input changes nothing.
	for _, body := range []map[string]any{{"text": "  "}, {"text": "x", "agentId": "ghost"}, {"text": "x", "sessionKey": "hook:x"},
		{"text": "x", "mode": "next-heartbeat", "sessionKey": "hook:x"}} {
		if res := hookPost(t, g, "/hooks/wake", body); res.code != 400 || res.json(t)["ok"] != false {
			t.Fatalf("wake %v: %d %s", body, res.code, res.body)
		}
	}
}

func TestAgentHook(t *testing.T) {
	m := startModel(t)
	m.SetReply(func(last string) string { return "Summary ready." })
	g := daemontest.Start(t, daemon.Options{}, hooksConfig(m, `allowedAgentIds: ["main"]`))

	res := hookPost(t, g, "/hooks/agent", map[string]any{"message": "Summarize build 4711", "name": "CI", "deliver": false})
	v := res.json(t)
	if res.code != 200 || v["ok"] != true || v["runId"] == "" {
		t.Fatalf("agent: %d %v", res.code, v)
	}
	waitFor(t, "the hook message at the model", func() bool { return modelSaw(m, "Summarize build 4711") })
	req := m.Requests()[0]
	raw, _ := json.Marshal(req["messages"])
	if !strings.Contains(string(raw), "webhook") || !strings.Contains(string(raw), "EXTERNAL_UNTRUSTED_CONTENT") {
		t.Fatalf("the turn does not say it came from a webhook: %s", raw)
	}

	// An isolated run gets its own hook session.
	c := g.Dial(t, protocol.CLIDefaultScopes...)
	waitFor(t, "the hook session", func() bool {
		var list map[string]any
		daemontest.Call(t, c, "sessions.list", map[string]any{}, &list)
		rows, _ := list["sessions"].([]any)
		for _, r := range rows {
			if k, _ := r.(map[string]any)["key"].(string); strings.HasPrefix(k, "agent:main:hook:") {
				return true
			}
		}
		return false
	})

	// waitForCompletion returns the terminal facts, never the text.
	res = hookPost(t, g, "/hooks/agent", map[string]any{"message": "Second event", "deliver": false, "waitForCompletion": true})
	v = res.json(t)
	comp, _ := v["completion"].(map[string]any)
	if res.code != 200 || comp["status"] != "ok" || comp["replyDisposition"] != "visible" || comp["delivered"] != false ||
		comp["deliveryAttempted"] != false {
		t.Fatalf("completion: %d %v", res.code, v)
	}
	if strings.Contains(string(res.body), "Summary ready") {
		t.Fatalf("the response leaks the reply: %s", res.body)
	}

	// Policy errors are 400 and run nothing.
	calls := m.Calls()
	for _, body := range []map[string]any{
		{"message": " "},
		{"message": "x", "agentId": "ghost"},
		{"message": "x", "sessionKey": "hook:mine"},                    // allowRequestSessionKey is off
		{"message": "x", "sessionMode": "persistent"},                  // needs a sessionKey
		{"message": "x", "channel": "telegram"},                        // channel without to
		{"message": "x", "channel": "last", "to": "42"},                // last is not a destination
		{"message": "x", "waitForCompletion": "yes"},                   // not a boolean
		{"message": "x", "accountId": "work", "channel": "telegram"},   // accountId needs to
		{"message": "x", "sessionMode": "sticky", "sessionKey": "a:b"}, // bad mode
	} {
		if res := hookPost(t, g, "/hooks/agent", body); res.code != 400 || res.json(t)["ok"] != false {
			t.Fatalf("agent %v: %d %s", body, res.code, res.body)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if m.Calls() != calls {
		t.Fatal("a rejected hook reached the model")
	}
	quiesce(t, g, time.Time{})
}

func TestAgentHookAnnouncesToTheMainSession(t *testing.T) {
	m := startModel(t)
	m.SetReply(func(last string) string {
		if strings.Contains(last, "Hook Deploy:") {
			return "HEARTBEAT_OK"
		}
		return "Deployed 3 services."
	})
	g := daemontest.Start(t, daemon.Options{}, hooksConfig(m, ""))
	// deliver defaults to true: with no destination the summary becomes a
	// system event for the main session, and wakeMode now runs a heartbeat.
	res := hookPost(t, g, "/hooks/agent", map[string]any{"message": "Deploy finished", "name": "Deploy"})
	if res.code != 200 {
		t.Fatalf("agent: %d %s", res.code, res.body)
	}
	start := time.Now()
	waitFor(t, "the completion event at the heartbeat", func() bool { return modelSaw(m, "Hook Deploy: Deployed 3 services.") })
	quiesce(t, g, start)
}

func TestAgentHookIdempotency(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, hooksConfig(m, ""))
	body := map[string]any{"message": "Order 981 shipped", "deliver": false, "waitForCompletion": true}
	first := hookPost(t, g, "/hooks/agent", body, "Idempotency-Key", "order-981")
	v1 := first.json(t)
	if first.code != 200 || v1["completion"] == nil {
		t.Fatalf("first: %d %v", first.code, v1)
	}
	second := hookPost(t, g, "/hooks/agent", body, "Idempotency-Key", "order-981")
	v2 := second.json(t)
	if second.code != 200 || v2["runId"] != v1["runId"] {
		t.Fatalf("retry: %d %v (first %v)", second.code, v2, v1)
	}
	if c, _ := v2["completion"].(map[string]any); c["status"] != "ok" {
		t.Fatalf("replayed completion = %v", v2)
	}
	// Admission-only retries replay the runId too; the key in the payload
	// works like the header.
	delete(body, "waitForCompletion")
	body["idempotencyKey"] = "order-981"
	third := hookPost(t, g, "/hooks/agent", body)
	if third.json(t)["runId"] != v1["runId"] {
		t.Fatalf("payload key: %s", third.body)
	}
	time.Sleep(200 * time.Millisecond)
	if n := m.Calls(); n != 1 {
		t.Fatalf("the model ran %d times for one idempotency key", n)
	}
	// A different key is a new run.
	fourth := hookPost(t, g, "/hooks/agent", map[string]any{"message": "Order 981 shipped", "deliver": false}, "Idempotency-Key", "order-982")
	if fourth.json(t)["runId"] == v1["runId"] {
		t.Fatal("a new key replayed the old run")
	}
	waitFor(t, "the second run", func() bool { return m.Calls() == 2 })
	quiesce(t, g, time.Time{})
}

// The in-memory replay cache is gone after a restart; the run id derived
// from the key still replays the recorded run instead of running again.
func TestAgentHookIdempotencyAcrossRestart(t *testing.T) {
	m := startModel(t)
	cfg := hooksConfig(m, "")
	g := daemontest.Start(t, daemon.Options{}, cfg)
	body := map[string]any{"message": "Invoice 77 paid", "deliver": false, "waitForCompletion": true}
	first := hookPost(t, g, "/hooks/agent", body, "Idempotency-Key", "invoice-77")
	v1 := first.json(t)
	if first.code != 200 || v1["completion"] == nil {
		t.Fatalf("first: %d %s", first.code, first.body)
	}
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	g2 := daemontest.StartIn(t, g.State, daemon.Options{}, cfg)
	again := hookPost(t, g2, "/hooks/agent", body, "Idempotency-Key", "invoice-77")
	v2 := again.json(t)
	c, _ := v2["completion"].(map[string]any)
	if again.code != 200 || v2["runId"] != v1["runId"] || c["status"] != "ok" || c["replyDisposition"] != "visible" {
		t.Fatalf("after restart: %d %s (first %s)", again.code, again.body, first.body)
	}
	if _, known := c["delivered"]; known {
		t.Fatalf("a replayed run claims delivery facts it does not have: %v", c)
	}
	if m.Calls() != 1 {
		t.Fatalf("the model ran %d times", m.Calls())
	}
}

func TestAgentHookDeliversToAChannel(t *testing.T) {
	m := startModel(t)
	m.SetReply(func(last string) string { return "Your package is on its way." })
	tg := telegramtest.New(t, "5150:hooks-token")
	cfg := gatewayConfig(m, fmt.Sprintf(`hooks: {enabled: true, token: %q}, channels: {telegram: {botToken: %q, apiRoot: %q}}`,
		hookToken, tg.Token(), tg.URL()))
	g := daemontest.Start(t, daemon.Options{}, cfg)
	res := hookPost(t, g, "/hooks/agent", map[string]any{"message": "Tell 555 the package shipped", "channel": "telegram",
		"to": "555", "waitForCompletion": true, "timeoutSeconds": 30})
	v := res.json(t)
	comp, _ := v["completion"].(map[string]any)
	if res.code != 200 || comp["status"] != "ok" || comp["delivered"] != true || comp["deliveryAttempted"] != true {
		t.Fatalf("delivery completion: %d %v", res.code, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent, err := tg.WaitSent(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].ChatID != "555" || !strings.Contains(sent[0].Text, "on its way") {
		t.Fatalf("sent %+v", sent[0])
	}
}

func TestMappedHooks(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, hooksConfig(m, `
	  mappings: [
	    {id: "gh", match: {path: "github"}, action: "agent", name: "GitHub", deliver: false,
	     messageTemplate: "{{payload.repository.full_name}}: {{action}} #{{pull_request.number}} by {{sender.login}} ({{headers.x-github-event}}, {{query.kind}}) labels={{labels[1].name}}{{missing.field}}"},
	    {match: {path: "ping", source: "uptime"}, action: "wake", wakeMode: "next-heartbeat", textTemplate: "{{check}} is {{state}}"},
	    {match: {path: "batch"}, forEach: "items", deliver: false, messageTemplate: "item {{items[0].id}}"},
	    {match: {path: "js"}, transform: {module: "x.js"}},
	  ]`))

	payload := map[string]any{"action": "opened", "repository": map[string]any{"full_name": "octo/repo"},
		"pull_request": map[string]any{"number": 42}, "sender": map[string]any{"login": "alice"},
		"labels": []any{map[string]any{"name": "bug"}, map[string]any{"name": "urgent"}}}
	res := hookPost(t, g, "/hooks/github?kind=pr", payload, "X-GitHub-Event", "pull_request")
	if v := res.json(t); res.code != 200 || v["ok"] != true || v["runId"] == "" {
		t.Fatalf("github: %d %s", res.code, res.body)
	}
	want := "octo/repo: opened #42 by alice (pull_request, pr) labels=urgent"
	waitFor(t, "the templated message", func() bool { return modelSaw(m, want) })

	res = hookPost(t, g, "/hooks/ping", map[string]any{"source": "uptime", "check": "api", "state": "down"})
	if v := res.json(t); res.code != 200 || v["mode"] != "next-heartbeat" || v["eventOutcome"] != "queued" {
		t.Fatalf("wake mapping: %d %s", res.code, res.body)
	}
	// match.source must match too.
	if res := hookPost(t, g, "/hooks/ping", map[string]any{"source": "other", "check": "api"}); res.code != 404 {
		t.Fatalf("source mismatch: %d %s", res.code, res.body)
	}

	res = hookPost(t, g, "/hooks/batch", map[string]any{"items": []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}})
	v := res.json(t)
	if ids, _ := v["runIds"].([]any); res.code != 200 || len(ids) != 2 || v["dispatched"] != float64(2) {
		t.Fatalf("fan-out: %d %s", res.code, res.body)
	}
	waitFor(t, "both items", func() bool { return modelSaw(m, "item a") && modelSaw(m, "item b") })
	if res := hookPost(t, g, "/hooks/batch", map[string]any{"items": []any{}}); res.code != 204 {
		t.Fatalf("empty fan-out: %d %s", res.code, res.body)
	}

	if res := hookPost(t, g, "/hooks/js", map[string]any{}); res.code != 500 || res.json(t)["error"] != "hook mapping failed" {
		t.Fatalf("transform: %d %s", res.code, res.body)
	}
	if res := hookPost(t, g, "/hooks/nothing-here", map[string]any{}); res.code != 404 {
		t.Fatalf("unmapped: %d %s", res.code, res.body)
	}
	if res := hookPost(t, g, "/hooks", map[string]any{}); res.code != 404 {
		t.Fatalf("base path: %d %s", res.code, res.body)
	}
	quiesce(t, g, time.Time{})
}

func TestHookAuthAndTransport(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, hooksConfig(m, ""))
	wake := map[string]any{"text": "ping", "mode": "next-heartbeat"}
	url := g.HTTP + "/hooks/wake"

	if res := do(t, "POST", url, wake, "X-OpenClaw-Token", hookToken); res.code != 200 {
		t.Fatalf("x-openclaw-token: %d %s", res.code, res.body)
	}
	for name, h := range map[string][]string{
		"none":          nil,
		"wrong bearer":  {"Authorization", "Bearer nope"},
		"gateway token": {"Authorization", "Bearer " + g.Token},
		"wrong header":  {"X-OpenClaw-Token", "nope"},
	} {
		res := do(t, "POST", url, wake, h...)
		if res.code != 401 || string(res.body) != "Unauthorized" || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("%s: %d %q %s", name, res.code, res.body, res.header.Get("Content-Type"))
		}
	}
	// A query token is refused even next to a valid header.
	if res := do(t, "POST", url+"?token="+hookToken, wake, "Authorization", "Bearer "+hookToken); res.code != 400 {
		t.Fatalf("query token: %d %s", res.code, res.body)
	}
	if res := do(t, "GET", url, nil, "Authorization", "Bearer "+hookToken); res.code != 405 || res.header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d %v", res.code, res.header)
	}
	big := `{"text":"` + strings.Repeat("x", 300<<10) + `"}`
	if res := hookPost(t, g, "/hooks/wake", big); res.code != 413 {
		t.Fatalf("large body: %d %s", res.code, res.body)
	}
	if res := hookPost(t, g, "/hooks/wake", "{not json"); res.code != 400 || res.json(t)["ok"] != false {
		t.Fatalf("bad JSON: %d %s", res.code, res.body)
	}
}

func TestHookAuthFailuresAreThrottled(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, hooksConfig(m, ""))
	url := g.HTTP + "/hooks/wake"
	for i := range 20 {
		if res := do(t, "POST", url, map[string]any{"text": "x"}, "Authorization", "Bearer wrong"); res.code != 401 {
			t.Fatalf("attempt %d: %d", i+1, res.code)
		}
	}
	res := do(t, "POST", url, map[string]any{"text": "x"}, "Authorization", "Bearer wrong")
	if res.code != 429 || res.header.Get("Retry-After") == "" {
		t.Fatalf("21st failure: %d %v", res.code, res.header)
	}
	// The right token still works and resets the count.
	if res := hookPost(t, g, "/hooks/wake", map[string]any{"text": "ok", "mode": "next-heartbeat"}); res.code != 200 {
		t.Fatalf("valid token while throttled: %d %s", res.code, res.body)
	}
	if res := do(t, "POST", url, map[string]any{"text": "x"}, "Authorization", "Bearer wrong"); res.code != 401 {
		t.Fatalf("after reset: %d", res.code)
	}
}

func TestHooksDisabledOrMisconfigured(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, gatewayConfig(m, `hooks: {token: "t-123"}`))
	if res := hookPost(t, g, "/hooks/wake", map[string]any{"text": "x"}); res.code != 404 {
		t.Fatalf("disabled: %d %s", res.code, res.body)
	}
	// GETs fall through to the rest of the gateway (the Control UI's SPA).
	if res := do(t, "GET", g.HTTP+"/hooks/wake", nil); res.code != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET on a disabled hooks path: %d %s, want the SPA's HTML", res.code, res.header.Get("Content-Type"))
	}

	g2 := daemontest.Start(t, daemon.Options{}, gatewayConfig(m, `hooks: {enabled: true}`))
	res := do(t, "POST", g2.HTTP+"/hooks/wake", map[string]any{"text": "x"}, "Authorization", "Bearer anything")
	if res.code != 500 || !strings.Contains(string(res.body), "hooks.token") {
		t.Fatalf("enabled without token: %d %s", res.code, res.body)
	}
}

func TestHookSessionPolicyAndCustomPath(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, hooksConfig(m, `path: "/ingress/", allowRequestSessionKey: true,
	  allowedSessionKeyPrefixes: ["hook:", "ops:"]`))
	if res := hookPost(t, g, "/hooks/wake", map[string]any{"text": "x"}); res.code != 404 {
		t.Fatalf("default path while a custom one is configured: %d", res.code)
	}
	res := hookPost(t, g, "/ingress/agent", map[string]any{"message": "Rotate the logs", "sessionKey": "ops:logs",
		"sessionMode": "persistent", "deliver": false, "waitForCompletion": true})
	if res.code != 200 {
		t.Fatalf("persistent agent: %d %s", res.code, res.body)
	}
	c := g.Dial(t, protocol.CLIDefaultScopes...)
	var hist map[string]any
	daemontest.Call(t, c, "chat.history", map[string]any{"sessionKey": "agent:main:ops:logs"}, &hist)
	if msgs, _ := hist["messages"].([]any); len(msgs) < 2 {
		t.Fatalf("persistent session history = %v", hist)
	}
	if res := hookPost(t, g, "/ingress/agent", map[string]any{"message": "x", "sessionKey": "chat:1"}); res.code != 400 {
		t.Fatalf("prefix policy: %d %s", res.code, res.body)
	}
	woke := time.Now()
	if res := hookPost(t, g, "/ingress/wake", map[string]any{"text": "x", "sessionKey": "ops:logs"}); res.code != 200 {
		t.Fatalf("wake with an allowed key: %d %s", res.code, res.body)
	}
	quiesce(t, g, woke)
}

func TestAllowedAgentIDs(t *testing.T) {
	m := startModel(t)
	g := daemontest.Start(t, daemon.Options{}, fmt.Sprintf(`{models: {providers: {fake: {baseUrl: %q, apiKey: "test",
	  api: "openai-completions", models: [{id: "fake-1", contextWindow: 128000}]}}},
	  agents: {defaults: {model: {primary: "fake/fake-1"}}, entries: {main: {}, ops: {}}},
	  hooks: {enabled: true, token: %q, allowedAgentIds: ["ops"]}}`, m.URL, hookToken))
	if res := hookPost(t, g, "/hooks/agent", map[string]any{"message": "x", "deliver": false}); res.code != 400 ||
		!strings.Contains(res.json(t)["error"].(string), "allowedAgentIds") {
		t.Fatalf("default agent outside the allowlist: %d %s", res.code, res.body)
	}
	if res := hookPost(t, g, "/hooks/agent", map[string]any{"message": "For ops", "agentId": "ops", "deliver": false}); res.code != 200 {
		t.Fatalf("allowed agent: %d %s", res.code, res.body)
	}
	waitFor(t, "the ops run", func() bool { return modelSaw(m, "For ops") })
	quiesce(t, g, time.Time{})
}
