package routing

import (
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/channels/channel"
)

func TestSessionKeyShapes(t *testing.T) {
	dm := channel.Peer{Kind: channel.PeerDirect, ID: "123"}
	links := map[string][]string{"alice": {"telegram:123", "discord:987"}}
	tests := []struct {
		name string
		p    KeyParams
		want string
	}{
		// Direct messages under every dmScope.
		{"dm default scope is main", KeyParams{AgentID: "main", Channel: "telegram", Peer: dm}, "agent:main:main"},
		{"dm main", KeyParams{AgentID: "main", Channel: "telegram", Peer: dm, DMScope: DMScopeMain}, "agent:main:main"},
		{"dm per-peer", KeyParams{AgentID: "main", Channel: "telegram", Peer: dm, DMScope: DMScopePerPeer}, "agent:main:direct:123"},
		{"dm per-channel-peer", KeyParams{AgentID: "main", Channel: "telegram", Peer: dm, DMScope: DMScopePerChannelPeer}, "agent:main:telegram:direct:123"},
		{"dm per-account-channel-peer", KeyParams{AgentID: "main", Channel: "telegram", AccountID: "alerts", Peer: dm, DMScope: DMScopePerAccountChannelPeer}, "agent:main:telegram:alerts:direct:123"},
		{"dm per-account-channel-peer default account", KeyParams{AgentID: "main", Channel: "telegram", Peer: dm, DMScope: DMScopePerAccountChannelPeer}, "agent:main:telegram:default:direct:123"},
		{"dm unknown scope falls back to main", KeyParams{AgentID: "main", Channel: "telegram", Peer: dm, DMScope: "bogus"}, "agent:main:main"},
		{"dm kind alias", KeyParams{AgentID: "main", Channel: "telegram", Peer: channel.Peer{Kind: "dm", ID: "5"}, DMScope: DMScopePerPeer}, "agent:main:direct:5"},
		{"dm empty kind is direct", KeyParams{AgentID: "main", Channel: "telegram", Peer: channel.Peer{ID: "5"}, DMScope: DMScopePerPeer}, "agent:main:direct:5"},
		{"dm empty id", KeyParams{AgentID: "main", Channel: "telegram", Peer: channel.Peer{Kind: "direct"}, DMScope: DMScopePerPeer}, "agent:main:direct:unknown"},
		{"dm ids lower-cased", KeyParams{AgentID: "Ops", Channel: "Slack", AccountID: "Work", Peer: channel.Peer{Kind: "direct", ID: "U123ABC"}, DMScope: DMScopePerAccountChannelPeer}, "agent:ops:slack:work:direct:u123abc"},
		{"dm thread under main", KeyParams{AgentID: "main", Channel: "slack", Peer: channel.Peer{Kind: "direct", ID: "U1", ThreadID: "1777244748.777299", TopicKind: "thread"}}, "agent:main:main:thread:1777244748.777299"},
		{"dm thread per-channel-peer", KeyParams{AgentID: "main", Channel: "slack", Peer: channel.Peer{Kind: "direct", ID: "U12345678", ThreadID: "1777244748.777299", TopicKind: "thread"}, DMScope: DMScopePerChannelPeer}, "agent:main:slack:direct:u12345678:thread:1777244748.777299"},
		// Identity links.
		{"identity link scoped", KeyParams{AgentID: "main", Channel: "telegram", Peer: dm, DMScope: DMScopePerPeer, IdentityLinks: links}, "agent:main:direct:alice"},
		{"identity link other channel", KeyParams{AgentID: "main", Channel: "discord", Peer: channel.Peer{Kind: "direct", ID: "987"}, DMScope: DMScopePerChannelPeer, IdentityLinks: links}, "agent:main:discord:direct:alice"},
		{"identity link not for unlinked", KeyParams{AgentID: "main", Channel: "discord", Peer: dm, DMScope: DMScopePerPeer, IdentityLinks: links}, "agent:main:direct:123"},
		{"identity link ignored under main", KeyParams{AgentID: "main", Channel: "telegram", Peer: dm, IdentityLinks: links}, "agent:main:main"},
		// Groups and rooms.
		{"group", KeyParams{AgentID: "main", Channel: "telegram", Peer: channel.Peer{Kind: "group", ID: "-1001234567890"}}, "agent:main:telegram:group:-1001234567890"},
		{"channel", KeyParams{AgentID: "main", Channel: "discord", Peer: channel.Peer{Kind: "channel", ID: "123456"}}, "agent:main:discord:channel:123456"},
		{"group ignores dmScope", KeyParams{AgentID: "main", Channel: "telegram", Peer: channel.Peer{Kind: "group", ID: "-1"}, DMScope: DMScopePerPeer}, "agent:main:telegram:group:-1"},
		{"telegram topic", KeyParams{AgentID: "main", Channel: "telegram", Peer: channel.Peer{Kind: "group", ID: "-1001234567890", ThreadID: "42", TopicKind: "topic"}}, "agent:main:telegram:group:-1001234567890:topic:42"},
		{"discord thread", KeyParams{AgentID: "main", Channel: "discord", Peer: channel.Peer{Kind: "channel", ID: "123456", ThreadID: "987654", TopicKind: "thread"}}, "agent:main:discord:channel:123456:thread:987654"},
		{"thread without kind is a thread", KeyParams{AgentID: "main", Channel: "slack", Peer: channel.Peer{Kind: "channel", ID: "C1", ThreadID: "T9"}}, "agent:main:slack:channel:c1:thread:t9"},
		{"group id lower-cased", KeyParams{AgentID: "main", Channel: "slack", Peer: channel.Peer{Kind: "channel", ID: "C0123TEAM"}}, "agent:main:slack:channel:c0123team"},
		{"signal group keeps case", KeyParams{AgentID: "main", Channel: "signal", Peer: channel.Peer{Kind: "group", ID: "AbC+/="}}, "agent:main:signal:group:AbC+/="},
		{"matrix room keeps case", KeyParams{AgentID: "main", Channel: "matrix", Peer: channel.Peer{Kind: "channel", ID: "!RoomId:example.org"}}, "agent:main:matrix:channel:!RoomId:example.org"},
		{"group scope main", KeyParams{AgentID: "main", Channel: "slack", Peer: channel.Peer{Kind: "channel", ID: "C1"}, GroupScope: GroupScopeMain}, "agent:main:main"},
		{"group scope main keeps thread", KeyParams{AgentID: "main", Channel: "slack", Peer: channel.Peer{Kind: "channel", ID: "C1", ThreadID: "9", TopicKind: "thread"}, GroupScope: GroupScopeMain}, "agent:main:main:thread:9"},
		{"group scope main folds topic", KeyParams{AgentID: "main", Channel: "telegram", Peer: channel.Peer{Kind: "group", ID: "-1", ThreadID: "9", TopicKind: "topic"}, GroupScope: GroupScopeMain}, "agent:main:main"},
		{"unknown kind keyed like a group", KeyParams{AgentID: "main", Channel: "x", Peer: channel.Peer{Kind: "space", ID: "S1"}}, "agent:main:x:space:s1"},
		{"empty channel", KeyParams{AgentID: "main", Peer: channel.Peer{Kind: "group", ID: "g"}}, "agent:main:unknown:group:g"},
		{"empty group id", KeyParams{AgentID: "main", Channel: "x", Peer: channel.Peer{Kind: "group"}}, "agent:main:x:group:unknown"},
		// Agent id canonicalization.
		{"agent id sanitized", KeyParams{AgentID: " My Agent! ", Channel: "telegram", Peer: dm}, "agent:my-agent:main"},
		{"empty agent is main", KeyParams{Channel: "telegram", Peer: dm}, "agent:main:main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SessionKey(tt.p); got != tt.want {
				t.Errorf("SessionKey = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNormalizeIDs(t *testing.T) {
	for in, want := range map[string]string{"": "default", "  ": "default", "Work": "work", "a b": "a-b", "--x--": "x", "!!!": "default", "__proto__": "default"} {
		if got := NormalizeAccountID(in); got != want {
			t.Errorf("NormalizeAccountID(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"": "main", "Ops": "ops", "a.b": "a-b", "ü": "main", "support_2": "support_2"} {
		if got := NormalizeAgentID(in); got != want {
			t.Errorf("NormalizeAgentID(%q) = %q, want %q", in, got, want)
		}
	}
	long := "-a" + strings.Repeat("b", 70)
	if got := NormalizeAgentID(long); len(got) != 64 {
		t.Errorf("long id kept %d chars", len(got))
	}
	if MainSessionKey("Ops") != "agent:ops:main" {
		t.Error(MainSessionKey("Ops"))
	}
}
