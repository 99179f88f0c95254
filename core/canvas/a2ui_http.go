package canvas

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/sessions"
)

// rendererFiles is the A2UI renderer (index.html, app.js, a2ui.bundle.js,
// a2ui.css).
//
//go:embed a2ui
var rendererFiles embed.FS

var renderer = func() fs.FS {
	sub, err := fs.Sub(rendererFiles, "a2ui")
	if err != nil {
		panic(err)
	}
	return sub
}()

// maxActionBody bounds a user action POST.
const maxActionBody = 64 << 10

// serveA2UI serves /__openclaw__/a2ui/<p>.
func (h *Host) serveA2UI(w http.ResponseWriter, r *http.Request, p string, acc access) {
	switch p {
	case "stream":
		h.serveA2UIStream(w, r, acc)
		return
	case "action":
		h.serveA2UIAction(w, r)
		return
	case "":
		p = "index.html"
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
		return
	}
	if strings.Contains(p, "/") || !fs.ValidPath(p) {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	b, err := fs.ReadFile(renderer, p)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "Not Found")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", contentType(p))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// streamAgent is the ?agent= of a page (main by default).
func (h *Host) streamAgent(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := h.agentOrMain(r.URL.Query().Get("agent"))
	if !h.agentKnown(id) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("Unknown agent %q", id))
		return "", false
	}
	return id, true
}

// serveA2UIStream sends a snapshot of the agent's surfaces, then every
// message pushed.
func (h *Host) serveA2UIStream(w http.ResponseWriter, r *http.Request, acc access) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
		return
	}
	agentID, ok := h.streamAgent(w, r)
	if !ok {
		return
	}
	nodeID := ""
	if acc.grant != nil {
		nodeID = acc.grant.nodeID
	}
	sub, snap, err := h.surface.subscribe(agentID, acc.token(), nodeID)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	defer h.surface.unsubscribe(agentID, sub)
	sse, ok := startSSE(w, r)
	if !ok || sse.event("snapshot", snap) != nil {
		return
	}
	for {
		select {
		case ev := <-sub.ch:
			if sse.event(ev.name, ev.data) != nil {
				return
			}
		case <-sub.done:
			return
		case <-sse.tick:
			if !h.keepStreaming() || (sse.due() && sse.comment("ping") != nil) {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// UserAction is A2UI's client-to-server userAction.
type UserAction struct {
	Name              string          `json:"name"`
	SurfaceID         string          `json:"surfaceId"`
	SourceComponentID string          `json:"sourceComponentId"`
	Timestamp         string          `json:"timestamp"`
	Context           json.RawMessage `json:"context,omitempty"`
}

// serveA2UIAction turns a user action into an agent turn.
func (h *Host) serveA2UIAction(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
		return
	}
	agentID, ok := h.streamAgent(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxActionBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "The body cannot be read")
		return
	}
	if len(body) > maxActionBody {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request", fmt.Sprintf("The action is larger than %d bytes", maxActionBody))
		return
	}
	var req struct {
		UserAction *UserAction `json:"userAction"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.UserAction == nil {
		writeError(w, http.StatusBadRequest, "invalid_request", `Expected {"userAction":{"name":…,"surfaceId":…,"sourceComponentId":…,"timestamp":…,"context":{…}}}`)
		return
	}
	a := req.UserAction
	if err := a.validate(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if h.d.Agents == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "No agent runtime")
		return
	}
	ctxJSON := "{}"
	if len(a.Context) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, a.Context) == nil && buf.String() != "null" {
			ctxJSON = buf.String()
		}
	}
	runID := uuid.NewString()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	_, err = h.d.Agents.Submit(ctx, agent.Turn{
		RunID: runID, SessionKey: sessions.MainKey(agentID), AgentID: agentID, QueueMode: agent.QueueFollowup,
		Message: "[canvas action] " + a.Name + " " + ctxJSON,
		ExtraSystem: fmt.Sprintf("The latest user message is not typed text: it is an action the user took on your A2UI canvas "+
			"(surface %q, component %q, at %s).", a.SurfaceID, a.SourceComponentID, a.Timestamp),
	})
	if err != nil {
		h.log.Warn("canvas action not accepted", "agent", agentID, "action", a.Name, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "The agent did not accept the action: "+err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"ok": true, "runId": runID})
}

func (a *UserAction) validate() error {
	a.Name = strings.TrimSpace(a.Name)
	switch {
	case a.Name == "":
		return errors.New("userAction.name is required")
	case len(a.Name) > 256 || strings.ContainsAny(a.Name, "\r\n"):
		return errors.New("userAction.name must be one line of at most 256 bytes")
	case len(a.SurfaceID) > maxSurfaceIDLen, len(a.SourceComponentID) > 256, len(a.Timestamp) > 64:
		return errors.New("userAction.surfaceId, sourceComponentId or timestamp is too long")
	case len(a.Context) > 0 && !isObject(a.Context) && string(bytes.TrimSpace(a.Context)) != "null":
		return errors.New("userAction.context must be an object")
	}
	return nil
}
