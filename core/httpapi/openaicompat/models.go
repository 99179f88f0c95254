package openaicompat

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pincerhq/pincer/core/config"
)

// modelIDs are the agent targets a client can pick: the default-agent
// aliases and one per configured agent (not provider models).
func modelIDs(cfg *config.Config) []string {
	ids := []string{modelOpenClaw, modelDefault}
	for _, id := range agentIDs(cfg) {
		ids = append(ids, "openclaw/"+id)
	}
	return ids
}

func modelObject(id string) map[string]any {
	return map[string]any{"id": id, "object": "model", "created": 0, "owned_by": "openclaw", "permission": []any{}}
}

func (a *api) listModels(w http.ResponseWriter, _ *http.Request, cfg *config.Config) {
	data := []any{}
	for _, id := range modelIDs(cfg) {
		data = append(data, modelObject(id))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// getModel answers one target. The id arrives either escaped in one
// segment (openclaw%2Fmain, as SDKs send it) or as two raw segments.
func (a *api) getModel(w http.ResponseWriter, r *http.Request, cfg *config.Config) {
	id := r.PathValue("id")
	if strings.TrimSpace(id) == "" {
		writeError(w, invalid("Missing model id."))
		return
	}
	if !isAgentModel(id) {
		writeError(w, invalid("Invalid model id."))
		return
	}
	notFound := &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Message: fmt.Sprintf("Model '%s' not found.", id), Code: "model_not_found"}
	if want := agentFromModel(id); want != "" {
		if _, ok := knownAgent(cfg, want); !ok {
			writeError(w, notFound)
			return
		}
	}
	if !slices.Contains(modelIDs(cfg), id) {
		writeError(w, notFound)
		return
	}
	writeJSON(w, http.StatusOK, modelObject(id))
}
