// Package agent is the agent runtime. So far it answers who the configured
// agents are (agent.identity.get) and which models they can use
// (models.list); runs arrive with the agent-runtime issue.
package agent

import (
	"context"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

// Catalog answers identity and model questions from the config.
type Catalog struct {
	Config func() *config.Config
}

// Register adds agent.identity.get and models.list.
func (c *Catalog) Register(srv *gateway.Server) {
	srv.Register(gateway.Method{Name: "models.list", Scope: protocol.ScopeRead, Handler: c.modelsList})
	srv.Register(gateway.Method{Name: "agent.identity.get", Scope: protocol.ScopeRead, Handler: c.identity})
}

// AgentIDFromSessionKey extracts <agentId> from "agent:<agentId>:<rest>".
func AgentIDFromSessionKey(key string) string {
	parts := strings.SplitN(key, ":", 3)
	if len(parts) >= 2 && parts[0] == "agent" {
		return parts[1]
	}
	return ""
}

// Identity resolves an agent's display identity.
func (c *Catalog) Identity(agentID string) (protocol.AgentIdentity, bool) {
	cfg := c.Config()
	if agentID == "" {
		agentID = config.MainAgentID
	}
	e, ok := cfg.Agents.Entries[agentID]
	if !ok {
		return protocol.AgentIdentity{}, false
	}
	id := protocol.AgentIdentity{AgentID: agentID, Name: "Assistant", NameSource: "default"}
	if n := strings.TrimSpace(e.Name); n != "" {
		id.Name, id.NameSource = n, "config"
	}
	id.Avatar = strings.TrimSpace(e.Avatar)
	if id.Avatar == "" {
		r, _ := utf8.DecodeRuneInString(id.Name)
		id.Avatar = string(unicode.ToUpper(r))
	}
	return id, true
}

func (c *Catalog) identity(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.AgentIdentityGetParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	agentID := p.AgentID
	if agentID == "" && p.SessionKey != "" {
		agentID = AgentIDFromSessionKey(p.SessionKey)
	}
	id, ok := c.Identity(agentID)
	if !ok {
		return nil, &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "unknown agent id: " + agentID,
			Details: protocol.Details{"code": protocol.DetailUnknownAgentID, "agentId": agentID}}
	}
	return id, nil
}

// providerKeyEnv names the environment variable holding a provider's key.
func providerKeyEnv(provider string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(provider)) + "_API_KEY"
}

func providerAvailable(id string, p config.ProviderConfig) bool {
	if p.APIKey != "" || os.Getenv(providerKeyEnv(id)) != "" {
		return true
	}
	// Local OpenAI-compatible servers (Ollama, LM Studio, llama.cpp) need no key.
	b := strings.ToLower(p.BaseURL)
	return strings.Contains(b, "127.0.0.1") || strings.Contains(b, "localhost") || strings.Contains(b, "[::1]")
}

func (c *Catalog) modelsList(ctx context.Context, call *gateway.Call) (any, error) {
	var p protocol.ModelsListParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	cfg := c.Config()
	ids := make([]string, 0, len(cfg.Models.Providers))
	for id := range cfg.Models.Providers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := protocol.ModelsListResult{Models: []protocol.ModelChoice{}}
	for _, pid := range ids {
		if p.Provider != "" && p.Provider != pid {
			continue
		}
		prov := cfg.Models.Providers[pid]
		avail := providerAvailable(pid, prov)
		for _, m := range prov.Models {
			mc := protocol.ModelChoice{
				ID: m.ID, Name: m.Name, Provider: pid, Reasoning: m.Reasoning, Tags: []string{},
				ThinkingLevels: []protocol.ThinkingLevel{{ID: "off", Label: "Off"}}, ThinkingDefault: "off",
				Available: avail, ManualSelectionAllowed: true,
			}
			if mc.Name == "" {
				mc.Name = m.ID
			}
			if m.ContextWindow > 0 {
				cw := m.ContextWindow
				mc.ContextWindow = &cw
			}
			if m.Reasoning {
				mc.ThinkingLevels = append(mc.ThinkingLevels,
					protocol.ThinkingLevel{ID: "low", Label: "Low"}, protocol.ThinkingLevel{ID: "medium", Label: "Medium"},
					protocol.ThinkingLevel{ID: "high", Label: "High"})
			}
			if ref := pid + "/" + m.ID; ref == cfg.Agents.Defaults.Model.Primary {
				mc.Tags = append(mc.Tags, "default")
			}
			out.Models = append(out.Models, mc)
		}
	}
	return out, nil
}
