package openaicompat

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/pincerhq/pincer/core/agent/providers"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/sessions"
)

// Request headers of the reference's OpenAI-compatible surface.
const (
	headerModel      = "x-openclaw-model"
	headerAgentID    = "x-openclaw-agent-id"
	headerAgentAlias = "x-openclaw-agent"
	headerSessionKey = "x-openclaw-session-key"
)

const (
	modelOpenClaw = "openclaw"
	modelDefault  = "openclaw/default"
)

var (
	agentIDRe    = regexp.MustCompile(`(?i)^[a-z0-9][a-z0-9_-]{0,63}$`)
	agentModelRe = regexp.MustCompile(`(?i)^(?:openclaw[:/]|agent:)([a-z0-9][a-z0-9_-]{0,63})$`)
)

// agentIDs are the configured agents, main first, the rest sorted.
func agentIDs(cfg *config.Config) []string {
	ids := []string{config.MainAgentID}
	var rest []string
	if cfg != nil {
		for id := range cfg.Agents.Entries {
			if id != config.MainAgentID {
				rest = append(rest, id)
			}
		}
	}
	sort.Strings(rest)
	return append(ids, rest...)
}

// knownAgent finds id among the configured agents (case-insensitively, as
// the reference lowercases agent ids).
func knownAgent(cfg *config.Config, id string) (string, bool) {
	for _, a := range agentIDs(cfg) {
		if strings.EqualFold(a, id) {
			return a, true
		}
	}
	return "", false
}

// isAgentModel reports whether model is agent-target syntax.
func isAgentModel(model string) bool {
	m := strings.ToLower(strings.TrimSpace(model))
	return m == modelOpenClaw || m == modelDefault || agentModelRe.MatchString(m)
}

// agentFromModel is the agent a model id names ("" for the default agent).
func agentFromModel(model string) string {
	m := strings.TrimSpace(model)
	switch strings.ToLower(m) {
	case modelOpenClaw, modelDefault:
		return ""
	}
	if sm := agentModelRe.FindStringSubmatch(m); sm != nil {
		return strings.ToLower(sm[1])
	}
	return ""
}

func unknownAgent(id string) *apiError { return invalid(fmt.Sprintf("Unknown agent '%s'.", id)) }

// target is where a request runs.
type target struct {
	AgentID string
	// Explicit: the agent was named by the header or the model id rather
	// than defaulted.
	Explicit   bool
	SessionKey string
	// Model is the x-openclaw-model override ("" for the agent's own).
	Model string
}

// resolveTarget settles agent, session and model override. The agent comes
// from x-openclaw-agent-id, else the model id, else the default agent; the
// session from x-openclaw-session-key, else the `user` field, else a fresh
// key per request (stateless).
func resolveTarget(r *http.Request, cfg *config.Config, model string, userp *string, prefix string) (target, *apiError) {
	var t target
	user := ""
	if userp != nil {
		user = *userp
	}
	if strings.TrimSpace(model) != "" && !isAgentModel(model) {
		return t, invalid("Invalid `model`. Use `openclaw` or `openclaw/<agentId>`.")
	}
	want := strings.TrimSpace(r.Header.Get(headerAgentID))
	if want == "" {
		want = strings.TrimSpace(r.Header.Get(headerAgentAlias))
	}
	if want != "" && !agentIDRe.MatchString(want) {
		return t, unknownAgent(want)
	}
	if want == "" {
		want = agentFromModel(model)
	}
	t.AgentID = config.MainAgentID
	if want != "" {
		id, ok := knownAgent(cfg, want)
		if !ok {
			return t, unknownAgent(want)
		}
		t.AgentID, t.Explicit = id, true
	}
	if e := t.resolveSession(r, cfg, user, prefix); e != nil {
		return t, e
	}
	if e := t.resolveModel(r, cfg); e != nil {
		return t, e
	}
	return t, nil
}

var reservedKeyPrefixes = []string{"subagent:", "cron:", "acp:"}

func reservedKey(key string) bool {
	k := strings.ToLower(strings.TrimSpace(key))
	if _, rest, ok := sessions.ParseKey(k); ok {
		k = rest
	}
	for _, p := range reservedKeyPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func (t *target) resolveSession(r *http.Request, cfg *config.Config, user, prefix string) *apiError {
	if explicit := strings.TrimSpace(r.Header.Get(headerSessionKey)); explicit != "" {
		if reservedKey(explicit) {
			return invalid("`x-openclaw-session-key` cannot use reserved internal session namespaces.")
		}
		key, err := sessions.Canonical(explicit, t.AgentID)
		if err != nil {
			return invalid("Invalid `x-openclaw-session-key`: " + err.Error())
		}
		// A full key names its agent; it must agree with an explicit
		// target, and otherwise chooses the agent.
		if keyAgent, _, ok := sessions.ParseKey(key); ok && keyAgent != t.AgentID {
			id, known := knownAgent(cfg, keyAgent)
			switch {
			case !known:
				return unknownAgent(keyAgent)
			case t.Explicit && id != t.AgentID:
				return invalid(fmt.Sprintf("`x-openclaw-session-key` belongs to agent '%s' but the request targets agent '%s'.", keyAgent, t.AgentID))
			}
			t.AgentID = id
		}
		t.SessionKey = key
		return nil
	}
	if u := strings.ToLower(strings.TrimSpace(user)); u != "" {
		key := "agent:" + t.AgentID + ":" + prefix + "-user:" + u
		if _, err := sessions.Canonical(key, t.AgentID); err != nil {
			// Too long or unprintable for a session key: a stable digest
			// keeps the conversation together all the same.
			sum := sha256.Sum256([]byte(u))
			key = "agent:" + t.AgentID + ":" + prefix + "-user:sha256-" + hex.EncodeToString(sum[:16])
		}
		t.SessionKey = key
		return nil
	}
	t.SessionKey = "agent:" + t.AgentID + ":" + prefix + ":" + uuid.NewString()
	return nil
}

// presentEnv stands in for the runtime's environment when checking a model
// ref: it makes key-only providers (anthropic, openai) count as present so
// the check judges the ref, and a missing key is reported by the run.
func presentEnv(string) string { return "present" }

func (t *target) resolveModel(r *http.Request, cfg *config.Config) *apiError {
	ref := strings.TrimSpace(r.Header.Get(headerModel))
	if ref == "" {
		return nil
	}
	if _, _, err := providers.FromConfig(cfg, presentEnv, nil).Resolve(ref); err != nil {
		return invalid("Invalid `x-openclaw-model`: " + err.Error())
	}
	t.Model = ref
	return nil
}

// runID is the run id (and the response id) of a request: random, or
// derived from the Idempotency-Key header so a retried request replays the
// recorded run instead of starting another. The prefix keeps the two
// surfaces' keys, and other surfaces' run ids, apart.
func runID(r *http.Request, prefix string) string {
	if key := strings.TrimSpace(r.Header.Get("Idempotency-Key")); key != "" {
		return prefix + uuid.NewSHA1(uuid.NameSpaceURL, []byte("pincer:openai-http:"+prefix+key)).String()
	}
	return prefix + uuid.NewString()
}
