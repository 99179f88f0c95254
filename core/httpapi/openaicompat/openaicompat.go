// Package openaicompat serves the OpenAI-compatible HTTP API on the gateway
// port (spec §10.2): /v1/chat/completions, /v1/models, /v1/responses.
//
// Both surfaces are off by default and switched on per request from the
// live config (gateway.http.endpoints.chatCompletions.enabled and
// gateway.http.endpoints.responses.enabled), so a config reload takes
// effect without re-registering routes. A request's `model` names an agent
// target ("openclaw", "openclaw/<agentId>" …), not a provider model; every
// request becomes one agent run through Agents.Submit.
package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pincerhq/pincer/core/agent"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

// Agents runs agent turns.
type Agents interface {
	Submit(ctx context.Context, t agent.Turn) (*agent.Ticket, error)
}

// Deps are what the API needs.
type Deps struct {
	Config func() *config.Config
	Agents Agents
	Log    *slog.Logger
}

// Built-in limits of the reference gateway (not configurable there either).
const (
	maxBodyBytes         = 20 << 20
	maxImageParts        = 8
	maxTotalImageBytes   = 20 << 20
	defaultImageMaxBytes = 10 << 20
)

// The two config switches under gateway.http.endpoints.
const (
	endpointChat      = "chatCompletions"
	endpointResponses = "responses"
)

type api struct {
	srv       *gateway.Server
	d         Deps
	log       *slog.Logger
	responses *responseSessions
}

// Register mounts the endpoints on the gateway.
//
// Routes carry a method so they never conflict with a catch-all the Control
// UI registers; the wrong-method routes exist to answer 405 (as the
// reference does) instead of falling through to the UI.
func Register(srv *gateway.Server, d Deps) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	a := &api{srv: srv, d: d, log: d.Log.With("component", "openaicompat"), responses: newResponseSessions()}

	chat := func(c *config.Config) bool { return enabled(c, endpointChat) }
	resp := func(c *config.Config) bool { return enabled(c, endpointResponses) }
	// The reference serves the model list when either surface is on.
	models := func(c *config.Config) bool { return chat(c) || resp(c) }

	srv.Handle("POST /v1/chat/completions", a.authed(chat, a.chatCompletions))
	srv.Handle("POST /v1/responses", a.authed(resp, a.createResponse))
	srv.Handle("GET /v1/models", a.authed(models, a.listModels))
	srv.Handle("GET /v1/models/{id...}", a.authed(models, a.getModel))
	srv.Handle("POST /v1/embeddings", a.authed(chat, a.embeddings))
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		srv.Handle(m+" /v1/chat/completions", a.gate(chat, methodNotAllowed(http.MethodPost)))
		srv.Handle(m+" /v1/responses", a.gate(resp, methodNotAllowed(http.MethodPost)))
		srv.Handle(m+" /v1/embeddings", a.gate(chat, methodNotAllowed(http.MethodPost)))
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		srv.Handle(m+" /v1/models", a.gate(models, methodNotAllowed(http.MethodGet)))
		srv.Handle(m+" /v1/models/{id...}", a.gate(models, methodNotAllowed(http.MethodGet)))
	}
}

// enabled reads gateway.http.endpoints.<name>.enabled from the raw block.
func enabled(cfg *config.Config, name string) bool {
	if cfg == nil {
		return false
	}
	eps, _ := cfg.Gateway.HTTP["endpoints"].(map[string]any)
	ep, _ := eps[name].(map[string]any)
	on, _ := ep["enabled"].(bool)
	return on
}

// endpointBlock is gateway.http.endpoints.<name> (nil when absent).
func endpointBlock(cfg *config.Config, name string) map[string]any {
	if cfg == nil {
		return nil
	}
	eps, _ := cfg.Gateway.HTTP["endpoints"].(map[string]any)
	ep, _ := eps[name].(map[string]any)
	return ep
}

// gate answers 404 while the surface is switched off.
func (a *api) gate(on func(*config.Config) bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !on(a.config()) {
			notFound(w)
			return
		}
		h(w, r)
	})
}

// authed is gate plus the gateway's shared-secret bearer check (the query
// string is never consulted). The handler gets the config snapshot the
// request was admitted under.
func (a *api) authed(on func(*config.Config) bool, h func(http.ResponseWriter, *http.Request, *config.Config)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := a.config()
		if !on(cfg) {
			notFound(w)
			return
		}
		if auth := a.srv.AuthorizeHTTP(r); !auth.OK {
			gateway.WriteUnauthorized(w, auth)
			return
		}
		h(w, r, cfg)
	})
}

func (a *api) config() *config.Config {
	if a.d.Config == nil {
		return nil
	}
	return a.d.Config()
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, "Not Found")
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = io.WriteString(w, "Method Not Allowed")
	}
}

// apiError is an OpenAI-shaped error: {"error":{"message","type","code"?}}.
type apiError struct {
	Status  int
	Type    string
	Message string
	Code    string
}

func (e *apiError) Error() string { return e.Message }

func invalid(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: msg}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errorBody(e *apiError) map[string]any {
	body := map[string]any{"message": e.Message, "type": e.Type}
	if e.Code != "" {
		body["code"] = e.Code
	}
	return map[string]any{"error": body}
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Status >= 500 {
		// The agent already ran (with its own provider failover); an SDK's
		// automatic retry would only start the same run again.
		w.Header().Set("x-should-retry", "false")
	}
	writeJSON(w, e.Status, errorBody(e))
}

// readJSON reads a JSON body of at most maxBodyBytes into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	tooLarge := &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Message: "Payload too large"}
	if r.ContentLength > maxBodyBytes {
		return tooLarge
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		return invalid("could not read the request body: " + err.Error())
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return invalid("the request body is empty; send a JSON object")
	}
	if err := json.Unmarshal(data, v); err != nil {
		return invalid("invalid JSON body: " + err.Error())
	}
	return nil
}

// submitError maps an Agents.Submit failure.
func submitError(err error) *apiError {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case protocol.CodeInvalidRequest:
			return invalid(pe.Message)
		case protocol.CodeUnavailable:
			return &apiError{Status: http.StatusServiceUnavailable, Type: "api_error", Message: pe.Message}
		}
	}
	return &apiError{Status: http.StatusInternalServerError, Type: "api_error", Message: "the agent run could not start: " + err.Error()}
}

// runFailure reports a finished run that did not succeed.
func runFailure(out agent.Outcome) *apiError {
	switch out.Status {
	case "ok", "":
		return nil
	case "timeout":
		msg := "the agent run timed out"
		if out.Error != "" {
			msg += ": " + out.Error
		}
		return &apiError{Status: http.StatusGatewayTimeout, Type: "api_error", Message: msg}
	case "aborted":
		return &apiError{Status: http.StatusInternalServerError, Type: "api_error", Message: "the agent run was aborted"}
	default:
		msg := out.Error
		if msg == "" {
			msg = "the agent run failed"
		}
		return &apiError{Status: http.StatusInternalServerError, Type: "api_error", Message: msg}
	}
}

// noResponseText stands in for an empty reply, as the reference does.
const noResponseText = "No response from OpenClaw."

// embeddings: the agent runtime has no embedding models, so the route
// answers a clear error instead of falling through to the Control UI.
func (a *api) embeddings(w http.ResponseWriter, _ *http.Request, _ *config.Config) {
	writeError(w, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "unsupported_endpoint",
		Message: "/v1/embeddings is not supported by this gateway"})
}
