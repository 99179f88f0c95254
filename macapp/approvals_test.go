package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/client/clienttest"
	"github.com/pincerhq/pincer/core/protocol"
)

// fakeApprovals serves exec.approval.list/resolve with the shapes of spec
// §5.8/§6.8: list is a bare array of {id, request{…}, createdAtMs, expiresAtMs}.
type fakeApprovals struct {
	mu       sync.Mutex
	pending  []map[string]any
	resolved map[string]string
	scopes   []string
}

func newFakeApprovals(now time.Time) *fakeApprovals {
	req := func(id, command, host, cwd string, allowed ...string) map[string]any {
		if allowed == nil {
			allowed = []string{"allow-once", "allow-always", "deny"}
		}
		return map[string]any{"id": id, "approvalKind": "exec", "createdAtMs": now.Add(-90 * time.Second).UnixMilli(),
			"expiresAtMs": now.Add(2 * time.Minute).UnixMilli(),
			"request": map[string]any{"command": command, "host": host, "cwd": cwd, "nodeId": nil, "agentId": "main",
				"allowedDecisions": allowed}}
	}
	return &fakeApprovals{resolved: map[string]string{}, pending: []map[string]any{
		req("09ecaa2d-1111-4000-8000-000000000001", "rm -rf /tmp/build", "gateway", "/home/u/project"),
		req("09ecbb3e-2222-4000-8000-000000000002", "git push --force", "gateway", "", "allow-once", "deny"),
		req("5c1d0000-3333-4000-8000-000000000003", "uname -a", "node", "/"),
	}}
}

func (f *fakeApprovals) methods() map[string]clienttest.Handler {
	return map[string]clienttest.Handler{
		"exec.approval.list": func(r *clienttest.Request) (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.scopes = r.Conn.Params.Scopes
			return f.pending, nil
		},
		"exec.approval.resolve": func(r *clienttest.Request) (any, error) {
			var p protocol.ExecApprovalResolveParams
			if err := json.Unmarshal(r.Params, &p); err != nil {
				return nil, protocol.InvalidParams("exec.approval.resolve", err.Error())
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for i, e := range f.pending {
				if e["id"] == p.ID {
					f.pending = slices.Delete(f.pending, i, i+1)
					f.resolved[p.ID] = p.Decision
					return map[string]any{"ok": true}, nil
				}
			}
			return nil, protocol.InvalidRequest("unknown or expired approval id")
		},
	}
}

func TestApprovalsAgainstFakeGateway(t *testing.T) {
	isolate(t)
	fa := newFakeApprovals(time.Now())
	srv := clienttest.NewServer(t, clienttest.Config{Token: "T", Methods: fa.methods()})
	run := func(args ...string) cliResult {
		t.Helper()
		return runCLI(t, append(args, "--url", srv.URL, "--token", "T")...)
	}

	r := run("approvals", "list")
	mustContain(t, "approvals list", r,
		"ID                                    COMMAND            HOST     CWD              AGENT  REQUESTED   EXPIRES\n",
		"09ecaa2d-1111-4000-8000-000000000001  rm -rf /tmp/build  gateway  /home/u/project  main   1m 30s ago  in 2m",
		"git push --force", "uname -a", "pincer approvals approve <id>")
	if !slices.Equal(fa.scopes, []string{protocol.ScopeApprovals}) {
		t.Fatalf("scopes %v", fa.scopes)
	}
	r = run("approvals", "list", "--json")
	var raw []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &raw) != nil || len(raw) != 3 {
		t.Fatalf("approvals list --json: %+v", r)
	}

	mustFail(t, "ambiguous", run("approvals", "approve", "09ec"), exitError, `"09ec" matches 2 of the pending approvals`)
	mustFail(t, "unknown", run("approvals", "deny", "zz"), exitError, `no pending approval matches "zz"`, "uname -a")
	mustFail(t, "always not allowed", run("approvals", "approve", "09ecbb", "--always"), exitError,
		"does not allow allow-always (allowed: allow-once, deny)")

	mustContain(t, "approve", run("approvals", "approve", "09ecaa"), "Approved (once) 09ecaa2d-1111-4000-8000-000000000001: rm -rf /tmp/build\n")
	mustContain(t, "deny", run("approvals", "deny", "09ecbb3e-2222-4000-8000-000000000002"), "Denied 09ecbb3e-2222-4000-8000-000000000002: git push --force\n")
	r = run("approvals", "approve", "5c1d", "--always", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"ok": true`) {
		t.Fatalf("approve --always --json: %+v", r)
	}
	fa.mu.Lock()
	got := fmt.Sprint(fa.resolved)
	fa.mu.Unlock()
	want := "map[09ecaa2d-1111-4000-8000-000000000001:allow-once 09ecbb3e-2222-4000-8000-000000000002:deny 5c1d0000-3333-4000-8000-000000000003:allow-always]"
	if got != want {
		t.Fatalf("decisions %s", got)
	}
	mustContain(t, "list empty", run("approvals", "list"), "No pending exec approvals.")
	mustFail(t, "nothing pending", run("approvals", "approve", "5c1d"), exitError, "there are no pending approvals")
}

func TestApprovalsWithoutExecApprovals(t *testing.T) {
	isolate(t)
	srv := clienttest.NewServer(t, clienttest.Config{Token: "T", Methods: map[string]clienttest.Handler{
		"health": func(r *clienttest.Request) (any, error) { return map[string]any{"ok": true}, nil },
	}})
	mustFail(t, "no exec approvals", runCLI(t, "approvals", "list", "--url", srv.URL, "--token", "T"), exitError,
		"does not implement exec approvals (no exec.approval.list)")
}

// Against the real gateway (skipped while core/approvals is not wired in).
func TestApprovalsAgainstGateway(t *testing.T) {
	g := startTestGateway(t, "")
	holder := g.Dial(t, protocol.ScopeApprovals) // an approval client: requests have a route
	if h := holder.Hello(); h == nil || !slices.Contains(h.Features.Methods, "exec.approval.list") {
		t.Skip("exec.approval.* not wired yet")
	}
	mustContain(t, "approvals list empty", runAt(t, g, "approvals", "list"), "No pending exec approvals.")

	requester := g.Dial(t, protocol.ScopeApprovals)
	type final struct {
		payload json.RawMessage
		err     error
	}
	request := func(id, command string) <-chan final {
		ch := make(chan final, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := requester.CallRaw(ctx, "exec.approval.request", map[string]any{"id": id, "command": command, "host": "gateway",
				"cwd": "/tmp", "twoPhase": true, "timeoutMs": 30000}, client.CallOptions{ExpectFinal: true})
			ch <- final{p, err}
		}()
		return ch
	}
	decision := func(ch <-chan final) string {
		t.Helper()
		select {
		case f := <-ch:
			var res struct{ Decision *string }
			if f.err != nil || json.Unmarshal(f.payload, &res) != nil || res.Decision == nil {
				t.Fatalf("request final: %s %v", f.payload, f.err)
			}
			return *res.Decision
		case <-time.After(15 * time.Second):
			t.Fatal("no decision")
		}
		return ""
	}
	waitPending := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := runAt(t, g, "approvals", "list", "--json")
			var list []any
			if r.code == 0 && json.Unmarshal([]byte(r.stdout), &list) == nil && len(list) == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("want %d pending: %+v", n, r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	first := request("cli-test-approve-1", "echo one")
	second := request("cli-test-deny-2", "echo two")
	waitPending(2)
	mustContain(t, "approvals list", runAt(t, g, "approvals", "list"), "cli-test-approve-1", "echo one", "gateway", "/tmp", "cli-test-deny-2")
	mustContain(t, "approve", runAt(t, g, "approvals", "approve", "cli-test-app"), "Approved (once) cli-test-approve-1: echo one")
	if d := decision(first); d != "allow-once" {
		t.Fatalf("first: %s", d)
	}
	mustContain(t, "deny", runAt(t, g, "approvals", "deny", "cli-test-deny-2"), "Denied cli-test-deny-2: echo two")
	if d := decision(second); d != "deny" {
		t.Fatalf("second: %s", d)
	}
	mustFail(t, "approve unknown", runAt(t, g, "approvals", "approve", "nope"), exitError, `no pending approval matches "nope"`)
}

func TestParseApprovals(t *testing.T) {
	for _, in := range []string{
		`[{"id":"a1","request":{"command":"ls","host":"gateway","cwd":"/x"},"createdAtMs":5,"expiresAtMs":9}]`,
		`{"approvals":[{"id":"a1","command":"ls","host":"gateway","cwd":"/x","createdAtMs":5,"expiresAtMs":9}]}`,
		`{"pending":[{"id":"a1","request":{"commandArgv":["ls"],"host":"gateway","cwd":"/x"},"createdAtMs":5,"expiresAtMs":9}]}`,
	} {
		list, err := parseApprovals(json.RawMessage(in))
		if err != nil || len(list) != 1 || list[0].ID != "a1" || list[0].Command != "ls" || list[0].Host != "gateway" ||
			list[0].Cwd != "/x" || list[0].CreatedAtMs != 5 || list[0].ExpiresAtMs != 9 {
			t.Errorf("%s: %+v %v", in, list, err)
		}
	}
	if list, err := parseApprovals(json.RawMessage(`null`)); err != nil || len(list) != 0 {
		t.Errorf("null: %+v %v", list, err)
	}
	if _, err := parseApprovals(json.RawMessage(`"x"`)); err == nil {
		t.Error("string accepted")
	}
	list, _ := parseApprovals(json.RawMessage(`[{"id":"n1","request":{"commandArgv":["echo","a b"],"host":"node","nodeId":"abcdef0123456789"}}]`))
	var b bytes.Buffer
	printApprovals(&b, list, time.Now())
	if !strings.Contains(b.String(), `echo "a b"`) || !strings.Contains(b.String(), "node abcdef012345") {
		t.Errorf("argv/node: %s", b.String())
	}
}
