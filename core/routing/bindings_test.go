package routing

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/titanous/json5"
)

func decode(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := json5.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseBindingsValid(t *testing.T) {
	raw := decode(t, `[
		{ match: { channel: "slack", teamId: "T123" }, agentId: "support" },
		{
			agentId: "support",
			comment: "team room shares main",
			match: { channel: "slack", peer: { kind: "channel", id: "C0123TEAM" } },
			session: { groupScope: "main" },
		},
		{ agentId: "main", match: { channel: "discord", accountId: "*", guildId: "G1", roles: ["r1", "r2"] }, session: { dmScope: "per-channel-peer" } },
		{ type: "route", agentId: "home", match: { channel: "whatsapp", accountId: "personal" } },
		{ type: "acp", agentId: "coder", match: { channel: "discord", peer: { kind: "channel", id: "42" } }, acp: { mode: "persistent", label: "x", cwd: "/w", backend: "codex" } },
	]`)
	got, err := ParseBindings(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []Binding{
		{AgentID: "support", Match: Match{Channel: "slack", TeamID: "T123"}},
		{AgentID: "support", Comment: "team room shares main", Match: Match{Channel: "slack", Peer: &PeerMatch{Kind: "channel", ID: "C0123TEAM"}}, Session: SessionOverride{GroupScope: "main"}},
		{AgentID: "main", Match: Match{Channel: "discord", AccountID: "*", GuildID: "G1", Roles: []string{"r1", "r2"}}, Session: SessionOverride{DMScope: "per-channel-peer"}},
		{Type: "route", AgentID: "home", Match: Match{Channel: "whatsapp", AccountID: "personal"}},
		{Type: "acp", AgentID: "coder", Match: Match{Channel: "discord", Peer: &PeerMatch{Kind: "channel", ID: "42"}}, ACP: &ACPOptions{Mode: "persistent", Label: "x", Cwd: "/w", Backend: "codex"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if b, err := ParseBindings(nil); b != nil || err != nil {
		t.Fatalf("nil: %v %v", b, err)
	}
	if b, err := ParseBindings([]any{}); len(b) != 0 || err != nil {
		t.Fatalf("empty: %v %v", b, err)
	}
}

func TestParseBindingsErrors(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []string // "path: message" prefixes, in order
	}{
		{"not an array", `{}`, []string{"bindings: must be an array"}},
		{"entry not an object", `["x"]`, []string{"bindings[0]: must be an object, not a string"}},
		{"missing agentId and match", `[{}]`, []string{"bindings[0].agentId: required", "bindings[0].match: required"}},
		{"empty agentId", `[{agentId: " ", match: {channel: "x"}}]`, []string{"bindings[0].agentId: must not be empty"}},
		{"bad agentId", `[{agentId: "!!", match: {channel: "x"}}]`, []string{"bindings[0].agentId: \"!!\" is not a usable agent id"}},
		{"missing channel", `[{agentId: "a", match: {}}]`, []string{"bindings[0].match.channel: required"}},
		{"unknown keys", `[{agentId: "a", agent: "b", match: {channel: "x", account: "y", "peer id": 1}}]`, []string{
			"bindings[0].agent: unknown key", "bindings[0].match.account: unknown key", `bindings[0].match["peer id"]: unknown key`}},
		{"numeric id", `[{agentId: "a", match: {channel: "x", peer: {kind: "group", id: -100123}}}]`, []string{"bindings[0].match.peer.id: must be a string, not a number (quote ids"}},
		{"bad peer kind", `[{agentId: "a", match: {channel: "x", peer: {kind: "room", id: "1"}}}]`, []string{"bindings[0].match.peer.kind: must be one of direct, group, channel"}},
		{"peer without id", `[{agentId: "a", match: {channel: "x", peer: {kind: "group"}}}]`, []string{"bindings[0].match.peer.id: required"}},
		{"roles not strings", `[{agentId: "a", match: {channel: "x", roles: ["r", 5]}}]`, []string{"bindings[0].match.roles[1]: must be a string, not a number"}},
		{"roles not array", `[{agentId: "a", match: {channel: "x", roles: "r"}}]`, []string{"bindings[0].match.roles: must be an array"}},
		{"bad dmScope", `[{agentId: "a", match: {channel: "x"}, session: {dmScope: "per-user"}}]`, []string{"bindings[0].session.dmScope: must be one of main, per-peer"}},
		{"bad groupScope", `[{agentId: "a", match: {channel: "x"}, session: {groupScope: "group"}}]`, []string{"bindings[0].session.groupScope: must be one of main, per-group"}},
		{"bad type", `[{type: "forward", agentId: "a", match: {channel: "x"}}]`, []string{"bindings[0].type: must be one of route, acp"}},
		{"acp without peer", `[{type: "acp", agentId: "a", match: {channel: "x"}}]`, []string{"bindings[0].match.peer: ACP bindings require match.peer.id"}},
		{"acp with session", `[{type: "acp", agentId: "a", match: {channel: "x", peer: {kind: "direct", id: "1"}}, session: {}}]`, []string{"bindings[0].session: only route bindings"}},
		{"acp options on a route", `[{agentId: "a", match: {channel: "x"}, acp: {}}]`, []string{"bindings[0].acp: only bindings with type \"acp\""}},
		{"bad acp mode", `[{type: "acp", agentId: "a", match: {channel: "x", peer: {kind: "direct", id: "1"}}, acp: {mode: "forever"}}]`, []string{"bindings[0].acp.mode: must be one of persistent, oneshot"}},
		{"second entry", `[{agentId: "a", match: {channel: "x"}}, {agentId: "b", match: {channel: 3}}]`, []string{"bindings[1].match.channel: must be a string, not a number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBindings(decode(t, tt.json))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v", err)
			}
			if len(pe.Issues) != len(tt.want) {
				t.Fatalf("issues %v, want %d", pe.Issues, len(tt.want))
			}
			for i, w := range tt.want {
				if got := pe.Issues[i].String(); !strings.HasPrefix(got, w) {
					t.Errorf("issue %d = %q, want prefix %q", i, got, w)
				}
			}
		})
	}
}

func TestParseBindingsKeepsValidEntries(t *testing.T) {
	got, err := ParseBindings(decode(t, `[{agentId: "a", match: {channel: "x"}}, {agentId: "b"}, {agentId: "c", match: {channel: "y"}}]`))
	if err == nil || len(got) != 2 || got[0].AgentID != "a" || got[1].AgentID != "c" {
		t.Fatalf("%v %v", got, err)
	}
	if !strings.Contains(err.Error(), "bindings[1].match: required") {
		t.Fatal(err)
	}
}

func TestParsedBindingsRoute(t *testing.T) {
	bs, err := ParseBindings(decode(t, `[
		{ agentId: "support", match: { channel: "discord", accountId: "support" } },
		{ agentId: "main", match: { channel: "discord", accountId: "*" } },
	]`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Bindings: bs, DefaultAgent: "main"}
	if r := Resolve(cfg, dmFrom("discord", "support", "1")); r.AgentID != "support" || r.MatchedBy != MatchedByAccount {
		t.Fatalf("%+v", r)
	}
	if r := Resolve(cfg, dmFrom("discord", "other", "1")); r.AgentID != "main" || r.MatchedBy != MatchedByChannel {
		t.Fatalf("%+v", r)
	}
}
