package approvals_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/approvals"
	"github.com/pincerhq/pincer/core/client"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
	"github.com/pincerhq/pincer/core/protocol/schema"
)

const token = "approvals-test-token"

// wait is the generous bound on anything that should happen promptly.
const wait = 10 * time.Second

type env struct {
	m   *approvals.Manager
	gw  *gateway.Server
	url string
}

// start runs a gateway with the approvals manager on a loopback port.
func start(t *testing.T) *env {
	t.Helper()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Options{Auth: gateway.AuthOptions{Mode: gateway.AuthToken, Token: token, ExemptLoopback: true}, Validator: v})
	m := approvals.New(nil)
	m.Attach(gw)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gw.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx, "test done", 0)
	})
	return &env{m: m, gw: gw, url: "ws://" + ln.Addr().String()}
}

// peer is a connected operator that records its events.
type peer struct {
	c  *client.Client
	mu sync.Mutex
	ev []protocol.EventFrame
	ch chan struct{}
}

func (e *env) dial(t *testing.T, name string, scopes ...string) *peer {
	t.Helper()
	p := &peer{ch: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: e.url, Token: token, Scopes: scopes, DisplayName: name,
		OnEvent: func(ev protocol.EventFrame) {
			p.mu.Lock()
			p.ev = append(p.ev, ev)
			p.mu.Unlock()
			select {
			case p.ch <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p.c = c
	return p
}

// events returns the payloads of the named events received so far.
func (p *peer) events(name string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, ev := range p.ev {
		if ev.Event == name {
			var m map[string]any
			_ = json.Unmarshal(ev.Payload, &m)
			out = append(out, m)
		}
	}
	return out
}

// next waits for the n-th (1-based) event of that name.
func (p *peer) next(t *testing.T, name string, n int) map[string]any {
	t.Helper()
	deadline := time.After(wait)
	for {
		if evs := p.events(name); len(evs) >= n {
			return evs[n-1]
		}
		select {
		case <-p.ch:
		case <-deadline:
			t.Fatalf("no %s event #%d", name, n)
		}
	}
}

// sync is a barrier: a res on the peer's socket comes after every event
// queued for it before the request, and the client handles frames in order.
func (p *peer) sync(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, _ = p.c.CallRaw(ctx, "exec.approval.list", map[string]any{}, client.CallOptions{})
}

func (p *peer) call(t *testing.T, method string, params any) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	raw, err := p.c.CallRaw(ctx, method, params, client.CallOptions{})
	if err != nil {
		return nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out, nil
}

func (p *peer) mustCall(t *testing.T, method string, params any) map[string]any {
	t.Helper()
	out, err := p.call(t, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return out
}

type outcome struct {
	accepted map[string]any
	final    map[string]any
	err      error
}

// request sends exec.approval.request and delivers the outcome later.
func (p *peer) request(params map[string]any) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		var o outcome
		var mu sync.Mutex
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		raw, err := p.c.CallRaw(ctx, "exec.approval.request", params, client.CallOptions{ExpectFinal: true,
			OnAccepted: func(b json.RawMessage) {
				mu.Lock()
				defer mu.Unlock()
				_ = json.Unmarshal(b, &o.accepted)
			}})
		mu.Lock()
		defer mu.Unlock()
		o.err = err
		if err == nil {
			_ = json.Unmarshal(raw, &o.final)
		}
		ch <- o
	}()
	return ch
}

func recv(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(wait):
		t.Fatal("exec.approval.request did not answer")
	}
	return outcome{}
}

func protoErr(t *testing.T, err error) *protocol.Error {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a protocol error", err)
	}
	return pe
}

func reason(pe *protocol.Error) string {
	if d, ok := pe.Details.(map[string]any); ok {
		s, _ := d["reason"].(string)
		return s
	}
	return ""
}

func TestTwoPhaseAllowOnce(t *testing.T) {
	e := start(t)
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	requester := e.dial(t, "requester", protocol.ScopeApprovals)
	reader := e.dial(t, "reader", protocol.ScopeRead)
	admin := e.dial(t, "admin", protocol.ScopeAdmin)

	res := requester.request(map[string]any{"command": "rm -rf /tmp/x", "host": "gateway", "cwd": nil, "twoPhase": true, "timeoutMs": 60000})
	ev := approver.next(t, approvals.EventRequested, 1)
	id, _ := ev["id"].(string)
	req, _ := ev["request"].(map[string]any)
	if ev["approvalKind"] != "exec" || id == "" || req["command"] != "rm -rf /tmp/x" || req["host"] != "gateway" {
		t.Fatalf("requested = %v", ev)
	}
	for _, k := range []string{"systemRunBinding", "systemRunPlan", "cwd", "nodeId", "security", "ask", "warningText", "scope",
		"agentId", "resolvedPath", "sessionKey", "sessionId", "runId", "toolCallId", "turnSourceChannel", "turnSourceTo",
		"turnSourceAccountId", "turnSourceThreadId", "cronExecutionSource", "cronOperationBinding"} {
		if v, ok := req[k]; !ok || v != nil {
			t.Errorf("request.%s = %v (present %v), want null", k, v, ok)
		}
	}
	if a, _ := req["commandAnalysis"].(map[string]any); a == nil || a["commandCount"] != float64(1) {
		t.Errorf("commandAnalysis = %v", req["commandAnalysis"])
	}
	if d, _ := req["allowedDecisions"].([]any); len(d) != 3 {
		t.Errorf("allowedDecisions = %v", req["allowedDecisions"])
	}
	created, _ := ev["createdAtMs"].(float64)
	expires, _ := ev["expiresAtMs"].(float64)
	if expires-created != 60000 {
		t.Errorf("createdAtMs %v expiresAtMs %v", created, expires)
	}
	admin.next(t, approvals.EventRequested, 1) // admin satisfies operator.approvals

	if out := approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": id, "decision": "allow-once"}); out["ok"] != true {
		t.Fatalf("resolve = %v", out)
	}
	o := recv(t, res)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.accepted["status"] != "accepted" || o.accepted["id"] != id || o.accepted["deliveryRoute"] != "approval-client" ||
		o.accepted["createdAtMs"] != created || o.accepted["expiresAtMs"] != expires {
		t.Fatalf("accepted = %v", o.accepted)
	}
	if o.final["id"] != id || o.final["decision"] != "allow-once" || o.final["createdAtMs"] != created || o.final["expiresAtMs"] != expires {
		t.Fatalf("final = %v", o.final)
	}
	rv := approver.next(t, approvals.EventResolved, 1)
	if rv["id"] != id || rv["decision"] != "allow-once" || rv["resolvedBy"] != "approver" || rv["ts"] == nil {
		t.Fatalf("resolved = %v", rv)
	}
	if r, _ := rv["request"].(map[string]any); r["command"] != "rm -rf /tmp/x" {
		t.Fatalf("resolved.request = %v", rv["request"])
	}
	// The requester gets the resolution but never its own request.
	requester.next(t, approvals.EventResolved, 1)
	if n := len(requester.events(approvals.EventRequested)); n != 0 {
		t.Fatalf("requester got %d requested events", n)
	}
	// The guard: a read-only operator gets neither.
	reader.sync(t)
	if n := len(reader.events(approvals.EventRequested)) + len(reader.events(approvals.EventResolved)); n != 0 {
		t.Fatalf("read-only client got %d approval events", n)
	}
	if len(e.m.Pending()) != 0 {
		t.Fatalf("pending = %v", e.m.Pending())
	}
}

func TestDenySinglePhase(t *testing.T) {
	e := start(t)
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	requester := e.dial(t, "requester", protocol.ScopeApprovals)
	res := requester.request(map[string]any{"commandArgv": []string{"curl", "http://example.invalid"}})
	ev := approver.next(t, approvals.EventRequested, 1)
	req := ev["request"].(map[string]any)
	if req["command"] != "curl http://example.invalid" || req["host"] != nil {
		t.Fatalf("request = %v", req)
	}
	approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": ev["id"], "decision": "deny"})
	o := recv(t, res)
	if o.err != nil || o.accepted != nil || o.final["decision"] != "deny" || o.final["id"] != ev["id"] {
		t.Fatalf("outcome = %+v", o)
	}
}

func TestNoApprovalClientExpiresAtOnce(t *testing.T) {
	e := start(t)
	requester := e.dial(t, "requester", protocol.ScopeApprovals)
	e.dial(t, "reader", protocol.ScopeRead, protocol.ScopeWrite) // not an approval client
	o := recv(t, requester.request(map[string]any{"command": "ls", "twoPhase": true}))
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.accepted != nil {
		t.Fatalf("accepted without a route: %v", o.accepted)
	}
	if v, ok := o.final["decision"]; !ok || v != nil || o.final["id"] == "" {
		t.Fatalf("final = %v", o.final)
	}
	if n := len(e.m.Pending()); n != 0 {
		t.Fatalf("%d pending", n)
	}
	// requireDeliveryRoute:false keeps it pending without a route.
	res := requester.request(map[string]any{"command": "ls", "twoPhase": true, "requireDeliveryRoute": false, "timeoutMs": 60000})
	deadline := time.Now().Add(wait)
	for len(e.m.Pending()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p := e.m.Pending()
	if len(p) != 1 {
		t.Fatalf("pending = %v", p)
	}
	if err := e.m.Resolve(p[0].ID, approvals.Deny, "go"); err != nil {
		t.Fatal(err)
	}
	o = recv(t, res)
	if o.accepted["deliveryRoute"] != "none" || o.final["decision"] != "deny" {
		t.Fatalf("outcome = %+v", o)
	}
}

func TestTimeoutYieldsNull(t *testing.T) {
	e := start(t)
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	requester := e.dial(t, "requester", protocol.ScopeApprovals)
	res := requester.request(map[string]any{"command": "sleep 1", "twoPhase": true, "timeoutMs": 100})
	ev := approver.next(t, approvals.EventRequested, 1)
	o := recv(t, res)
	if o.err != nil || o.accepted["status"] != "accepted" {
		t.Fatalf("outcome = %+v", o)
	}
	if v, ok := o.final["decision"]; !ok || v != nil {
		t.Fatalf("final = %v", o.final)
	}
	// Resolving it now: unknown or expired.
	_, err := approver.call(t, "exec.approval.resolve", map[string]any{"id": ev["id"], "decision": "allow-once"})
	if pe := protoErr(t, err); pe.Code != protocol.CodeInvalidRequest || pe.DetailCode() != protocol.DetailApprovalNotFound {
		t.Fatalf("resolve expired = %+v", pe)
	}
	// waitDecision within the grace period answers null at once.
	w := approver.mustCall(t, "exec.approval.waitDecision", map[string]any{"id": ev["id"]})
	if v, ok := w["decision"]; !ok || v != nil || w["id"] != ev["id"] {
		t.Fatalf("waitDecision = %v", w)
	}
}

func TestResolveErrors(t *testing.T) {
	e := start(t)
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	_, err := approver.call(t, "exec.approval.resolve", map[string]any{"id": "nope", "decision": "allow-once"})
	pe := protoErr(t, err)
	if pe.Code != protocol.CodeInvalidRequest || pe.DetailCode() != protocol.DetailApprovalNotFound ||
		reason(pe) != protocol.DetailApprovalNotFound || pe.Message != "unknown or expired approval id" {
		t.Fatalf("unknown id = %+v", pe)
	}
	requester := e.dial(t, "requester", protocol.ScopeApprovals)
	res := requester.request(map[string]any{"command": "make install", "ask": "always"})
	ev := approver.next(t, approvals.EventRequested, 1)
	id := ev["id"].(string)
	if d := ev["request"].(map[string]any)["allowedDecisions"].([]any); len(d) != 2 {
		t.Fatalf("allowedDecisions with ask=always = %v", d)
	}
	_, err = approver.call(t, "exec.approval.resolve", map[string]any{"id": id, "decision": "maybe"})
	if pe := protoErr(t, err); pe.Message != "invalid decision" {
		t.Fatalf("invalid decision = %+v", pe)
	}
	_, err = approver.call(t, "exec.approval.resolve", map[string]any{"id": id, "decision": "allow-always"})
	if pe := protoErr(t, err); reason(pe) != protocol.DetailApprovalAllowAlwaysUnavailable {
		t.Fatalf("allow-always with ask=always = %+v", pe)
	}
	// A unique prefix resolves; an identical repeat is idempotent; a
	// conflicting one is refused.
	approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": id[:8], "decision": "deny"})
	approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": id, "decision": "deny"})
	_, err = approver.call(t, "exec.approval.resolve", map[string]any{"id": id, "decision": "allow-once"})
	if pe := protoErr(t, err); reason(pe) != protocol.DetailApprovalAlreadyResolved {
		t.Fatalf("conflicting repeat = %+v", pe)
	}
	if o := recv(t, res); o.final["decision"] != "deny" {
		t.Fatalf("outcome = %+v", o)
	}
	// Schema and request validation.
	_, err = approver.call(t, "exec.approval.resolve", map[string]any{"id": id})
	if pe := protoErr(t, err); pe.Code != protocol.CodeInvalidRequest {
		t.Fatalf("missing decision = %+v", pe)
	}
	for _, tc := range []struct {
		params map[string]any
		msg    string
	}{
		{map[string]any{"command": "ls", "host": "node"}, "nodeId is required for host=node"},
		{map[string]any{"command": "ls", "host": "node", "nodeId": "n1"}, "systemRunPlan is required for host=node"},
		{map[string]any{"host": "gateway"}, "command is required"},
		{map[string]any{"command": "ls", "id": "plugin:x"}, "approval ids starting with plugin: are reserved"},
	} {
		o := recv(t, approver.request(tc.params))
		if pe := protoErr(t, o.err); pe.Message != tc.msg {
			t.Errorf("%v: %q, want %q", tc.params, pe.Message, tc.msg)
		}
	}
	// Scope: a read-only operator may not request.
	reader := e.dial(t, "reader", protocol.ScopeRead)
	o := recv(t, reader.request(map[string]any{"command": "ls"}))
	if pe := protoErr(t, o.err); pe.Code != protocol.CodeForbidden || pe.Message != "missing scope: operator.approvals" {
		t.Fatalf("read-only request = %+v", pe)
	}
}

func TestListGetWaitDecision(t *testing.T) {
	e := start(t)
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	requester := e.dial(t, "requester", protocol.ScopeApprovals)
	res := requester.request(map[string]any{"id": "appr-1", "command": "git push --force", "agentId": "main",
		"sessionKey": "agent:main:main", "cwd": "/srv/repo", "timeoutMs": 60000, "twoPhase": true})
	approver.next(t, approvals.EventRequested, 1)

	raw, err := approver.c.CallRaw(context.Background(), "exec.approval.list", nil, client.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(raw, &list); err != nil || len(list) != 1 {
		t.Fatalf("list = %s", raw)
	}
	if l := list[0]; l["id"] != "appr-1" || l["approvalKind"] != "exec" || l["request"].(map[string]any)["cwd"] != "/srv/repo" ||
		l["createdAtMs"] == nil || l["expiresAtMs"] == nil {
		t.Fatalf("list[0] = %v", l)
	}
	g := approver.mustCall(t, "exec.approval.get", map[string]any{"id": "appr-1"})
	if g["id"] != "appr-1" || g["commandText"] != "git push --force" || g["agentId"] != "main" || g["host"] != nil ||
		g["nodeId"] != nil || len(g["allowedDecisions"].([]any)) != 3 || g["expiresAtMs"] != list[0]["expiresAtMs"] {
		t.Fatalf("get = %v", g)
	}
	if v, ok := g["commandPreview"]; !ok || v != nil {
		t.Fatalf("get.commandPreview = %v", g)
	}
	// A bounded wait on a pending approval answers null.
	w := approver.mustCall(t, "exec.approval.waitDecision", map[string]any{"id": "appr-1", "timeoutMs": 50})
	if v, ok := w["decision"]; !ok || v != nil {
		t.Fatalf("bounded waitDecision = %v", w)
	}
	// An unbounded wait answers with the decision.
	waited := make(chan map[string]any, 1)
	go func() {
		out, _ := approver.call(t, "exec.approval.waitDecision", map[string]any{"id": "appr-1"})
		waited <- out
	}()
	// Duplicate explicit id while pending.
	if o := recv(t, approver.request(map[string]any{"id": "appr-1", "command": "ls"})); protoErr(t, o.err).Message != "approval id already pending" {
		t.Fatalf("duplicate id = %+v", o)
	}
	approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": "appr-1", "decision": "allow-once"})
	select {
	case w := <-waited:
		if w["decision"] != "allow-once" || w["id"] != "appr-1" {
			t.Fatalf("waitDecision = %v", w)
		}
	case <-time.After(wait):
		t.Fatal("waitDecision did not answer")
	}
	if o := recv(t, res); o.final["decision"] != "allow-once" {
		t.Fatalf("outcome = %+v", o)
	}
	// Resolved: gone from list and get, still answered by waitDecision.
	raw, _ = approver.c.CallRaw(context.Background(), "exec.approval.list", map[string]any{}, client.CallOptions{})
	if string(raw) != "[]" {
		t.Fatalf("list after resolve = %s", raw)
	}
	_, err = approver.call(t, "exec.approval.get", map[string]any{"id": "appr-1"})
	if pe := protoErr(t, err); pe.DetailCode() != protocol.DetailApprovalNotFound {
		t.Fatalf("get resolved = %+v", pe)
	}
	if w := approver.mustCall(t, "exec.approval.waitDecision", map[string]any{"id": "appr-1"}); w["decision"] != "allow-once" {
		t.Fatalf("waitDecision after resolve = %v", w)
	}
	_, err = approver.call(t, "exec.approval.waitDecision", map[string]any{"id": "nope"})
	if pe := protoErr(t, err); pe.Message != "approval expired or not found" {
		t.Fatalf("waitDecision unknown = %+v", pe)
	}
	_, err = approver.call(t, "exec.approval.waitDecision", map[string]any{})
	if pe := protoErr(t, err); pe.Message != "id is required" {
		t.Fatalf("waitDecision without id = %+v", pe)
	}
}

// ask runs Manager.Ask in the background.
func ask(m *approvals.Manager, ctx context.Context, r approvals.Request) <-chan struct {
	d   approvals.Decision
	err error
} {
	ch := make(chan struct {
		d   approvals.Decision
		err error
	}, 1)
	go func() {
		d, err := m.Ask(ctx, r)
		ch <- struct {
			d   approvals.Decision
			err error
		}{d, err}
	}()
	return ch
}

func TestAskFromGo(t *testing.T) {
	e := start(t)
	// No approval client: None at once.
	d, err := e.m.Ask(context.Background(), approvals.Request{Command: "ls"})
	if err != nil || d != approvals.None {
		t.Fatalf("Ask without clients = %q, %v", d, err)
	}
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	sk, tc := "agent:main:main", "call-1"
	res := ask(e.m, context.Background(), approvals.Request{Command: "rm -rf build", SessionKey: &sk, ToolCallID: &tc})
	ev := approver.next(t, approvals.EventRequested, 1)
	req := ev["request"].(map[string]any)
	if req["host"] != "gateway" || req["sessionKey"] != sk || req["toolCallId"] != tc {
		t.Fatalf("request = %v", req)
	}
	if p := e.m.Pending(); len(p) != 1 || p[0].ID != ev["id"] || p[0].Request.Command != "rm -rf build" {
		t.Fatalf("Pending = %+v", p)
	}
	approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": ev["id"], "decision": "allow-once"})
	r := <-res
	if r.err != nil || r.d != approvals.AllowOnce || !r.d.Allowed() {
		t.Fatalf("Ask = %q, %v", r.d, r.err)
	}
	// The caller giving up withdraws the approval.
	ctx, cancel := context.WithCancel(context.Background())
	res = ask(e.m, ctx, approvals.Request{Command: "reboot"})
	approver.next(t, approvals.EventRequested, 2)
	cancel()
	r = <-res
	if !errors.Is(r.err, context.Canceled) || r.d != approvals.None {
		t.Fatalf("cancelled Ask = %q, %v", r.d, r.err)
	}
	if p := e.m.Pending(); len(p) != 0 {
		t.Fatalf("Pending after cancel = %+v", p)
	}
	// Timeout.
	d, err = e.m.Ask(context.Background(), approvals.Request{Command: "reboot", Timeout: 50 * time.Millisecond})
	if err != nil || d != approvals.None {
		t.Fatalf("Ask timeout = %q, %v", d, err)
	}
	// Invalid requests.
	if _, err := e.m.Ask(context.Background(), approvals.Request{Host: "node", Command: "ls"}); err == nil {
		t.Fatal("host=node without nodeId accepted")
	}
}

func TestAllowAlwaysMemory(t *testing.T) {
	e := start(t)
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	requester := e.dial(t, "requester", protocol.ScopeApprovals)
	n := 0
	decide := func(r approvals.Request, d string) approvals.Decision {
		t.Helper()
		res := ask(e.m, context.Background(), r)
		n++
		ev := approver.next(t, approvals.EventRequested, n)
		approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": ev["id"], "decision": d})
		out := <-res
		if out.err != nil {
			t.Fatal(out.err)
		}
		return out.d
	}
	remembered := func(r approvals.Request) bool {
		t.Helper()
		d, err := e.m.Ask(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		return d == approvals.AllowAlways
	}
	if d := decide(approvals.Request{CommandArgv: []string{"/bin/ls", "-l"}}, "allow-always"); d != approvals.AllowAlways {
		t.Fatalf("decision = %q", d)
	}
	// Same executable, other arguments: allowed without asking.
	if !remembered(approvals.Request{CommandArgv: []string{"/bin/ls", "/etc"}}) {
		t.Fatal("allow-always not remembered")
	}
	// Over the wire too: the final answer comes at once, without an ack.
	o := recv(t, requester.request(map[string]any{"commandArgv": []string{"/bin/ls"}, "twoPhase": true}))
	if o.err != nil || o.accepted != nil || o.final["decision"] != "allow-always" {
		t.Fatalf("wire request = %+v", o)
	}
	approver.sync(t)
	if got := len(approver.events(approvals.EventRequested)); got != n {
		t.Fatalf("approver asked %d times, want %d", got, n)
	}

	// Other executables, hosts and nodes are not covered. Each asks (and is
	// denied here), proving it reached the approver.
	node := "node-1"
	plan, _ := json.Marshal(map[string]any{"argv": []string{"/bin/ls"}, "cwd": nil, "commandText": "/bin/ls", "agentId": nil, "sessionKey": nil})
	for _, r := range []approvals.Request{
		{CommandArgv: []string{"/bin/cat", "x"}},
		{Host: "node", NodeID: &node, CommandArgv: []string{"/bin/ls"}, SystemRunPlan: plan},
	} {
		if d := decide(r, "deny"); d != approvals.Deny {
			t.Fatalf("%+v: %q", r, d)
		}
	}
	// Shell wrappers are remembered by their exact command text only.
	decide(approvals.Request{CommandArgv: []string{"sh", "-c", "echo hi"}}, "allow-always")
	if !remembered(approvals.Request{CommandArgv: []string{"sh", "-c", "echo hi"}}) {
		t.Fatal("identical shell command not remembered")
	}
	if d := decide(approvals.Request{CommandArgv: []string{"sh", "-c", "rm -rf /"}}, "deny"); d != approvals.Deny {
		t.Fatalf("other shell command = %q", d)
	}
	// Plain command text is remembered exactly.
	decide(approvals.Request{Command: "make deploy"}, "allow-always")
	if !remembered(approvals.Request{Command: "make deploy"}) {
		t.Fatal("command text not remembered")
	}
	// ask=always disables the memory.
	res := requester.request(map[string]any{"command": "make deploy", "ask": "always"})
	n++
	ev := approver.next(t, approvals.EventRequested, n)
	approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": ev["id"], "decision": "allow-once"})
	if o := recv(t, res); o.final["decision"] != "allow-once" {
		t.Fatalf("ask=always outcome = %+v", o)
	}
}

func TestRequesterLeavingKeepsApproval(t *testing.T) {
	e := start(t)
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	requester := e.dial(t, "requester", protocol.ScopeApprovals)
	_ = requester.request(map[string]any{"id": "left-1", "command": "ls", "timeoutMs": 60000})
	approver.next(t, approvals.EventRequested, 1)
	_ = requester.c.Close()
	approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": "left-1", "decision": "allow-once"})
	if rv := approver.next(t, approvals.EventResolved, 1); rv["id"] != "left-1" {
		t.Fatalf("resolved = %v", rv)
	}
}

func TestNodeHostRequest(t *testing.T) {
	e := start(t)
	approver := e.dial(t, "approver", protocol.ScopeApprovals)
	node := e.dial(t, "node-host", protocol.ScopeApprovals)
	res := node.request(map[string]any{
		"id": "node-appr", "host": "node", "nodeId": "n1", "command": "ls -la", "commandArgv": []string{"ls", "-la"},
		"systemRunPlan": map[string]any{"argv": []string{"/bin/ls", "-la"}, "cwd": nil, "commandText": "/bin/ls -la",
			"commandPreview": nil, "agentId": "main", "sessionKey": nil, "mutableFileOperand": nil},
		"env": map[string]string{"FOO": "bar"}, "cwd": nil, "security": "allowlist", "ask": "on-miss", "agentId": nil,
		"resolvedPath": "/bin/ls", "sessionKey": nil, "turnSourceThreadId": 42, "timeoutMs": 60000, "twoPhase": true,
	})
	ev := approver.next(t, approvals.EventRequested, 1)
	req := ev["request"].(map[string]any)
	if req["command"] != "/bin/ls -la" || req["nodeId"] != "n1" || req["host"] != "node" || req["agentId"] != "main" ||
		req["security"] != "allowlist" || req["ask"] != "on-miss" || req["resolvedPath"] != "/bin/ls" || req["turnSourceThreadId"] != float64(42) {
		t.Fatalf("request = %v", req)
	}
	if _, ok := req["commandArgv"]; ok {
		t.Fatalf("node request carries commandArgv: %v", req)
	}
	if plan, _ := req["systemRunPlan"].(map[string]any); plan["commandText"] != "/bin/ls -la" {
		t.Fatalf("systemRunPlan = %v", req["systemRunPlan"])
	}
	sum := sha256.Sum256([]byte(`[["FOO","bar"]]`))
	b, _ := req["systemRunBinding"].(map[string]any)
	if b["envHash"] != hex.EncodeToString(sum[:]) || b["cwd"] != nil || b["agentId"] != "main" || len(b["argv"].([]any)) != 2 {
		t.Fatalf("systemRunBinding = %v", req["systemRunBinding"])
	}
	if k, _ := req["envKeys"].([]any); len(k) != 1 || k[0] != "FOO" {
		t.Fatalf("envKeys = %v", req["envKeys"])
	}
	approver.mustCall(t, "exec.approval.resolve", map[string]any{"id": "node-appr", "decision": "allow-once",
		"reviewer": map[string]any{"channel": "telegram", "accountId": "a", "senderId": "s"}})
	if o := recv(t, res); o.accepted["id"] != "node-appr" || o.final["decision"] != "allow-once" {
		t.Fatalf("outcome = %+v", o)
	}
}
