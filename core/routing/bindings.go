package routing

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pincerhq/pincer/core/config"
)

// ParseError lists every problem ParseBindings found, each at its config
// path ("bindings[2].match.peer.kind").
type ParseError struct {
	Issues []config.Issue
}

func (e *ParseError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.String()
	}
	return "invalid bindings: " + strings.Join(parts, "; ")
}

// ParseBindings reads the decoded JSON5 value of the top-level "bindings"
// key (nil, or an array of binding objects) with OpenClaw's schema: every
// object is strict (unknown keys are errors), agentId and match.channel are
// required, match.peer needs kind (direct|group|channel) and id, ids are
// strings, session is {dmScope, groupScope} on route bindings only, and
// type "acp" bindings need a concrete match.peer.id.
//
// On error it returns a *ParseError together with the bindings that had no
// problem, so a caller may still route with the valid ones.
func ParseBindings(raw any) ([]Binding, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, &ParseError{Issues: []config.Issue{{Path: "bindings", Message: "must be an array of bindings"}}}
	}
	p := &parser{}
	out := make([]Binding, 0, len(list))
	for i, v := range list {
		before := len(p.issues)
		b := p.binding("bindings["+strconv.Itoa(i)+"]", v)
		if len(p.issues) == before {
			out = append(out, b)
		}
	}
	if len(p.issues) > 0 {
		return out, &ParseError{Issues: p.issues}
	}
	return out, nil
}

type parser struct{ issues []config.Issue }

func (p *parser) fail(path, format string, a ...any) {
	p.issues = append(p.issues, config.Issue{Path: path, Message: fmt.Sprintf(format, a...)})
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, uint64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// object checks v is an object whose keys are all in allowed.
func (p *parser) object(path string, v any, allowed ...string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		p.fail(path, "must be an object, not %s", describe(v))
		return nil, false
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			p.fail(child(path, k), "unknown key (allowed: %s)", strings.Join(allowed, ", "))
		}
	}
	return m, true
}

// str reads an optional string; a present non-string is an error.
func (p *parser) str(path string, m map[string]any, key string) (string, bool) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		if describe(v) == "a number" {
			p.fail(child(path, key), "must be a string, not a number (quote ids: \"123\")")
		} else {
			p.fail(child(path, key), "must be a string, not %s", describe(v))
		}
		return "", false
	}
	return s, true
}

func (p *parser) required(path string, m map[string]any, key string) string {
	if v, present := m[key]; !present || v == nil {
		p.fail(child(path, key), "required")
		return ""
	}
	s, ok := p.str(path, m, key)
	if ok && strings.TrimSpace(s) == "" {
		p.fail(child(path, key), "must not be empty")
	}
	return s
}

func (p *parser) enum(path string, m map[string]any, key string, allowed ...string) string {
	s, ok := p.str(path, m, key)
	if !ok {
		return ""
	}
	if !slices.Contains(allowed, s) {
		p.fail(child(path, key), "must be one of %s (got %q)", strings.Join(allowed, ", "), s)
		return ""
	}
	return s
}

func (p *parser) binding(path string, v any) Binding {
	var b Binding
	m, ok := p.object(path, v, "type", "agentId", "comment", "match", "session", "acp")
	if !ok {
		return b
	}
	b.Type = p.enum(path, m, "type", BindingRoute, BindingACP)
	b.AgentID = p.required(path, m, "agentId")
	if b.AgentID != "" && strings.TrimSpace(b.AgentID) != "" && sanitizeID(b.AgentID) == "" {
		p.fail(child(path, "agentId"), "%q is not a usable agent id (use letters, digits, '-' and '_')", b.AgentID)
	}
	b.Comment, _ = p.str(path, m, "comment")
	if mv, ok := m["match"]; !ok || mv == nil {
		p.fail(child(path, "match"), "required")
	} else {
		b.Match = p.match(child(path, "match"), mv)
	}
	acp := b.Type == BindingACP
	if sv, ok := m["session"]; ok && sv != nil {
		if acp {
			p.fail(child(path, "session"), "only route bindings take session overrides")
		} else if sm, ok := p.object(child(path, "session"), sv, "dmScope", "groupScope"); ok {
			sp := child(path, "session")
			b.Session.DMScope = p.enum(sp, sm, "dmScope", DMScopeMain, DMScopePerPeer, DMScopePerChannelPeer, DMScopePerAccountChannelPeer)
			b.Session.GroupScope = p.enum(sp, sm, "groupScope", GroupScopeMain, GroupScopePerGroup)
		}
	}
	if av, ok := m["acp"]; ok && av != nil {
		if !acp {
			p.fail(child(path, "acp"), "only bindings with type \"acp\" take acp options")
		} else if am, ok := p.object(child(path, "acp"), av, "mode", "label", "cwd", "backend"); ok {
			ap := child(path, "acp")
			o := &ACPOptions{Mode: p.enum(ap, am, "mode", "persistent", "oneshot")}
			o.Label, _ = p.str(ap, am, "label")
			o.Cwd, _ = p.str(ap, am, "cwd")
			o.Backend, _ = p.str(ap, am, "backend")
			b.ACP = o
		}
	}
	if acp && (b.Match.Peer == nil || strings.TrimSpace(b.Match.Peer.ID) == "") {
		p.fail(child(path, "match")+".peer", "ACP bindings require match.peer.id to target a concrete conversation")
	}
	return b
}

func (p *parser) match(path string, v any) Match {
	var mt Match
	m, ok := p.object(path, v, "channel", "accountId", "peer", "guildId", "teamId", "roles")
	if !ok {
		return mt
	}
	mt.Channel = strings.TrimSpace(p.required(path, m, "channel"))
	mt.AccountID, _ = p.str(path, m, "accountId")
	mt.GuildID, _ = p.str(path, m, "guildId")
	mt.TeamID, _ = p.str(path, m, "teamId")
	if pv, ok := m["peer"]; ok && pv != nil {
		pp := child(path, "peer")
		if pm, ok := p.object(pp, pv, "kind", "id"); ok {
			kind := p.required(pp, pm, "kind")
			if kind != "" && kind != "direct" && kind != "group" && kind != "channel" {
				p.fail(child(pp, "kind"), "must be one of direct, group, channel (got %q)", kind)
			}
			id := p.required(pp, pm, "id")
			mt.Peer = &PeerMatch{Kind: kind, ID: id}
		}
	}
	if rv, ok := m["roles"]; ok && rv != nil {
		rp := child(path, "roles")
		list, ok := rv.([]any)
		if !ok {
			p.fail(rp, "must be an array of role ids, not %s", describe(rv))
		} else {
			for i, r := range list {
				s, ok := r.(string)
				if !ok {
					p.fail(rp+"["+strconv.Itoa(i)+"]", "must be a string, not %s", describe(r))
					continue
				}
				mt.Roles = append(mt.Roles, s)
			}
		}
	}
	return mt
}

func child(path, key string) string {
	plain := key != ""
	for i, r := range key {
		if !(r == '_' || r == '$' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && (r == '-' || r >= '0' && r <= '9')) {
			plain = false
			break
		}
	}
	if !plain {
		return path + "[" + strconv.Quote(key) + "]"
	}
	return path + "." + key
}
