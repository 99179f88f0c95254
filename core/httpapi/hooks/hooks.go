// Package hooks serves the webhooks (spec §10.3: /hooks/wake, /hooks/agent,
// /hooks/<name> through hooks.mappings) and tools invoke (§10.4: POST
// /tools/invoke and the tools.invoke method) on the gateway port.
//
// The hooks block is read on every request, so enabling, disabling,
// rotating hooks.token or editing mappings applies on a config reload.
// hooks.path is the exception: the gateway's router is fixed once it
// serves, so the default /hooks and the path configured at start are
// mounted; a path changed later is served after a restart (the gateway
// logs this when such a request arrives). Requests to a mounted path that
// is not the configured one, and every request while hooks are disabled,
// are not served here: POST gets 404, other methods fall through to the
// rest of the gateway (the Control UI's SPA).
package hooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/agent/tools"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/sessions"
)

// Agents runs agent turns and single tools.
type Agents interface {
	Submit(ctx context.Context, t agent.Turn) (*agent.Ticket, error)
	InvokeTool(ctx context.Context, agentID, sessionKey, name string, args json.RawMessage, deny []string) (tools.Result, error)
}

// Heartbeat queues system events for the main session and wakes it.
type Heartbeat interface {
	Enqueue(text, sessionKey string) error
	Wake(reason string)
}

// queueReader is optionally implemented by the Heartbeat (cron's is): it
// lets /hooks/wake answer "coalesced" for a repeat of the newest event.
type queueReader interface{ Queued() []string }

// Deps are what the endpoints need.
type Deps struct {
	Config    func() *config.Config
	Agents    Agents
	Heartbeat Heartbeat
	// Messenger delivers hook replies to channels (deliver:true).
	Messenger tools.MessageAPI
	Log       *slog.Logger
}

// Register mounts the endpoints (and tools.invoke) on the gateway.
func Register(srv *gateway.Server, d Deps) {
	s := newServer(srv, d)
	paths := []string{DefaultPath}
	if d.Config != nil {
		cfg := d.Config()
		if p, err := normalizeBasePath(hooksPath(cfg)); err == nil && p != "" && p != DefaultPath {
			paths = append(paths, p)
		}
		if st := resolveSettings(cfg); st != nil && st.invalid == nil && st.token != "" &&
			(st.token == cfg.Gateway.Auth.Token || st.token == cfg.Gateway.Auth.Password) {
			s.log.Warn("hooks.token equals the gateway's shared secret; give hooks a dedicated token so a webhook sender cannot operate the gateway")
		}
	}
	for _, p := range paths {
		s.mount(p, p, p+"/")
	}
	s.mountTools()
}

// server is the state behind the endpoints.
type server struct {
	srv     *gateway.Server
	d       Deps
	log     *slog.Logger
	limiter *failLimiter
	mounted map[string]bool

	mu      sync.Mutex
	replays map[string]*dispatch
	warned  map[string]bool
	locks   keyLocks

	// The reference's time bounds: single-run admission, fan-out answer,
	// and (Pincer's) default waitForCompletion bound.
	admissionTimeout time.Duration
	fanOutDeadline   time.Duration
	defaultWait      time.Duration
}

func newServer(srv *gateway.Server, d Deps) *server {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &server{srv: srv, d: d, log: log.With("component", "hooks"), limiter: newFailLimiter(), mounted: map[string]bool{},
		replays: map[string]*dispatch{}, warned: map[string]bool{}, locks: keyLocks{m: map[string]*keyLock{}},
		admissionTimeout: 15 * time.Second, fanOutDeadline: 8 * time.Second, defaultWait: 120 * time.Second}
}

// mount registers the hooks handler under a base path; a pattern that
// clashes with another package's route is logged, not fatal.
func (s *server) mount(base string, patterns ...string) {
	for _, p := range patterns {
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.log.Error("cannot serve hooks on this path: it clashes with another gateway route; choose another hooks.path", "path", base, "err", fmt.Sprint(r))
				}
			}()
			s.srv.Handle(p, s)
			s.mounted[base] = true
		}()
	}
}

func hooksPath(cfg *config.Config) any {
	if cfg == nil || cfg.Hooks == nil {
		return nil
	}
	return cfg.Hooks["path"]
}

// fallthroughKey marks a request re-dispatched past the hooks routes.
type fallthroughKey struct{}

// fallthroughPrefix moves a request that hooks do not serve off the hooks
// routes so the gateway's other handlers (the SPA fallback) answer it.
const fallthroughPrefix = "/__pincer_hooks_fallthrough"

func (s *server) notServed(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost || r.Context().Value(fallthroughKey{}) != nil || s.srv == nil {
		plain(w, http.StatusNotFound, "Not Found")
		return
	}
	r2 := r.Clone(context.WithValue(r.Context(), fallthroughKey{}, true))
	r2.URL.Path = fallthroughPrefix + r.URL.Path
	r2.URL.RawPath = ""
	s.srv.ServeHTTP(w, r2)
}

func underPath(p, base string) bool {
	return p == base || strings.HasPrefix(p, base+"/")
}

// warnOnce logs a configuration problem the first time it is seen.
func (s *server) warnOnce(msg string, args ...any) {
	s.mu.Lock()
	seen := s.warned[msg]
	s.warned[msg] = true
	s.mu.Unlock()
	if !seen {
		s.log.Warn(msg, args...)
	}
}

// request is one authenticated hook request.
type request struct {
	st      *settings
	cfg     *config.Config
	token   string
	sub     string
	payload map[string]any
	headers map[string]any
	idem    string
	r       *http.Request
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Context().Value(fallthroughKey{}) != nil {
		plain(w, http.StatusNotFound, "Not Found")
		return
	}
	var cfg *config.Config
	if s.d.Config != nil {
		cfg = s.d.Config()
	}
	st := resolveSettings(cfg)
	if st == nil || !underPath(r.URL.Path, st.basePath) {
		if st != nil && !s.mounted[st.basePath] {
			s.warnOnce("hooks.path changed since the gateway started; restart the gateway to serve hooks there", "path", st.basePath)
		}
		s.notServed(w, r)
		return
	}
	if st.invalid != nil {
		s.warnOnce("hooks are enabled but misconfigured; every hook request fails until this is fixed", "err", st.invalid.Error())
		plain(w, http.StatusInternalServerError, "Hooks are misconfigured: "+st.invalid.Error())
		return
	}
	if r.URL.Query().Has("token") {
		plain(w, http.StatusBadRequest, "Hook token must be provided via Authorization: Bearer <token> or X-OpenClaw-Token header (query parameters are not allowed).")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		plain(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	token := hookToken(r)
	client := clientKey(r, cfg.Gateway.TrustedProxies)
	if !secretEqual(token, st.token) {
		if wait := s.limiter.locked(client); wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			plain(w, http.StatusTooManyRequests, "Too Many Requests")
			s.log.Warn("hook auth throttled", "client", client, "retryAfterSeconds", secs)
			return
		}
		s.limiter.failure(client)
		plain(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	s.limiter.reset(client)
	sub := strings.TrimLeft(r.URL.Path[len(st.basePath):], "/")
	if sub == "" {
		plain(w, http.StatusNotFound, "Not Found")
		return
	}
	payload, code, msg := readJSONBody(w, r, st.bodyLimit(sub))
	if code != 0 {
		writeJSON(w, code, map[string]any{"ok": false, "error": msg})
		return
	}
	req := &request{st: st, cfg: cfg, token: token, sub: sub, payload: payload, headers: lowerHeaders(r.Header), r: r}
	req.idem = idempotencyKey(r.Header, payload)
	switch sub {
	case "wake":
		s.serveWake(w, req)
	case "agent":
		s.serveAgent(w, req)
	default:
		s.serveMapped(w, req)
	}
}

// hookToken reads the hook token: a non-empty Bearer token first, then
// x-openclaw-token.
func hookToken(r *http.Request) string {
	if t := gateway.BearerToken(r); t != "" {
		return t
	}
	return strings.TrimSpace(r.Header.Get("X-OpenClaw-Token"))
}

func secretEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// idempotencyKey: Idempotency-Key, X-OpenClaw-Idempotency-Key, then the
// payload's idempotencyKey; trimmed, non-empty, at most 256 characters.
func idempotencyKey(h http.Header, payload map[string]any) string {
	for _, v := range []string{h.Get("Idempotency-Key"), h.Get("X-OpenClaw-Idempotency-Key"), stringOf(payload["idempotencyKey"])} {
		if v = strings.TrimSpace(v); v != "" && len([]rune(v)) <= maxIdempotencyKey {
			return v
		}
	}
	return ""
}

func lowerHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[strings.ToLower(k)] = strings.Join(v, ", ")
		}
	}
	return out
}

// bodyReadTimeout bounds reading a request body (408 after it).
const bodyReadTimeout = 30 * time.Second

// readJSONBody reads a JSON body of at most limit bytes; an empty body is
// {} and a JSON value that is not an object counts as {} (as in the
// reference). code is non-zero on failure.
func readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) (map[string]any, int, string) {
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, "payload too large"
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			return nil, http.StatusRequestEntityTooLarge, "payload too large"
		case errors.As(err, &ne) && ne.Timeout():
			return nil, http.StatusRequestTimeout, "request body timeout"
		}
		return nil, http.StatusBadRequest, "reading the request body failed: " + err.Error()
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, 0, ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, http.StatusBadRequest, "invalid JSON body: " + err.Error()
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, http.StatusBadRequest, "invalid JSON body: unexpected data after the JSON value"
	}
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, 0, ""
}

func plain(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, text)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"ok":false,"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// merge adds extra's fields to body.
func merge(body, extra map[string]any) map[string]any {
	for k, v := range extra {
		body[k] = v
	}
	return body
}

// targetAgent resolves the agent a hook runs on. A request's agentId must
// name a configured agent; a mapping's unknown agentId falls back to the
// default agent (as in the reference). The result must pass
// hooks.allowedAgentIds.
func (s *server) targetAgent(st *settings, id string, fromMapping bool) (string, string) {
	id = strings.TrimSpace(id)
	eff := config.MainAgentID
	if id != "" {
		switch {
		case st.knownAgents[id]:
			eff = id
		case !fromMapping:
			return "", fmt.Sprintf("unknown agentId %q", id)
		}
	}
	if !st.agentAllowed(eff) {
		return "", "agentId is not allowed by hooks.allowedAgentIds"
	}
	return eff, ""
}

// serveWake: POST <path>/wake {text, mode?, agentId?, sessionKey?}.
func (s *server) serveWake(w http.ResponseWriter, q *request) {
	code, msg, body := s.wakeRequest(q)
	if msg != "" {
		writeJSON(w, code, map[string]any{"ok": false, "error": msg})
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *server) wakeRequest(q *request) (int, string, map[string]any) {
	p := q.payload
	text := strings.TrimSpace(stringOf(p["text"]))
	if text == "" {
		return http.StatusBadRequest, "text required", nil
	}
	mode := "now"
	if p["mode"] == "next-heartbeat" {
		mode = "next-heartbeat"
	}
	agentID, msg := optionalNonEmpty(p, "agentId")
	if msg != "" {
		return http.StatusBadRequest, msg, nil
	}
	key, msg := optionalNonEmpty(p, "sessionKey")
	if msg != "" {
		return http.StatusBadRequest, msg, nil
	}
	if mode == "next-heartbeat" && key != "" {
		return http.StatusBadRequest, "sessionKey requires mode=now", nil
	}
	target, msg := s.targetAgent(q.st, agentID, false)
	if msg != "" {
		return http.StatusBadRequest, msg, nil
	}
	outcome, code, msg := s.wake(q.st, text, mode, key, target, keyFromRequest)
	if msg != "" {
		return code, msg, nil
	}
	return 0, "", map[string]any{"ok": true, "mode": mode, "eventOutcome": outcome}
}

// optionalNonEmpty reads an optional string field that, when present,
// must be a non-empty string.
func optionalNonEmpty(p map[string]any, key string) (string, string) {
	v, ok := p[key]
	if !ok {
		return "", ""
	}
	s := strings.TrimSpace(stringOf(v))
	if s == "" {
		return "", key + " must be a non-empty string"
	}
	return s, ""
}

// wake queues text for the agent's heartbeat (its main session, or an
// allowed explicit session) and, in mode now, asks for a heartbeat.
func (s *server) wake(st *settings, text, mode, key, agentID string, src keySource) (string, int, string) {
	target := sessions.MainKey(agentID)
	if key != "" {
		logical, _, msg := st.resolveLogicalKey(key, src, nil)
		if msg != "" {
			return "", http.StatusBadRequest, msg
		}
		disp := rescope(logical, agentID)
		if st.prefixes != nil && !st.prefixAllows(disp) {
			return "", http.StatusBadRequest, st.prefixError()
		}
		k, err := sessions.Canonical(disp, agentID)
		if err != nil {
			return "", http.StatusBadRequest, "invalid sessionKey: " + err.Error()
		}
		target = k
	}
	if s.d.Heartbeat == nil {
		return "", http.StatusServiceUnavailable, "the heartbeat is not running"
	}
	outcome := "queued"
	if qr, ok := s.d.Heartbeat.(queueReader); ok {
		if q := qr.Queued(); len(q) > 0 && q[len(q)-1] == text {
			outcome = "coalesced"
		}
	}
	if outcome == "queued" {
		if err := s.d.Heartbeat.Enqueue(text, target); err != nil {
			s.log.Error("queueing a hook wake event failed", "err", err)
			return "", http.StatusInternalServerError, "queueing the wake event failed"
		}
	}
	if mode == "now" {
		s.d.Heartbeat.Wake("hook")
	}
	return outcome, 0, ""
}

// serveAgent: POST <path>/agent.
func (s *server) serveAgent(w http.ResponseWriter, q *request) {
	p := q.payload
	bad := func(msg string) { writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": msg}) }
	wait := false
	if v, ok := p["waitForCompletion"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			bad("waitForCompletion must be boolean")
			return
		}
		wait = b
	}
	in, msg := parseAgentPayload(p)
	if msg != "" {
		bad(msg)
		return
	}
	agentID, msg := s.targetAgent(q.st, in.agentID, false)
	if msg != "" {
		bad(msg)
		return
	}
	if in.sessionMode == "persistent" && in.sessionKey == "" {
		bad("sessionKey is required when sessionMode is persistent")
		return
	}
	scope := map[string]any{"agentId": agentID, "sessionKey": orNil(firstNonEmpty(in.sessionKey, q.st.defaultKey)),
		"message": in.message, "name": in.name, "wakeMode": in.wakeMode, "sessionMode": in.sessionMode, "deliver": in.deliver,
		"channel": in.channel, "to": orNil(in.to), "accountId": orNil(in.accountID), "model": orNil(in.model),
		"thinking": orNil(in.thinking), "timeoutSeconds": orNilInt(in.timeoutSec)}
	rkey := replayKey("agent", q.token, q.idem, scope)
	runID := runIDFor(rkey)
	logical, generated, msg := q.st.resolveLogicalKey(in.sessionKey, keyFromRequest, func() string { return runID })
	if msg != "" {
		bad(msg)
		return
	}
	if in.sessionMode == "persistent" && q.st.prefixes == nil {
		bad("hooks.allowedSessionKeyPrefixes is required when direct hook sessionMode is persistent")
		return
	}
	disp := rescope(logical, agentID)
	if q.st.prefixes != nil && !q.st.prefixAllows(disp) {
		bad(q.st.prefixError())
		return
	}
	job := &agentJob{message: in.message, name: in.name, agentID: agentID, dispatchKey: disp, generated: generated,
		sessionMode: in.sessionMode, wakeMode: in.wakeMode, deliver: in.deliver, dest: in.dest, model: in.model,
		timeoutSec: in.timeoutSec, sourcePath: q.st.basePath + "/agent"}
	d := s.dispatchAgent(q.r.Context(), job, rkey, runID)
	s.writeAgentResult(w, q.r, d, nil, wait, in.timeoutSec)
}

// agentPayload is a validated /agent body.
type agentPayload struct {
	message, name, agentID, sessionKey, sessionMode, wakeMode string
	deliver                                                   bool
	channel, to, accountID                                    string
	dest                                                      *destination
	model, thinking                                           string
	timeoutSec                                                int
}

func parseAgentPayload(p map[string]any) (agentPayload, string) {
	var in agentPayload
	in.message = strings.TrimSpace(stringOf(p["message"]))
	if in.message == "" {
		return in, "message required"
	}
	in.name = strings.TrimSpace(stringOf(p["name"]))
	if in.name == "" {
		in.name = "Hook"
	}
	var msg string
	if in.agentID, msg = optionalNonEmpty(p, "agentId"); msg != "" {
		return in, msg
	}
	in.wakeMode = "now"
	if p["wakeMode"] == "next-heartbeat" {
		in.wakeMode = "next-heartbeat"
	}
	in.sessionKey = strings.TrimSpace(stringOf(p["sessionKey"]))
	in.sessionMode = "isolated"
	if v, ok := p["sessionMode"]; ok {
		sm := stringOf(v)
		if sm != "isolated" && sm != "persistent" {
			return in, "sessionMode must be isolated or persistent"
		}
		in.sessionMode = sm
	}
	var d delivery
	if d, msg = directDelivery(p); msg != "" {
		return in, msg
	}
	in.deliver, in.channel, in.to, in.accountID, in.dest = d.deliver, d.channel, d.to, d.accountID, d.dest
	if v, ok := p["model"]; ok {
		if in.model = strings.TrimSpace(stringOf(v)); in.model == "" {
			return in, "model required"
		}
	}
	in.thinking = strings.TrimSpace(stringOf(p["thinking"]))
	if n, ok := numberOf(p["timeoutSeconds"]); ok && n > 0 {
		in.timeoutSec = int(n)
	}
	return in, ""
}

// delivery is a normalized delivery request.
type delivery struct {
	deliver                bool
	channel, to, accountID string
	dest                   *destination // nil: no direct destination
}

// directDelivery validates /agent delivery fields: deliver:false ignores
// them; otherwise channel and to come together (and accountId needs
// both), and "last" is not a direct destination.
func directDelivery(p map[string]any) (delivery, string) {
	d := delivery{deliver: p["deliver"] != false, channel: "last"}
	if !d.deliver {
		return d, ""
	}
	ch, ok := resolveChannel(p["channel"], hasKey(p, "channel"))
	if !ok {
		return d, channelError
	}
	d.channel = ch
	d.to = strings.TrimSpace(stringOf(p["to"]))
	d.accountID = strings.TrimSpace(stringOf(p["accountId"]))
	hasCh, hasTo, hasAcct := hasKey(p, "channel"), hasKey(p, "to"), hasKey(p, "accountId")
	switch {
	case !hasCh && !hasTo && !hasAcct:
		return d, ""
	case hasTo && d.to == "":
		return d, "to must be a non-empty string for hook delivery"
	case hasAcct && d.accountID == "":
		return d, "accountId must be a non-empty string for hook delivery"
	case hasAcct && (!hasCh || d.to == ""):
		return d, "accountId requires channel and to for hook delivery"
	case !hasCh || d.to == "":
		return d, "channel and to must be set together for hook delivery"
	case ch == "last":
		return d, "channel must name a concrete channel for hook delivery"
	}
	d.dest = &destination{channel: ch, to: d.to, accountID: d.accountID}
	return d, ""
}

const channelError = `channel must be "last" or a channel id (telegram, slack, …)`

// resolveChannel normalizes a channel value; absent means "last".
func resolveChannel(v any, present bool) (string, bool) {
	if !present {
		return "last", true
	}
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "last" || channelIDPattern.MatchString(s) {
		return s, true
	}
	return "", false
}

func hasKey(p map[string]any, k string) bool { _, ok := p[k]; return ok }

func numberOf(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orNilInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// replayKey identifies a retried agent request: the same token, path and
// resolved dispatch fields under the same idempotency key ("" without
// one).
func replayKey(pathKey, token, idem string, scope map[string]any) string {
	if idem == "" {
		return ""
	}
	b, _ := json.Marshal(map[string]any{"pathKey": pathKey, "dispatchScope": scope})
	h := func(s []byte) string { x := sha256.Sum256(s); return fmt.Sprintf("%x", x[:16]) }
	return h([]byte(token)) + ":" + h(b) + ":" + h([]byte(idem))
}

// runIDFor derives the run id from a replay key, so a retry after a
// restart (past the in-memory replay cache) is still replayed by the agent
// runtime, which records every run id; without a key the id is random.
func runIDFor(rkey string) string {
	if rkey == "" {
		return uuid.NewString()
	}
	return uuid.NewSHA1(hookRunNamespace, []byte(rkey)).String()
}

var hookRunNamespace = uuid.MustParse("6f0d3c1e-8a0b-5b8e-9a51-70696e636572")

// serveMapped: POST <path>/<name> through hooks.mappings and presets.
func (s *server) serveMapped(w http.ResponseWriter, q *request) {
	if len(q.st.mappings) == 0 {
		plain(w, http.StatusNotFound, "Not Found")
		return
	}
	ctx := &tplContext{payload: q.payload, headers: q.headers, query: q.r.URL.Query(), path: q.sub}
	res, err := applyMappings(q.st.mappings, ctx)
	if err != nil {
		s.log.Warn("hook mapping failed", "path", q.sub, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"ok": false, "error": "hook mapping failed"})
		return
	}
	if res == nil {
		plain(w, http.StatusNotFound, "Not Found")
		return
	}
	if res.errMsg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": res.errMsg})
		return
	}
	if res.dropped > 0 {
		s.log.Warn("hook mapping fan-out dropped items beyond the 200-item cap", "path", q.sub, "dropped", res.dropped)
	}
	if len(res.actions) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var wakeResult map[string]any
	wakeMode := ""
	fail := func(code int, msg string) {
		writeJSON(w, code, merge(map[string]any{"ok": false, "error": msg}, wakeResult))
	}
	type prepared struct {
		job   *agentJob
		rkey  string
		runID string
	}
	var jobs []prepared
	occurrences := map[string]int{}
	for _, a := range res.actions {
		if a.kind == "wake" {
			agentID, msg := s.targetAgent(q.st, a.agentID, true)
			if msg != "" {
				fail(http.StatusBadRequest, msg)
				return
			}
			outcome, code, msg := s.wake(q.st, a.text, a.mode, a.sessionKey, agentID, a.keySource)
			if msg != "" {
				fail(code, msg)
				return
			}
			if wakeResult == nil || outcome == "queued" {
				wakeResult = map[string]any{"eventOutcome": outcome}
			}
			wakeMode = a.mode
			continue
		}
		ch, ok := resolveChannel(a.channel, a.channel != nil)
		if !ok {
			fail(http.StatusBadRequest, channelError)
			return
		}
		deliver := a.deliver != false
		agentID, msg := s.targetAgent(q.st, a.agentID, true)
		if msg != "" {
			fail(http.StatusBadRequest, msg)
			return
		}
		if a.sessionMode == "persistent" && a.sessionKey == "" && q.st.defaultKey == "" {
			fail(http.StatusBadRequest, "sessionKey or hooks.defaultSessionKey is required when mapped hook sessionMode is persistent")
			return
		}
		name := firstNonEmpty(a.name, "Hook")
		scope := map[string]any{"agentId": agentID, "sessionKey": orNil(firstNonEmpty(a.sessionKey, q.st.defaultKey)),
			"message": a.message, "name": name, "wakeMode": a.wakeMode, "sessionMode": a.sessionMode, "deliver": deliver,
			"channel": ch, "to": orNil(a.to), "model": orNil(a.model), "thinking": orNil(a.thinking), "timeoutSeconds": orNilInt(a.timeoutSec)}
		idem := q.idem
		if res.fanOut {
			fp, _ := json.Marshal(scope)
			scope["occurrence"] = occurrences[string(fp)]
			occurrences[string(fp)]++
			if idem == "" {
				idem = "hook-fanout-item"
			}
		}
		rkey := replayKey(matchPathOf(q.sub), q.token, idem, scope)
		runID := runIDFor(rkey)
		logical, generated, msg := q.st.resolveLogicalKey(a.sessionKey, a.keySource, func() string { return runID })
		if msg != "" {
			fail(http.StatusBadRequest, msg)
			return
		}
		disp := rescope(logical, agentID)
		if q.st.prefixes != nil && !q.st.prefixAllows(disp) {
			fail(http.StatusBadRequest, q.st.prefixError())
			return
		}
		var dest *destination
		if deliver {
			dest = &destination{channel: ch, to: a.to}
		}
		jobs = append(jobs, prepared{job: &agentJob{message: a.message, name: name, agentID: agentID, dispatchKey: disp,
			generated: generated, sessionMode: a.sessionMode, wakeMode: a.wakeMode, deliver: deliver, dest: dest,
			model: a.model, timeoutSec: a.timeoutSec, sourcePath: q.st.basePath + "/" + q.sub, mappingID: a.mappingID,
			allowUnsafe: a.allowUnsafe}, rkey: rkey, runID: runID})
	}
	if len(jobs) == 0 {
		writeJSON(w, http.StatusOK, merge(map[string]any{"ok": true, "mode": firstNonEmpty(wakeMode, "now")}, wakeResult))
		return
	}
	if !res.fanOut {
		d := s.dispatchAgent(q.r.Context(), jobs[0].job, jobs[0].rkey, jobs[0].runID)
		s.writeAgentResult(w, q.r, d, wakeResult, false, 0)
		return
	}
	// Fan-out: admit every item concurrently; answer after the deadline
	// with whatever was admitted (the rest continue in the background).
	bg := context.WithoutCancel(q.r.Context())
	results := make([]*dispatch, len(jobs))
	type done struct {
		i int
		d *dispatch
	}
	ch := make(chan done, len(jobs))
	for i, j := range jobs {
		go func() { ch <- done{i, s.dispatchAgent(bg, j.job, j.rkey, j.runID)} }()
	}
	timer := time.NewTimer(s.fanOutDeadline)
	defer timer.Stop()
	settled := 0
collect:
	for settled < len(jobs) {
		select {
		case r := <-ch:
			results[r.i] = r.d
			settled++
		case <-timer.C:
			break collect
		}
	}
	if len(jobs) == 1 && results[0] != nil {
		s.writeAgentResult(w, q.r, results[0], wakeResult, false, 0)
		return
	}
	runIDs := []string{}
	var failures []*dispatch
	pending := 0
	for _, d := range results {
		switch {
		case d == nil:
			pending++
		case d.ok:
			runIDs = append(runIDs, d.runID)
		default:
			failures = append(failures, d)
		}
	}
	if len(failures) == 0 && pending == 0 {
		writeJSON(w, http.StatusOK, merge(map[string]any{"ok": true, "runId": runIDs[0], "runIds": runIDs, "dispatched": len(runIDs)}, wakeResult))
		return
	}
	code := http.StatusServiceUnavailable
	body := map[string]any{"ok": false, "runIds": runIDs,
		"error": fmt.Sprintf("hook fan-out incomplete: %d/%d dispatched, %d failed, %d pending", len(runIDs), len(jobs), len(failures), pending)}
	if len(failures) > 0 {
		code = failures[0].status
		var errs []string
		for _, f := range failures[:min(len(failures), 5)] {
			errs = append(errs, f.errMsg)
		}
		body["errors"] = errs
	}
	writeJSON(w, code, merge(body, wakeResult))
}
