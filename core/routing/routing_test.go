package routing

import (
	"testing"

	"github.com/pincerhq/pincer/core/channels/channel"
)

func dmFrom(ch, account, id string) channel.Inbound {
	return channel.Inbound{Channel: ch, AccountID: account, Peer: channel.Peer{Kind: channel.PeerDirect, ID: id}, Sender: channel.Sender{ID: id}}
}

func groupIn(ch, account, kind, id string) channel.Inbound {
	return channel.Inbound{Channel: ch, AccountID: account, Peer: channel.Peer{Kind: kind, ID: id}}
}

// every tier has a binding; each case removes nothing but sends a message
// that the tiers above it do not match.
var tiered = []Binding{
	{AgentID: "channel-any", Match: Match{Channel: "discord", AccountID: "*"}},
	{AgentID: "account", Match: Match{Channel: "discord", AccountID: "bot"}},
	{AgentID: "team", Match: Match{Channel: "discord", AccountID: "*", TeamID: "T1"}},
	{AgentID: "guild", Match: Match{Channel: "discord", AccountID: "*", GuildID: "G1"}},
	{AgentID: "guild-roles", Match: Match{Channel: "discord", AccountID: "*", GuildID: "G1", Roles: []string{"r-admin", "r-mod"}}},
	{AgentID: "wildcard", Match: Match{Channel: "discord", AccountID: "*", Peer: &PeerMatch{Kind: "direct", ID: "*"}}},
	{AgentID: "parent", Match: Match{Channel: "discord", AccountID: "*", Peer: &PeerMatch{Kind: "channel", ID: "P1"}}},
	{AgentID: "peer", Match: Match{Channel: "discord", AccountID: "*", Peer: &PeerMatch{Kind: "channel", ID: "C1"}}},
}

func TestResolvePrecedence(t *testing.T) {
	cfg := Config{Bindings: tiered, DefaultAgent: "fallback"}
	thread := groupIn("discord", "bot", "channel", "C1")
	threadOfP1 := groupIn("discord", "bot", "channel", "TH9")
	threadOfP1.ParentPeer = &channel.Peer{Kind: "channel", ID: "P1"}
	inGuild := groupIn("discord", "bot", "channel", "C7")
	inGuild.GuildID = "G1"
	withRoles := inGuild
	withRoles.Roles = []string{"r-other", "r-mod"}
	wrongRoles := inGuild
	wrongRoles.Roles = []string{"r-other"}
	inTeam := groupIn("discord", "bot", "channel", "C7")
	inTeam.GuildID = "T1"
	tests := []struct {
		name      string
		in        channel.Inbound
		agent     string
		matchedBy string
	}{
		{"exact peer beats everything", func() channel.Inbound { i := thread; i.GuildID = "G1"; i.Roles = []string{"r-admin"}; return i }(), "peer", MatchedByPeer},
		{"parent peer (thread inheritance)", threadOfP1, "parent", MatchedByParentPeer},
		{"exact peer beats parent", func() channel.Inbound { i := thread; i.ParentPeer = &channel.Peer{Kind: "channel", ID: "P1"}; return i }(), "peer", MatchedByPeer},
		{"peer wildcard", dmFrom("discord", "bot", "u1"), "wildcard", MatchedByPeerWildcard},
		{"guild + roles", withRoles, "guild-roles", MatchedByGuildRoles},
		{"guild when no role matches", wrongRoles, "guild", MatchedByGuild},
		{"guild without roles", inGuild, "guild", MatchedByGuild},
		{"team", inTeam, "team", MatchedByTeam},
		{"account", groupIn("discord", "bot", "channel", "C7"), "account", MatchedByAccount},
		{"channel (any account)", groupIn("discord", "other", "channel", "C7"), "channel-any", MatchedByChannel},
		{"default agent", groupIn("telegram", "", "group", "-1"), "fallback", MatchedByDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Resolve(cfg, tt.in)
			if r.AgentID != tt.agent || r.MatchedBy != tt.matchedBy {
				t.Errorf("got %s via %s, want %s via %s", r.AgentID, r.MatchedBy, tt.agent, tt.matchedBy)
			}
		})
	}
}

func TestResolveRules(t *testing.T) {
	tests := []struct {
		name      string
		bindings  []Binding
		in        channel.Inbound
		agent     string
		matchedBy string
	}{
		{
			"first binding in a tier wins",
			[]Binding{{AgentID: "a", Match: Match{Channel: "telegram"}}, {AgentID: "b", Match: Match{Channel: "telegram"}}},
			dmFrom("telegram", "", "1"), "a", MatchedByAccount,
		},
		{
			"a narrower tier wins regardless of order",
			[]Binding{{AgentID: "broad", Match: Match{Channel: "telegram", AccountID: "*"}}, {AgentID: "narrow", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "direct", ID: "1"}}}},
			dmFrom("telegram", "", "1"), "narrow", MatchedByPeer,
		},
		{
			"omitted accountId matches the default account",
			[]Binding{{AgentID: "a", Match: Match{Channel: "telegram"}}},
			dmFrom("telegram", "default", "1"), "a", MatchedByAccount,
		},
		{
			"omitted accountId does not match another account",
			[]Binding{{AgentID: "a", Match: Match{Channel: "telegram"}}},
			dmFrom("telegram", "alerts", "1"), "main", MatchedByDefault,
		},
		{
			"explicit accountId",
			[]Binding{{AgentID: "a", Match: Match{Channel: "telegram", AccountID: "Alerts"}}},
			dmFrom("telegram", "alerts", "1"), "a", MatchedByAccount,
		},
		{
			"peer binding without accountId is default-account only",
			[]Binding{{AgentID: "a", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "direct", ID: "1"}}}},
			dmFrom("telegram", "alerts", "1"), "main", MatchedByDefault,
		},
		{
			"channel names are case-insensitive",
			[]Binding{{AgentID: "a", Match: Match{Channel: "Telegram"}}},
			dmFrom("TELEGRAM", "", "1"), "a", MatchedByAccount,
		},
		{
			"other channels ignored",
			[]Binding{{AgentID: "a", Match: Match{Channel: "slack", AccountID: "*"}}},
			dmFrom("telegram", "", "1"), "main", MatchedByDefault,
		},
		{
			"group binding matches a channel peer",
			[]Binding{{AgentID: "a", Match: Match{Channel: "slack", Peer: &PeerMatch{Kind: "group", ID: "C1"}}}},
			groupIn("slack", "", "channel", "C1"), "a", MatchedByPeer,
		},
		{
			"direct binding does not match a group",
			[]Binding{{AgentID: "a", Match: Match{Channel: "slack", Peer: &PeerMatch{Kind: "direct", ID: "C1"}}}},
			groupIn("slack", "", "channel", "C1"), "main", MatchedByDefault,
		},
		{
			"peer ids are case-sensitive",
			[]Binding{{AgentID: "a", Match: Match{Channel: "slack", Peer: &PeerMatch{Kind: "channel", ID: "c1"}}}},
			groupIn("slack", "", "channel", "C1"), "main", MatchedByDefault,
		},
		{
			"wildcard of another kind does not match",
			[]Binding{{AgentID: "a", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "group", ID: "*"}}}},
			dmFrom("telegram", "", "1"), "main", MatchedByDefault,
		},
		{
			"group wildcard",
			[]Binding{{AgentID: "a", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "group", ID: "*"}}}},
			groupIn("telegram", "", "group", "-5"), "a", MatchedByPeerWildcard,
		},
		{
			"all fields must match: peer + guild",
			[]Binding{{AgentID: "a", Match: Match{Channel: "discord", Peer: &PeerMatch{Kind: "channel", ID: "C1"}, GuildID: "G2"}}},
			func() channel.Inbound { i := groupIn("discord", "", "channel", "C1"); i.GuildID = "G1"; return i }(), "main", MatchedByDefault,
		},
		{
			"guild + roles needs sender roles",
			[]Binding{{AgentID: "a", Match: Match{Channel: "discord", GuildID: "G1", Roles: []string{"r1"}}}},
			func() channel.Inbound { i := groupIn("discord", "", "channel", "C1"); i.GuildID = "G1"; return i }(), "main", MatchedByDefault,
		},
		{
			"roles without guild are checked at the account tier",
			[]Binding{{AgentID: "a", Match: Match{Channel: "discord", Roles: []string{"r1"}}}, {AgentID: "b", Match: Match{Channel: "discord"}}},
			func() channel.Inbound {
				i := groupIn("discord", "", "channel", "C1")
				i.Roles = []string{"r1"}
				return i
			}(), "a", MatchedByAccount,
		},
		{
			"roles without guild skipped when no role",
			[]Binding{{AgentID: "a", Match: Match{Channel: "discord", Roles: []string{"r1"}}}, {AgentID: "b", Match: Match{Channel: "discord"}}},
			groupIn("discord", "", "channel", "C1"), "b", MatchedByAccount,
		},
		{
			"acp bindings are not routes",
			[]Binding{{Type: BindingACP, AgentID: "a", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "direct", ID: "1"}}}},
			dmFrom("telegram", "", "1"), "main", MatchedByDefault,
		},
		{
			"invalid peer skipped",
			[]Binding{{AgentID: "a", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "room", ID: "1"}}}},
			dmFrom("telegram", "", "1"), "main", MatchedByDefault,
		},
		{
			"telegram topic binding",
			[]Binding{{AgentID: "topic", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "group", ID: "-100:topic:42"}}}, {AgentID: "grp", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "group", ID: "-100"}}}},
			channel.Inbound{Channel: "telegram", Peer: channel.Peer{Kind: "group", ID: "-100", ThreadID: "42", TopicKind: "topic"}}, "topic", MatchedByPeer,
		},
		{
			"telegram topic inherits the group binding",
			[]Binding{{AgentID: "grp", Match: Match{Channel: "telegram", Peer: &PeerMatch{Kind: "group", ID: "-100"}}}},
			channel.Inbound{Channel: "telegram", Peer: channel.Peer{Kind: "group", ID: "-100", ThreadID: "7", TopicKind: "topic"}}, "grp", MatchedByParentPeer,
		},
		{
			"slack thread matches its channel",
			[]Binding{{AgentID: "a", Match: Match{Channel: "slack", Peer: &PeerMatch{Kind: "channel", ID: "C1"}}}},
			channel.Inbound{Channel: "slack", Peer: channel.Peer{Kind: "channel", ID: "C1", ThreadID: "1.2", TopicKind: "thread"}}, "a", MatchedByPeer,
		},
		{
			"agent ids are canonicalized",
			[]Binding{{AgentID: "Support", Match: Match{Channel: "telegram"}}},
			dmFrom("telegram", "", "1"), "support", MatchedByAccount,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Resolve(Config{Bindings: tt.bindings}, tt.in)
			if r.AgentID != tt.agent || r.MatchedBy != tt.matchedBy {
				t.Errorf("got %s via %s, want %s via %s", r.AgentID, r.MatchedBy, tt.agent, tt.matchedBy)
			}
		})
	}
}

func TestResolveSessionKeys(t *testing.T) {
	bindings := []Binding{
		{AgentID: "support", Match: Match{Channel: "slack", Peer: &PeerMatch{Kind: "channel", ID: "C0123TEAM"}}, Session: SessionOverride{GroupScope: GroupScopeMain}},
		{AgentID: "iso", Match: Match{Channel: "whatsapp", AccountID: "*"}, Session: SessionOverride{DMScope: DMScopePerAccountChannelPeer}},
	}
	tests := []struct {
		name   string
		cfg    Config
		in     channel.Inbound
		key    string
		policy string
		dm     string
		group  string
	}{
		{"dm main by default", Config{}, dmFrom("telegram", "", "123"), "agent:main:main", "main", "main", "per-group"},
		{"dm per-channel-peer", Config{DMScope: DMScopePerChannelPeer}, dmFrom("telegram", "", "123"), "agent:main:telegram:direct:123", "session", "per-channel-peer", "per-group"},
		{"dm per-peer", Config{DMScope: DMScopePerPeer}, dmFrom("telegram", "", "123"), "agent:main:direct:123", "session", "per-peer", "per-group"},
		{"dm per-account-channel-peer", Config{DMScope: DMScopePerAccountChannelPeer}, dmFrom("telegram", "Alerts", "123"), "agent:main:telegram:alerts:direct:123", "session", "per-account-channel-peer", "per-group"},
		{"group", Config{}, groupIn("telegram", "", "group", "-1001234567890"), "agent:main:telegram:group:-1001234567890", "session", "main", "per-group"},
		{"global groupScope main", Config{GroupScope: GroupScopeMain}, groupIn("telegram", "", "group", "-1"), "agent:main:main", "main", "main", "main"},
		{"binding groupScope override", Config{Bindings: bindings}, groupIn("slack", "", "channel", "C0123TEAM"), "agent:support:main", "main", "main", "main"},
		{"binding override only for its peers", Config{Bindings: bindings}, groupIn("slack", "", "channel", "C9"), "agent:main:slack:channel:c9", "session", "main", "per-group"},
		{"binding dmScope override", Config{Bindings: bindings, DMScope: DMScopePerPeer}, dmFrom("whatsapp", "biz", "+1555"), "agent:iso:whatsapp:biz:direct:+1555", "session", "per-account-channel-peer", "per-group"},
		{"identity links", Config{DMScope: DMScopePerPeer, IdentityLinks: map[string][]string{"alice": {"telegram:123"}}}, dmFrom("telegram", "", "123"), "agent:main:direct:alice", "session", "per-peer", "per-group"},
		{"mainKey is ignored", Config{MainKey: "work"}, dmFrom("telegram", "", "123"), "agent:main:main", "main", "main", "per-group"},
		{"default agent", Config{DefaultAgent: "Ops"}, dmFrom("telegram", "", "123"), "agent:ops:main", "main", "main", "per-group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Resolve(tt.cfg, tt.in)
			if r.SessionKey != tt.key || r.LastRoutePolicy != tt.policy || r.DMScope != tt.dm || r.GroupScope != tt.group {
				t.Errorf("got key %q policy %s dm %s group %s", r.SessionKey, r.LastRoutePolicy, r.DMScope, r.GroupScope)
			}
			if r.MainSessionKey != "agent:"+r.AgentID+":main" {
				t.Errorf("main key %q for agent %q", r.MainSessionKey, r.AgentID)
			}
		})
	}
}

func TestResolveReplyTo(t *testing.T) {
	in := channel.Inbound{Channel: "Discord", AccountID: "", Peer: channel.Peer{Kind: "channel", ID: "C1", ThreadID: "T1", TopicKind: "thread"}}
	r := Resolve(Config{}, in)
	if r.ReplyTo != in.Peer || r.Channel != "discord" || r.AccountID != "default" {
		t.Fatalf("%+v", r)
	}
}
