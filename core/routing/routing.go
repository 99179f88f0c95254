// Package routing picks the agent and the session for an inbound channel
// message, as OpenClaw does (docs/channels/channel-routing.md,
// docs/concepts/agent-bindings.md, docs/gateway/config-agents/sessions.md).
// It is pure: no I/O, no clock.
//
// Bindings choose an agent for a message that channel access control
// (core/channels/access) already admitted; they grant nothing. The first
// matching tier wins, and within a tier the first binding in config order:
//
//  1. exact peer (match.peer kind + id)
//  2. parent peer (the chat a thread belongs to)
//  3. peer wildcard (match.peer.id "*" for a kind)
//  4. guild + roles (match.guildId + match.roles; any role matches)
//  5. guild (match.guildId)
//  6. team (match.teamId)
//  7. account (match.accountId of that account, no peer/guild/team)
//  8. channel (match.accountId "*", no peer/guild/team)
//  9. the default agent
//
// A binding applies only when all its match fields hold. A binding without
// match.accountId matches only the channel's default account ("default");
// "*" matches every account. Peer kinds "group" and "channel" match each
// other.
package routing

import (
	"slices"
	"strings"

	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/config"
)

// MatchedBy values of a Route: the runtime match kinds OpenClaw reports
// (docs/cli/policy/rules.md, routing.probes[].expect.matchedBy).
const (
	MatchedByPeer         = "binding.peer"
	MatchedByParentPeer   = "binding.peer.parent"
	MatchedByPeerWildcard = "binding.peer.wildcard"
	MatchedByGuildRoles   = "binding.guild+roles"
	MatchedByGuild        = "binding.guild"
	MatchedByTeam         = "binding.team"
	MatchedByAccount      = "binding.account"
	MatchedByChannel      = "binding.channel"
	MatchedByDefault      = "default"
)

// Binding types.
const (
	BindingRoute = "route" // ordinary routing ("" means route)
	BindingACP   = "acp"   // persistent ACP conversation; not used by Resolve
)

// PeerMatch is match.peer.
type PeerMatch struct {
	Kind string // direct | group | channel
	ID   string // a platform id, or "*" for every peer of Kind
}

// Match is a binding's match block.
type Match struct {
	Channel string // required
	// AccountID: "" matches only the default account, "*" every account.
	AccountID string
	Peer      *PeerMatch
	GuildID   string   // Discord guild
	TeamID    string   // Slack team
	Roles     []string // Discord role ids; the sender needs any one of them
}

// SessionOverride is bindings[].session: session scoping for the
// conversations a binding matches ("" keeps the global value).
type SessionOverride struct {
	DMScope    string // main | per-peer | per-channel-peer | per-account-channel-peer
	GroupScope string // main | per-group
}

// ACPOptions is bindings[].acp (type "acp" only).
type ACPOptions struct {
	Mode    string // persistent | oneshot
	Label   string
	Cwd     string
	Backend string
}

// Binding is one entry of the top-level "bindings" config array.
type Binding struct {
	Type    string // "" or "route"; "acp" entries are skipped by Resolve
	AgentID string
	Comment string
	Match   Match
	Session SessionOverride
	ACP     *ACPOptions
}

// Config is what Resolve needs from the gateway config.
type Config struct {
	Bindings []Binding
	// DefaultAgent owns messages no binding matches ("" = "main").
	DefaultAgent string
	// DMScope is session.dmScope ("" = main).
	DMScope string
	// GroupScope is session.groupScope ("" = per-group).
	GroupScope string
	// MainKey is session.mainKey. OpenClaw accepts it but ignores it: the
	// main-session suffix is always "main". So does Resolve.
	MainKey string
	// IdentityLinks is session.identityLinks.
	IdentityLinks map[string][]string
}

// Route is where an inbound message goes.
type Route struct {
	AgentID    string
	SessionKey string
	// MainSessionKey is the agent's main session ("agent:<agentId>:main").
	MainSessionKey string
	// LastRoutePolicy is "main" when SessionKey is the main session (the
	// message updates the main session's last route) and "session"
	// otherwise.
	LastRoutePolicy string
	MatchedBy       string // one of the MatchedBy* constants
	// ReplyTo is the conversation replies go back to: always the one the
	// message came from, thread included.
	ReplyTo    channel.Peer
	Channel    string // normalized (lower case)
	AccountID  string // normalized; "default" when the message had none
	DMScope    string // effective, after any binding override
	GroupScope string // effective, after any binding override
}

// scope is what bindings are matched against.
type scope struct {
	peer    *peerRef
	guildID string
	teamID  string
	roles   []string
}

type peerRef struct{ kind, id string }

// Resolve routes an inbound message.
func Resolve(cfg Config, in channel.Inbound) Route {
	ch := normalizeChannel(in.Channel)
	account := NormalizeAccountID(in.AccountID)

	peer, parent := routingPeers(in)
	guild := strings.TrimSpace(in.GuildID)
	sc := scope{peer: peer, guildID: guild, teamID: guild, roles: in.Roles}

	candidates := bindingsFor(cfg.Bindings, ch, account)
	var (
		byPeer, byParent, byWildcard, byGuildRoles, byGuild, byTeam, byAccount, byChannel []*Binding
	)
	for _, b := range candidates {
		m := &b.Match
		switch pk := peerState(m.Peer); {
		case pk == peerExact:
			if peer != nil && samePeer(m.Peer, peer) {
				byPeer = append(byPeer, b)
			}
			if parent != nil && samePeer(m.Peer, parent) {
				byParent = append(byParent, b)
			}
		case pk == peerWildcard:
			byWildcard = append(byWildcard, b)
		case strings.TrimSpace(m.GuildID) != "" && len(m.Roles) > 0:
			byGuildRoles = append(byGuildRoles, b)
		case strings.TrimSpace(m.GuildID) != "":
			byGuild = append(byGuild, b)
		case strings.TrimSpace(m.TeamID) != "":
			byTeam = append(byTeam, b)
		case strings.TrimSpace(m.AccountID) != "*":
			byAccount = append(byAccount, b)
		default:
			byChannel = append(byChannel, b)
		}
	}

	type tier struct {
		list      []*Binding
		matchedBy string
		sc        scope
		enabled   bool
	}
	parentScope := sc
	parentScope.peer = parent
	tiers := []tier{
		{byPeer, MatchedByPeer, sc, peer != nil},
		{byParent, MatchedByParentPeer, parentScope, parent != nil && parent.id != ""},
		{byWildcard, MatchedByPeerWildcard, sc, peer != nil},
		{byGuildRoles, MatchedByGuildRoles, sc, guild != "" && len(in.Roles) > 0},
		{byGuild, MatchedByGuild, sc, guild != ""},
		{byTeam, MatchedByTeam, sc, guild != ""},
		{byAccount, MatchedByAccount, sc, true},
		{byChannel, MatchedByChannel, sc, true},
	}
	for _, t := range tiers {
		if !t.enabled {
			continue
		}
		for _, b := range t.list {
			if matchesScope(&b.Match, t.sc) {
				return build(cfg, in, ch, account, b.AgentID, t.matchedBy, b.Session)
			}
		}
	}
	agent := cfg.DefaultAgent
	if strings.TrimSpace(agent) == "" {
		agent = config.MainAgentID
	}
	return build(cfg, in, ch, account, agent, MatchedByDefault, SessionOverride{})
}

func build(cfg Config, in channel.Inbound, ch, account, agentID, matchedBy string, ov SessionOverride) Route {
	dm := firstNonEmpty(ov.DMScope, cfg.DMScope, DMScopeMain)
	group := firstNonEmpty(ov.GroupScope, cfg.GroupScope, GroupScopePerGroup)
	agent := NormalizeAgentID(agentID)
	key := SessionKey(KeyParams{
		AgentID: agent, Channel: ch, AccountID: account, Peer: in.Peer,
		DMScope: dm, GroupScope: group, IdentityLinks: cfg.IdentityLinks,
	})
	mainKey := MainSessionKey(agent)
	policy := "session"
	if key == mainKey {
		policy = "main"
	}
	return Route{
		AgentID: agent, SessionKey: key, MainSessionKey: mainKey, LastRoutePolicy: policy,
		MatchedBy: matchedBy, ReplyTo: in.Peer, Channel: ch, AccountID: account,
		DMScope: dm, GroupScope: group,
	}
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// routingPeers is the conversation a message is matched as, and its parent.
// A Telegram forum topic is the peer "<chatId>:topic:<topicId>" whose parent
// is the group itself (unless the plugin set ParentPeer).
func routingPeers(in channel.Inbound) (peer, parent *peerRef) {
	kind := normalizeKind(in.Peer.Kind)
	if kind == "" {
		kind = in.Peer.Kind
	}
	id := strings.TrimSpace(in.Peer.ID)
	thread := strings.TrimSpace(in.Peer.ThreadID)
	if thread != "" && strings.EqualFold(strings.TrimSpace(in.Peer.TopicKind), "topic") && id != "" {
		parent = &peerRef{kind: kind, id: id}
		id += ":topic:" + thread
	}
	peer = &peerRef{kind: kind, id: id}
	if in.ParentPeer != nil {
		pk := normalizeKind(in.ParentPeer.Kind)
		if pk == "" {
			pk = in.ParentPeer.Kind
		}
		parent = &peerRef{kind: pk, id: strings.TrimSpace(in.ParentPeer.ID)}
	}
	return peer, parent
}

// bindingsFor keeps the route bindings of one channel account, in config
// order.
func bindingsFor(all []Binding, ch, account string) []*Binding {
	var out []*Binding
	for i := range all {
		b := &all[i]
		if b.Type != "" && b.Type != BindingRoute {
			continue
		}
		bc := normalizeChannel(b.Match.Channel)
		if bc == "" || bc != ch {
			continue
		}
		if peerState(b.Match.Peer) == peerInvalid {
			continue
		}
		if pat := strings.TrimSpace(b.Match.AccountID); pat != "*" && NormalizeAccountID(pat) != account {
			continue
		}
		out = append(out, b)
	}
	return out
}

const (
	peerNone = iota
	peerExact
	peerWildcard
	peerInvalid
)

func peerState(p *PeerMatch) int {
	if p == nil {
		return peerNone
	}
	if normalizeKind(p.Kind) == "" || strings.TrimSpace(p.ID) == "" {
		return peerInvalid
	}
	if strings.TrimSpace(p.ID) == "*" {
		return peerWildcard
	}
	return peerExact
}

// kindsMatch: group and channel are interchangeable in bindings.
func kindsMatch(binding, actual string) bool {
	if binding == actual {
		return true
	}
	return (binding == channel.PeerGroup && actual == channel.PeerChannel) ||
		(binding == channel.PeerChannel && actual == channel.PeerGroup)
}

func samePeer(m *PeerMatch, p *peerRef) bool {
	return kindsMatch(normalizeKind(m.Kind), p.kind) && strings.TrimSpace(m.ID) == p.id
}

// matchesScope checks every match field a binding sets.
func matchesScope(m *Match, sc scope) bool {
	switch peerState(m.Peer) {
	case peerExact:
		if sc.peer == nil || !samePeer(m.Peer, sc.peer) {
			return false
		}
	case peerWildcard:
		if sc.peer == nil || !kindsMatch(normalizeKind(m.Peer.Kind), sc.peer.kind) {
			return false
		}
	}
	if g := strings.TrimSpace(m.GuildID); g != "" && g != sc.guildID {
		return false
	}
	if t := strings.TrimSpace(m.TeamID); t != "" && t != sc.teamID {
		return false
	}
	if len(m.Roles) > 0 && !slices.ContainsFunc(m.Roles, func(r string) bool { return slices.Contains(sc.roles, r) }) {
		return false
	}
	return true
}
