package hooks

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pincerhq/pincer/core/config"
)

// DefaultPath is hooks.path when unset.
const DefaultPath = "/hooks"

// Body limits (the reference's): 256 KiB for every hook path; the Gmail
// preset path gets an allowance derived from hooks.gmail.maxBytes.
const (
	defaultMaxBody      = 256 << 10
	gmailMaxBodyCeiling = 32 << 20
	gmailDefaultMaxByte = 20000
	fanOutMaxItems      = 200
	maxIdempotencyKey   = 256
)

// settings is the hooks block resolved for one request. The block is read
// on every request, so a config reload applies without a restart (except
// for a new hooks.path, which needs a route mounted at start).
type settings struct {
	basePath string
	token    string
	// allowedAgents nil: every agent.
	allowedAgents map[string]bool
	knownAgents   map[string]bool
	// defaultKey is hooks.defaultSessionKey ("" when unset).
	defaultKey      string
	allowRequestKey bool
	// prefixes are the lowercased allowedSessionKeyPrefixes (nil: any).
	prefixes     []string
	mappings     []mapping
	gmailMaxBody int64
	// invalid: hooks are enabled but the block cannot be used; every hook
	// request is answered with this error.
	invalid error
}

// resolveSettings reads hooks.* from cfg; nil when hooks are disabled.
func resolveSettings(cfg *config.Config) *settings {
	if cfg == nil || cfg.Hooks == nil {
		return nil
	}
	raw := cfg.Hooks
	if enabled, _ := raw["enabled"].(bool); !enabled {
		return nil
	}
	st := &settings{basePath: DefaultPath}
	if p, err := normalizeBasePath(raw["path"]); err != nil {
		st.invalid = err
		return st
	} else if p != "" {
		st.basePath = p
	}
	st.token = strings.TrimSpace(stringOf(raw["token"]))
	if st.token == "" {
		st.invalid = errors.New("hooks.enabled is true but hooks.token is not set: add a dedicated random token (not the gateway token) as hooks.token, or set hooks.enabled to false")
		return st
	}
	st.knownAgents = map[string]bool{config.MainAgentID: true}
	for id := range cfg.Agents.Entries {
		st.knownAgents[id] = true
	}
	if list, ok := raw["allowedAgentIds"].([]any); ok {
		st.allowedAgents = map[string]bool{}
		for _, v := range list {
			id := strings.TrimSpace(stringOf(v))
			if id == "*" {
				st.allowedAgents = nil
				break
			}
			if id != "" {
				st.allowedAgents[id] = true
			}
		}
	}
	st.defaultKey = strings.TrimSpace(stringOf(raw["defaultSessionKey"]))
	st.allowRequestKey, _ = raw["allowRequestSessionKey"].(bool)
	if list, ok := raw["allowedSessionKeyPrefixes"].([]any); ok {
		for _, v := range list {
			if p := strings.ToLower(strings.TrimSpace(stringOf(v))); p != "" {
				st.prefixes = append(st.prefixes, p)
			}
		}
	}
	if st.defaultKey != "" && st.prefixes != nil && !st.prefixAllows(st.defaultKey) {
		st.invalid = errors.New("hooks.defaultSessionKey must match hooks.allowedSessionKeyPrefixes")
		return st
	}
	if st.defaultKey == "" && st.prefixes != nil && !st.prefixAllows("hook:example") {
		st.invalid = errors.New("hooks.allowedSessionKeyPrefixes must include 'hook:' when hooks.defaultSessionKey is unset")
		return st
	}
	st.gmailMaxBody = gmailBodyLimit(raw)
	ms, err := resolveMappings(raw)
	if err != nil {
		st.invalid = err
		return st
	}
	st.mappings = ms
	if st.prefixes == nil && hasEffectiveTemplatedKey(ms) {
		st.invalid = errors.New("hooks.allowedSessionKeyPrefixes is required when a hook mapping sessionKey uses templates, even if hooks.allowRequestSessionKey=true")
		return st
	}
	return st
}

// normalizeBasePath applies the reference's rules: a leading slash is
// added, trailing slashes are removed, "/" is rejected.
func normalizeBasePath(v any) (string, error) {
	s := strings.TrimSpace(stringOf(v))
	if s == "" {
		return "", nil
	}
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	if len(s) > 1 {
		s = strings.TrimRight(s, "/")
	}
	if s == "/" || s == "" {
		return "", errors.New("hooks.path may not be '/': use a dedicated sub-path such as /hooks")
	}
	if strings.ContainsAny(s, "?#{} \t") {
		return "", fmt.Errorf("hooks.path %q is not a plain URL path", s)
	}
	return s, nil
}

// gmailBodyLimit is max(256 KiB, min(32 MiB, 100 × (3 × maxBytes + 8192))).
func gmailBodyLimit(raw map[string]any) int64 {
	maxBytes := int64(gmailDefaultMaxByte)
	if g, ok := raw["gmail"].(map[string]any); ok {
		if n, ok := g["maxBytes"].(float64); ok && n > 0 && n == float64(int64(n)) {
			maxBytes = int64(n)
		}
	}
	lim := min(int64(gmailMaxBodyCeiling), 100*(maxBytes*3+8192))
	return max(lim, defaultMaxBody)
}

// bodyLimit is the byte limit for a sub-path.
func (st *settings) bodyLimit(sub string) int64 {
	if matchPathOf(sub) == "gmail" {
		for _, m := range st.mappings {
			if m.matchPath == "gmail" && m.gmail {
				return st.gmailMaxBody
			}
		}
	}
	return defaultMaxBody
}

// prefixAllows: the key starts (case-insensitively) with an allowed prefix.
func (st *settings) prefixAllows(key string) bool {
	k := strings.ToLower(strings.TrimSpace(key))
	if k == "" {
		return false
	}
	for _, p := range st.prefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func (st *settings) prefixError() string {
	return "sessionKey must start with one of: " + strings.Join(st.prefixes, ", ")
}

func (st *settings) agentAllowed(id string) bool {
	return st.allowedAgents == nil || st.allowedAgents[id]
}

// keySource says where a session key came from (the policy differs).
type keySource int

const (
	keyFromRequest keySource = iota
	keyFromMappingStatic
	keyFromMappingTemplate
)

// resolveLogicalKey picks the logical session key: the request's or
// mapping's, then hooks.defaultSessionKey, then a generated "hook:<uuid>".
func (st *settings) resolveLogicalKey(requested string, src keySource, newID func() string) (key string, generated bool, errMsg string) {
	if requested = strings.TrimSpace(requested); requested != "" {
		if src != keyFromMappingStatic && !st.allowRequestKey {
			return "", false, "sessionKey is disabled for externally supplied hook payload values; set hooks.allowRequestSessionKey=true to enable"
		}
		if st.prefixes != nil && !st.prefixAllows(requested) {
			return "", false, st.prefixError()
		}
		return requested, false, ""
	}
	if st.defaultKey != "" {
		return st.defaultKey, false, ""
	}
	key = "hook:" + newID()
	if st.prefixes != nil && !st.prefixAllows(key) {
		return "", false, st.prefixError()
	}
	return key, true, ""
}

// rescope turns an agent-prefixed key into one of the target agent (the
// reference re-scopes "agent:<other>:<rest>" to the selected agent).
func rescope(key, agentID string) string {
	key = strings.TrimSpace(key)
	if len(key) > len("agent:") && strings.EqualFold(key[:len("agent:")], "agent:") {
		if _, tail, ok := strings.Cut(key[len("agent:"):], ":"); ok && tail != "" {
			return "agent:" + agentID + ":" + tail
		}
	}
	return key
}

var channelIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}
