package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// withConfirm makes the confirmation prompts see a terminal (or not) that
// answers input.
func withConfirm(t *testing.T, interactive bool, input string) {
	t.Helper()
	oldIn, oldInteractive := confirmInput, stdinInteractive
	confirmInput = strings.NewReader(input)
	stdinInteractive = func() bool { return interactive }
	t.Cleanup(func() { confirmInput, stdinInteractive = oldIn, oldInteractive })
}

func TestSessionsAgainstGateway(t *testing.T) {
	g, _ := startAgentGateway(t, "")

	mustContain(t, "no sessions", runAt(t, g, "sessions", "list"), "No sessions.")
	mustContain(t, "agent", runAt(t, g, "agent", "-m", "hi"), "Hello from fake model. Echo: hi")
	mustContain(t, "agent 2", runAt(t, g, "agent", "-m", "two", "--session", "agent:main:two"), "Echo: two")

	r := runAt(t, g, "sessions", "list")
	mustContain(t, "sessions list", r, "KEY              AGENT  UPDATED   MODEL        TOKENS  STATUS\n",
		"agent:main:main  main   just now  fake/fake-1  ", "agent:main:two", " done\n")
	r = runAt(t, g, "sessions", "list", "--limit", "1", "--agent", "main")
	mustContain(t, "sessions list --limit", r, "Showing 1 of 2 sessions")
	var list struct {
		Sessions []map[string]any `json:"sessions"`
	}
	r = runAt(t, g, "sessions", "list", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Sessions) != 2 {
		t.Fatalf("sessions list --json: %+v", r)
	}
	mustFail(t, "bad limit", runAt(t, g, "sessions", "list", "--limit", "0"), exitUsage, "--limit must be positive")

	r = runAt(t, g, "sessions", "history", "agent:main:main")
	mustContain(t, "history", r, "Session agent:main:main (2 messages)\n", "TIME                 ROLE       TEXT\n",
		"  user       hi\n", "  assistant  Hello from fake model. Echo: hi\n")
	r = runAt(t, g, "sessions", "history", "agent:main:main", "--limit", "1")
	mustContain(t, "history --limit", r, "(1 message)", "assistant", "Older messages are not shown (2 in all)")
	r = runAt(t, g, "sessions", "history", "agent:main:main", "--json")
	var hist struct {
		Messages []map[string]any `json:"messages"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &hist) != nil || len(hist.Messages) != 2 || hist.Messages[0]["role"] != "user" {
		t.Fatalf("history --json: %+v", r)
	}
	mustContain(t, "history of nothing", runAt(t, g, "sessions", "history", "agent:main:nothing"), "No messages in session agent:main:nothing.")
	mustFail(t, "history limit", runAt(t, g, "sessions", "history", "x", "--limit", "1001"), exitUsage, "--limit")

	// Reset: refused without a terminal, asked in one.
	withConfirm(t, false, "")
	mustFail(t, "reset non-interactive", runAt(t, g, "sessions", "reset", "agent:main:main"), exitError,
		"not resetting session agent:main:main without confirmation", "--yes")
	withConfirm(t, true, "n\n")
	r = runAt(t, g, "sessions", "reset", "agent:main:main")
	mustFail(t, "reset declined", r, exitError, "Reset session agent:main:main? Its conversation history will be cleared. [y/N] ",
		"session agent:main:main was not reset")
	mustContain(t, "history kept", runAt(t, g, "sessions", "history", "agent:main:main"), "(2 messages)")

	withConfirm(t, true, "y\n")
	mustContain(t, "reset confirmed", runAt(t, g, "sessions", "reset", "agent:main:main"), "Reset session agent:main:main (new session id ")
	mustContain(t, "history after reset", runAt(t, g, "sessions", "history", "agent:main:main"), "No messages in session agent:main:main.")

	withConfirm(t, false, "")
	mustContain(t, "agent after reset", runAt(t, g, "agent", "-m", "back"), "Echo: back")
	mustContain(t, "reset --yes", runAt(t, g, "sessions", "reset", "agent:main:two", "--yes"), "Reset session agent:main:two")
	mustContain(t, "history two", runAt(t, g, "sessions", "history", "agent:main:two"), "No messages")
	mustContain(t, "history main kept", runAt(t, g, "sessions", "history", "agent:main:main"), "(2 messages)", "Echo: back")

	// /new resets through the agent method (it needs operator.admin).
	r = runAt(t, g, "agent", "-m", "/new")
	if r.code != 0 || r.stdout != "" || r.stderr != "(no reply: session reset)\n" {
		t.Fatalf("agent /new: %+v", r)
	}
	mustContain(t, "history after /new", runAt(t, g, "sessions", "history", "agent:main:main"), "No messages")
}

func TestPrintHistoryToolCalls(t *testing.T) {
	var res map[string]any
	ts := time.Date(2026, 11, 22, 3, 4, 5, 0, time.Local).UnixMilli()
	_ = json.Unmarshal([]byte(`{"sessionKey":"agent:main:main","hasMore":false,"messages":[
	 {"role":"user","content":"list files\nin /tmp","timestamp":`+jsonInt(ts)+`},
	 {"role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"Sure."},
	   {"type":"toolCall","id":"c1","name":"exec","arguments":{"command":"ls /tmp"}}],"timestamp":`+jsonInt(ts)+`},
	 {"role":"toolResult","toolName":"exec","toolCallId":"c1","isError":false,"content":[{"type":"text","text":"a.txt\nb.txt"}],"timestamp":`+jsonInt(ts)+`},
	 {"role":"toolResult","toolName":"exec","isError":true,"content":[{"type":"text","text":"denied"}]},
	 {"role":"assistant","content":[{"type":"image"},{"type":"text","text":"Two files."}],"timestamp":`+jsonInt(ts)+`}]}`), &res)
	var b bytes.Buffer
	printHistory(&b, "x", res)
	want := "Session agent:main:main (5 messages)\n" +
		"TIME                 ROLE       TEXT\n" +
		"2026-11-22 03:04:05  user       list files\n" +
		"                                in /tmp\n" +
		"2026-11-22 03:04:05  assistant  Sure.\n" +
		"                                → exec {\"command\":\"ls /tmp\"}\n" +
		"2026-11-22 03:04:05  tool       ← exec: a.txt …\n" +
		"-                    tool       ← exec (error): denied\n" +
		"2026-11-22 03:04:05  assistant  [image]\n" +
		"                                Two files.\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 950: "950", 1000: "1k", 12_500: "12.5k", 128_000: "128k", 131_072: "131k",
		1_000_000: "1M", 1_048_576: "1M", 2_500_000: "2.5M"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAgentSessionsModelsUsageErrors(t *testing.T) {
	isolate(t)
	for _, args := range [][]string{
		{"agent"},
		{"agent", "extra", "-m", "x"},
		{"agent", "-m", "x", "--agent", " "},
		{"agent", "-m", "x", "--session", ""},
		{"agent", "-m", "x", "--timeout-seconds", "-1"},
		{"sessions", "history"},
		{"sessions", "history", " "},
		{"sessions", "reset"},
		{"sessions", "list", "--limit", "-3"},
		{"models", "set"},
		{"models", "set", "nope"},
		{"models", "set", "/x"},
		{"models", "set", "p/"},
		{"models", "set", "p/a b"},
		{"models", "list", "x"},
		{"approvals", "approve"},
		{"approvals", "deny", "a", "b"},
		{"approvals", "deny", "a", "--always"},
	} {
		r := runCLI(t, args...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "--help' for usage") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
