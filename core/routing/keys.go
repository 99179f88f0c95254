package routing

import (
	"regexp"
	"slices"
	"strings"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/config"
)

// DM scopes (session.dmScope and bindings[].session.dmScope).
const (
	DMScopeMain                  = "main"
	DMScopePerPeer               = "per-peer"
	DMScopePerChannelPeer        = "per-channel-peer"
	DMScopePerAccountChannelPeer = "per-account-channel-peer"
)

// Group scopes (session.groupScope and bindings[].session.groupScope).
const (
	GroupScopePerGroup = "per-group"
	GroupScopeMain     = "main"
)

// DefaultAccountID is the account an inbound message without an account id
// belongs to, and the only account a binding without match.accountId
// matches.
const DefaultAccountID = "default"

// mainRest is the fixed main-session suffix. OpenClaw documents
// session.mainKey as "accepted but ignored": it is always "main".
const mainRest = "main"

var (
	validIDRE   = regexp.MustCompile(`(?i)^[a-z0-9][a-z0-9_-]{0,63}$`)
	invalidIDRE = regexp.MustCompile(`[^a-z0-9_-]+`)
)

// sanitizeID is OpenClaw's id canonicalization (agent and account ids):
// lower case, runs of characters outside [a-z0-9_-] become "-", leading and
// trailing dashes dropped, at most 64 characters. "" means unrepresentable.
func sanitizeID(s string) string {
	s = strings.TrimSpace(s)
	if validIDRE.MatchString(s) {
		return strings.ToLower(s)
	}
	s = invalidIDRE.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// NormalizeAgentID canonicalizes an agent id the way session keys spell it
// (lower case, [a-z0-9_-], at most 64 characters); an empty or
// unrepresentable id becomes "main".
func NormalizeAgentID(id string) string {
	if s := sanitizeID(id); s != "" {
		return s
	}
	return config.MainAgentID
}

// NormalizeAccountID canonicalizes a channel account id; "" (and anything
// unrepresentable) is DefaultAccountID.
func NormalizeAccountID(id string) string {
	s := sanitizeID(id)
	switch s {
	case "", "__proto__", "constructor", "prototype":
		return DefaultAccountID
	}
	return s
}

// normalizeChannel is a channel id as keys and matching use it.
func normalizeChannel(ch string) string { return strings.ToLower(strings.TrimSpace(ch)) }

// normalizeKind maps a peer kind onto direct|group|channel ("dm" is an
// alias of direct); anything else is "".
func normalizeKind(kind string) string {
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "direct", "dm":
		return channel.PeerDirect
	case "group":
		return channel.PeerGroup
	case "channel":
		return channel.PeerChannel
	}
	return ""
}

// casePreservingPeer reports whether a channel's ids of this peer kind are
// opaque and case-sensitive (Signal group ids, Matrix room ids), so session
// keys keep their case.
func casePreservingPeer(ch, kind string) bool {
	switch normalizeChannel(ch) {
	case "signal":
		return kind == channel.PeerGroup
	case "matrix":
		return kind == channel.PeerGroup || kind == channel.PeerChannel
	}
	return false
}

// MainSessionKey is an agent's main session key, "agent:<agentId>:main".
func MainSessionKey(agentID string) string {
	return "agent:" + NormalizeAgentID(agentID) + ":" + mainRest
}

// KeyParams are the inputs of a conversation's session key.
type KeyParams struct {
	AgentID   string
	Channel   string
	AccountID string
	// Peer is the conversation. Peer.ThreadID with TopicKind "topic" (a
	// Telegram forum topic) is part of the group id, so each topic is its
	// own group; any other ThreadID appends ":thread:<id>".
	Peer       channel.Peer
	DMScope    string // "" = main
	GroupScope string // "" = per-group
	// IdentityLinks maps a canonical peer id to provider-prefixed
	// ("telegram:123") or bare peer ids; DMs from a linked id use the
	// canonical id under the per-* scopes (session.identityLinks).
	IdentityLinks map[string][]string
}

// SessionKey builds a conversation's session key:
//
//	direct, dmScope main:                  agent:<agentId>:main
//	direct, per-peer:                      agent:<agentId>:direct:<peerId>
//	direct, per-channel-peer:              agent:<agentId>:<channel>:direct:<peerId>
//	direct, per-account-channel-peer:      agent:<agentId>:<channel>:<accountId>:direct:<peerId>
//	group (groupScope per-group):          agent:<agentId>:<channel>:group:<id>
//	room/channel (groupScope per-group):   agent:<agentId>:<channel>:channel:<id>
//	group or room, groupScope main:        agent:<agentId>:main
//
// Telegram forum topics embed ":topic:<topicId>" in the group id; threads
// append ":thread:<threadId>" to whatever base key the scope selects
// (agent:main:main:thread:<ts> under dmScope main). Channel, agent and
// account ids are canonicalized and peer ids lower-cased (except Signal
// group and Matrix room ids, which are case-sensitive), as OpenClaw does.
func SessionKey(p KeyParams) string {
	agent := NormalizeAgentID(p.AgentID)
	ch := normalizeChannel(p.Channel)
	if ch == "" {
		ch = "unknown"
	}
	kind := normalizeKind(p.Peer.Kind)
	if kind == "" {
		// No kind is a DM; an unknown one keeps its spelling and is keyed
		// like a group, as OpenClaw does.
		kind = strings.TrimSpace(p.Peer.Kind)
		if kind == "" {
			kind = channel.PeerDirect
		}
	}
	peerID := strings.TrimSpace(p.Peer.ID)
	thread := strings.TrimSpace(p.Peer.ThreadID)
	topic := thread != "" && strings.EqualFold(strings.TrimSpace(p.Peer.TopicKind), "topic")
	if topic {
		peerID += ":topic:" + thread
	}
	if peerID == "" {
		peerID = "unknown"
	}

	var base string
	if kind == channel.PeerDirect {
		base = directKey(agent, ch, p.AccountID, peerID, p.DMScope, p.IdentityLinks)
	} else if p.GroupScope == GroupScopeMain {
		base = "agent:" + agent + ":" + mainRest
	} else {
		id := peerID
		if !casePreservingPeer(ch, kind) {
			id = strings.ToLower(id)
		}
		base = "agent:" + agent + ":" + ch + ":" + kind + ":" + id
	}
	if thread != "" && !topic {
		base += ":thread:" + strings.ToLower(thread)
	}
	return base
}

func directKey(agent, ch, account, peerID, dmScope string, links map[string][]string) string {
	if dmScope == "" || dmScope == DMScopeMain {
		return "agent:" + agent + ":" + mainRest
	}
	if linked := linkedPeer(links, ch, peerID); linked != "" {
		peerID = linked
	}
	peerID = strings.ToLower(peerID)
	switch dmScope {
	case DMScopePerAccountChannelPeer:
		return "agent:" + agent + ":" + ch + ":" + NormalizeAccountID(account) + ":direct:" + peerID
	case DMScopePerChannelPeer:
		return "agent:" + agent + ":" + ch + ":direct:" + peerID
	case DMScopePerPeer:
		return "agent:" + agent + ":direct:" + peerID
	}
	// An unknown scope shares the main session, as OpenClaw does.
	return "agent:" + agent + ":" + mainRest
}

// linkedPeer is the canonical id session.identityLinks declares for a
// direct peer ("" when none). Canonical names are tried in sorted order so
// an id listed under two names resolves deterministically.
func linkedPeer(links map[string][]string, ch, peerID string) string {
	if len(links) == 0 || peerID == "" {
		return ""
	}
	raw := strings.ToLower(peerID)
	scoped := strings.ToLower(ch + ":" + peerID)
	names := make([]string, 0, len(links))
	for name := range links {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		canonical := strings.TrimSpace(name)
		if canonical == "" {
			continue
		}
		for _, id := range links[name] {
			id = strings.ToLower(strings.TrimSpace(id))
			if id != "" && (id == raw || id == scoped) {
				return canonical
			}
		}
	}
	return ""
}
