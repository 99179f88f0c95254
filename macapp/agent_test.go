package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/agent/agenttest"
	"github.com/pincerhq/pincer/core/daemon/daemontest"
	"github.com/pincerhq/pincer/core/protocol"
)

// startAgentGateway runs a gateway whose main agent uses a fake model.
// extra is JSON5 text put before the config (comments, for instance).
func startAgentGateway(t *testing.T, extra string) (*daemontest.Gateway, *agenttest.Model) {
	t.Helper()
	m, err := agenttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return startTestGateway(t, extra+m.Config()), m
}

func TestAgentAgainstGateway(t *testing.T) {
	g, m := startAgentGateway(t, "")

	r := runAt(t, g, "agent", "--message", "hi")
	if r.code != 0 || r.stdout != "Hello from fake model. Echo: hi\n" {
		t.Fatalf("agent: %+v", r)
	}

	r = runAt(t, g, "agent", "-m", "again", "--agent", "main", "--json", "--timeout-seconds", "60")
	var fin agentFinal
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &fin) != nil || fin.Status != "ok" ||
		fin.text() != "Hello from fake model. Echo: again" || !strings.HasPrefix(r.stdout, "{\n") {
		t.Fatalf("agent --json: %+v", r)
	}

	mustFail(t, "unknown agent", runAt(t, g, "agent", "-m", "hi", "--agent", "nope"), exitError,
		`Error: unknown agent "nope"; the gateway's agents are: main [default]`)
	mustFail(t, "no message", runAt(t, g, "agent"), exitUsage, "--message is required")
	mustFail(t, "blank message", runAt(t, g, "agent", "-m", "  "), exitUsage, "--message is required")
	mustFail(t, "bad timeout", runAt(t, g, "agent", "-m", "x", "--timeout-seconds", "0"), exitUsage, "--timeout-seconds")

	// The model fails: exit 1 with the error; --json keeps the final payload.
	m.SetStatus(500)
	r = runAt(t, g, "agent", "-m", "boom")
	mustFail(t, "model failure", r, exitError, "Error: ", "500")
	r = runAt(t, g, "agent", "-m", "boom", "--json")
	if r.code != exitError || json.Unmarshal([]byte(r.stdout), &fin) != nil || fin.Status != "error" {
		t.Fatalf("model failure --json: %+v", r)
	}
	m.SetStatus(0)

	// Another session.
	r = runAt(t, g, "agent", "-m", "side", "--session", "agent:main:side")
	if r.code != 0 || r.stdout != "Hello from fake model. Echo: side\n" {
		t.Fatalf("agent --session: %+v", r)
	}
	r = runAt(t, g, "sessions", "history", "agent:main:side")
	mustContain(t, "history of side", r, "Session agent:main:side (2 messages)", "user       side", "assistant  Hello from fake model. Echo: side")
}

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAgentStreamsAndAbortsOnInterrupt(t *testing.T) {
	g, m := startAgentGateway(t, "")
	m.SetReply(func(string) string { return strings.Repeat("word ", 80) })
	m.SetChunkDelay(60 * time.Millisecond) // 50 chunks: 3s

	var out, errOut syncBuffer
	a := &app{stdout: &out, stderr: &errOut}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- a.execute(ctx, []string{"agent", "-m", "long", "--url", g.URL, "--token", g.Token}) }()

	// The reply streams: part of it shows before the run ends.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(out.String(), "word word") {
		if time.Now().After(deadline) {
			t.Fatalf("nothing streamed: %q %q", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // Ctrl-C
	var code int
	select {
	case code = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
	if code != exitInterrupted || !strings.Contains(errOut.String(), "Interrupted; aborted the run in session agent:main:main.") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	if got := out.String(); !strings.HasSuffix(got, "\n") || len(got) >= len(strings.Repeat("word ", 80)) {
		t.Fatalf("streamed output %q", got)
	}

	// The gateway ended the run as aborted.
	c := g.Dial(t, protocol.ScopeRead)
	deadline = time.Now().Add(10 * time.Second)
	for {
		var res struct {
			Sessions []struct {
				Key            string `json:"key"`
				Status         string `json:"status"`
				HasActiveRun   bool   `json:"hasActiveRun"`
				AbortedLastRun bool   `json:"abortedLastRun"`
			} `json:"sessions"`
		}
		daemontest.Call(t, c, "sessions.list", map[string]any{}, &res)
		if len(res.Sessions) == 1 && !res.Sessions[0].HasActiveRun && res.Sessions[0].AbortedLastRun {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not aborted: %+v", res)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAgentStreamRewrite(t *testing.T) {
	ev := func(runID, state, delta string, replace bool) protocol.EventFrame {
		b, _ := json.Marshal(map[string]any{"runId": runID, "state": state, "deltaText": delta, "replace": replace})
		return protocol.EventFrame{Event: "chat", Payload: b}
	}
	var b bytes.Buffer
	st := &agentStream{w: &b, runID: "r1"}
	st.onEvent(ev("r1", "delta", "Hel", false))
	st.onEvent(ev("other", "delta", "XX", false))
	st.onEvent(ev("r1", "status", "YY", false))
	st.onEvent(ev("r1", "delta", "lo", false))
	st.onEvent(ev("r1", "delta", "Hello, world", true)) // extends what was shown
	st.onEvent(ev("r1", "delta", "Goodbye", true))      // a real rewrite, not a terminal
	st.complete("Goodbye!")
	if got := b.String(); got != "Hello, world\nGoodbye!\n" {
		t.Fatalf("got %q", got)
	}

	b.Reset()
	st = &agentStream{w: &b, runID: "r1", tty: true}
	st.onEvent(ev("r1", "delta", "draft", false))
	st.onEvent(ev("r1", "delta", "final", true))
	st.stop()
	st.onEvent(ev("r1", "delta", " late", false))
	st.complete("final")
	if got := b.String(); got != "draft\r\x1b[Kfinal\n" {
		t.Fatalf("tty: got %q", got)
	}

	// --json: nothing streams.
	b.Reset()
	st = &agentStream{w: &b, runID: "r1", quiet: true}
	st.onEvent(ev("r1", "delta", "x", false))
	if b.Len() != 0 {
		t.Fatalf("quiet stream printed %q", b.String())
	}
}
