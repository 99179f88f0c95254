// Package access decides whether an inbound channel message may reach an
// agent: DM pairing and allowlists, group policy and mention gating, bot
// filtering, and command owners, as OpenClaw documents them
// (docs/channels/pairing.md, docs/gateway/config-channels/shared-policies.md,
// docs/channels/groups.md, docs/channels/telegram/access-control.md,
// docs/channels/bot-loop-protection.md, docs/tools/slash-commands.md).
//
// Direct messages follow the channel account's dmPolicy:
//
//   - pairing (default): senders in allowFrom or approved by pairing are
//     admitted; an unknown sender gets a one-time pairing code and their
//     message is not processed until the owner approves it.
//   - allowlist: only senders in allowFrom or the pairing allow store.
//   - open: everyone when allowFrom contains "*"; otherwise only the
//     senders allowFrom lists (pairing approvals do not widen open).
//   - disabled: every DM is dropped.
//
// Group and room messages pass three gates in order: groupPolicy
// (disabled drops everything), the group allowlist (Groups and the keys of
// GroupSettings; "*" admits every group) together with the sender allowlist
// (under groupPolicy allowlist), and mention gating. DM pairing approvals
// never authorize group senders.
//
// Pairing codes are 8 characters from an alphabet without 0, O, 1 and I,
// valid for one hour, at most 3 pending per channel account; a sender is
// sent their code once per request. Requests and approved senders live in
// the state database (migration domain "channel_access") and survive
// restarts.
package access

import (
	"slices"
	"strings"

	"github.com/pincerhq/pincer/core/channels/channel"
)

// DM policies.
const (
	DMPolicyPairing   = "pairing"
	DMPolicyAllowlist = "allowlist"
	DMPolicyOpen      = "open"
	DMPolicyDisabled  = "disabled"
)

// Group policies.
const (
	GroupPolicyAllowlist = "allowlist"
	GroupPolicyOpen      = "open"
	GroupPolicyDisabled  = "disabled"
)

// AllowBots values (the channel config's allowBots: false | true |
// "mentions").
const (
	AllowBotsOff      = "false"    // also ""; bot-authored messages are ignored
	AllowBotsOn       = "true"     // bot-authored messages are accepted
	AllowBotsMentions = "mentions" // only bot messages that mention us
)

// Wildcard in allowFrom, groupAllowFrom and groups admits everyone.
const Wildcard = "*"

// GroupSettings is a per-group override (channels.<channel>.groups.<id>,
// "*" for every group). Listing a group here also allowlists it.
type GroupSettings struct {
	// RequireMention overrides Policy.RequireMention for the group.
	RequireMention *bool
	// GroupPolicy overrides Policy.GroupPolicy for the group.
	GroupPolicy string
	// AllowFrom, when set, is the group's sender allowlist; it replaces
	// GroupAllowFrom/AllowFrom and applies under every group policy.
	AllowFrom []string
}

// Policy is a channel account's access configuration.
type Policy struct {
	// DMPolicy is pairing (default), allowlist, open or disabled.
	DMPolicy string
	// AllowFrom lists the senders admitted in DMs: platform user ids
	// (optionally prefixed "<channel>:", e.g. "telegram:123"), "*" for
	// everyone, and "@username" entries, which match only with
	// DangerouslyAllowNameMatching.
	AllowFrom []string
	// GroupPolicy is allowlist (default), open or disabled.
	GroupPolicy string
	// Groups lists the group/room ids admitted ("*" = every group). With
	// no group listed (here or in GroupSettings), groupPolicy allowlist
	// admits no group and open admits every group.
	Groups []string
	// GroupAllowFrom lists the senders that may trigger the agent in
	// groups under groupPolicy allowlist; empty falls back to AllowFrom
	// (never to pairing approvals).
	GroupAllowFrom []string
	// GroupSettings are per-group overrides keyed by group id or "*".
	GroupSettings map[string]GroupSettings
	// RequireMention gates group messages on a mention of the bot
	// (Inbound.Mentioned); nil means true, the default.
	RequireMention *bool
	// OwnerAllowFrom is commands.ownerAllowFrom: the command owners, as
	// "<channel>:<userId>" (or a bare id for every channel). Ownership
	// does not grant chat access.
	OwnerAllowFrom []string
	// AllowBots admits messages written by other bots: "" or "false"
	// (default) ignores them, "true" accepts them, "mentions" accepts
	// those that mention us. Our own messages are always ignored.
	AllowBots string
	// DangerouslyAllowNameMatching lets "@username" allowlist entries
	// match Sender.Username. Usernames can change hands, so OpenClaw
	// matches them only in this break-glass mode.
	DangerouslyAllowNameMatching bool
}

// Decision codes (Decision.Code). The dm_* and group_policy_* codes are
// OpenClaw's DM_GROUP_ACCESS_REASON values.
const (
	CodeSelf                = "self_message"
	CodeBot                 = "bot_message"
	CodeDMOpen              = "dm_policy_open"
	CodeDMDisabled          = "dm_policy_disabled"
	CodeDMAllowlisted       = "dm_policy_allowlisted"
	CodeDMPairingRequired   = "dm_policy_pairing_required"
	CodeDMNotAllowlisted    = "dm_policy_not_allowlisted"
	CodeDMUnknownPolicy     = "dm_policy_unknown"
	CodePairingPending      = "pairing_pending"
	CodePairingQueueFull    = "pairing_queue_full"
	CodeGroupAllowed        = "group_policy_allowed"
	CodeGroupDisabled       = "group_policy_disabled"
	CodeGroupEmptyAllowlist = "group_policy_empty_allowlist"
	CodeGroupNotAllowlisted = "group_policy_not_allowlisted"
	CodeGroupNotListed      = "group_not_allowlisted"
	CodeGroupUnknownPolicy  = "group_policy_unknown"
	CodeMentionRequired     = "mention_required"
)

// Decision is the verdict on one inbound message.
type Decision struct {
	// Allow: process the message (start an agent turn).
	Allow bool
	// Reason explains the decision for logs.
	Reason string
	// Code is a stable machine-readable reason (Code* constants).
	Code string
	// PairingCode is set when a new pairing request was created: send it
	// to the sender (see PairingReply). It is empty while a request is
	// already pending, so the code goes out once per request.
	PairingCode string
	// IsOwner: the sender is a command owner (OwnerAllowFrom) and may use
	// privileged chat commands. It is reported whatever Allow is.
	IsOwner bool
	// Observe: the sender and group are admitted but the message does not
	// mention us while mentions are required; keep it as group history
	// context without starting a turn.
	Observe bool
}

func deny(code, reason string) Decision  { return Decision{Code: code, Reason: reason} }
func allow(code, reason string) Decision { return Decision{Allow: true, Code: code, Reason: reason} }

// channelAliases are prefixes allowFrom entries may use for a channel.
var channelAliases = map[string][]string{"telegram": {"tg"}, "msteams": {"teams"}}

// knownChannels are channel ids an owner entry's prefix may name; an entry
// for another channel never matches this one.
var knownChannels = []string{
	"bluebubbles", "discord", "feishu", "googlechat", "imessage", "irc", "line", "matrix", "mattermost",
	"msteams", "nextcloud-talk", "nostr", "qqbot", "signal", "slack", "sms", "synology-chat", "teams",
	"telegram", "tg", "tlon", "twitch", "webchat", "wechat", "whatsapp", "yuanbao", "zalo", "zalouser",
}

// stripChannelPrefix removes "<channelID>:" (or an alias) from an entry,
// case-insensitively; ok reports whether it did.
func stripChannelPrefix(channelID, entry string) (string, bool) {
	prefix, rest, found := strings.Cut(entry, ":")
	if !found {
		return entry, false
	}
	if strings.EqualFold(prefix, channelID) || slices.ContainsFunc(channelAliases[channelID], func(a string) bool { return strings.EqualFold(prefix, a) }) {
		return strings.TrimSpace(rest), true
	}
	return entry, false
}

// senderAllowed reports whether an allowlist admits the sender.
func senderAllowed(channelID string, list []string, s channel.Sender, names bool) bool {
	id := strings.TrimSpace(s.ID)
	user := strings.TrimPrefix(strings.TrimSpace(s.Username), "@")
	for _, e := range list {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if e == Wildcard {
			return true
		}
		e, _ = stripChannelPrefix(channelID, e)
		if id != "" && strings.EqualFold(e, id) {
			return true
		}
		if names && user != "" && strings.HasPrefix(e, "@") && strings.EqualFold(e[1:], user) {
			return true
		}
	}
	return false
}

func hasWildcard(list []string) bool {
	return slices.ContainsFunc(list, func(e string) bool { return strings.TrimSpace(e) == Wildcard })
}

// isOwner applies commands.ownerAllowFrom: "<channel>:<id>" entries count
// on that channel only, bare ids on every channel, "*" never, and legacy
// "<channel>:user:<id>" entries not at all (doctor rewrites them).
func isOwner(channelID string, owners []string, s channel.Sender) bool {
	id := strings.TrimSpace(s.ID)
	if id == "" {
		return false
	}
	for _, e := range owners {
		e = strings.TrimSpace(e)
		if e == "" || e == Wildcard {
			continue
		}
		if rest, ok := stripChannelPrefix(channelID, e); ok {
			if strings.HasPrefix(strings.ToLower(rest), "user:") {
				continue
			}
			e = rest
		} else if prefix, _, found := strings.Cut(e, ":"); found && slices.Contains(knownChannels, strings.ToLower(prefix)) {
			continue // another channel's owner
		}
		if e != Wildcard && strings.EqualFold(e, id) {
			return true
		}
	}
	return false
}

// groupIDs are the ids a group message may be listed under: the chat, its
// parent (for a thread), and "<chat>:topic:<id>" for a forum topic.
func groupIDs(in channel.Inbound) []string {
	id := strings.TrimSpace(in.Peer.ID)
	ids := []string{id}
	if t := strings.TrimSpace(in.Peer.ThreadID); t != "" && strings.EqualFold(in.Peer.TopicKind, "topic") {
		ids = append([]string{id + ":topic:" + t}, ids...)
	}
	if in.ParentPeer != nil && strings.TrimSpace(in.ParentPeer.ID) != "" {
		ids = append(ids, strings.TrimSpace(in.ParentPeer.ID))
	}
	return ids
}

// settingsFor picks the most specific GroupSettings: topic, chat, parent,
// then "*".
func settingsFor(p Policy, ids []string) (GroupSettings, bool) {
	for _, id := range ids {
		if gs, ok := p.GroupSettings[id]; ok {
			return gs, true
		}
	}
	gs, ok := p.GroupSettings[Wildcard]
	return gs, ok
}

// groupListed reports whether the group allowlist names the group, and
// whether there is any allowlist at all.
func groupListed(p Policy, ids []string) (listed, configured bool) {
	for _, g := range p.Groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		configured = true
		if g == Wildcard || slices.Contains(ids, g) {
			return true, true
		}
	}
	for g := range p.GroupSettings {
		configured = true
		if g == Wildcard || slices.Contains(ids, g) {
			return true, true
		}
	}
	return false, configured
}

// checkGroup applies group policy, allowlists and mention gating.
func checkGroup(channelID string, p Policy, in channel.Inbound) Decision {
	ids := groupIDs(in)
	gs, _ := settingsFor(p, ids)
	gp := gs.GroupPolicy
	if gp == "" {
		gp = p.GroupPolicy
	}
	if gp == "" {
		gp = GroupPolicyAllowlist
	}
	switch gp {
	case GroupPolicyDisabled:
		return deny(CodeGroupDisabled, "groupPolicy=disabled")
	case GroupPolicyAllowlist, GroupPolicyOpen:
	default:
		return deny(CodeGroupUnknownPolicy, "unknown groupPolicy "+gp+" (blocked)")
	}
	listed, configured := groupListed(p, ids)
	switch {
	case configured && !listed:
		return deny(CodeGroupNotListed, "group "+strings.TrimSpace(in.Peer.ID)+" is not in the group allowlist")
	case !configured && gp == GroupPolicyAllowlist:
		return deny(CodeGroupEmptyAllowlist, "groupPolicy=allowlist but no group is allowlisted (add its id, or \"*\", to groups)")
	}
	names := p.DangerouslyAllowNameMatching
	switch {
	case len(gs.AllowFrom) > 0:
		if !senderAllowed(channelID, gs.AllowFrom, in.Sender, names) {
			return deny(CodeGroupNotAllowlisted, "sender is not in this group's allowFrom")
		}
	case gp == GroupPolicyAllowlist:
		senders := p.GroupAllowFrom
		if len(senders) == 0 {
			senders = p.AllowFrom
		}
		if len(senders) == 0 {
			return deny(CodeGroupEmptyAllowlist, "groupPolicy=allowlist (empty sender allowlist: set groupAllowFrom or allowFrom)")
		}
		if !senderAllowed(channelID, senders, in.Sender, names) {
			return deny(CodeGroupNotAllowlisted, "groupPolicy=allowlist (sender not allowlisted)")
		}
	}
	require := true
	if gs.RequireMention != nil {
		require = *gs.RequireMention
	} else if p.RequireMention != nil {
		require = *p.RequireMention
	}
	if require && !in.Mentioned {
		d := deny(CodeMentionRequired, "group message does not mention the bot (requireMention)")
		d.Observe = true
		return d
	}
	return allow(CodeGroupAllowed, "groupPolicy="+gp)
}

// botGate applies self-message filtering and allowBots.
func botGate(p Policy, in channel.Inbound) (Decision, bool) {
	if in.Sender.IsSelf {
		return deny(CodeSelf, "our own message"), false
	}
	if !in.Sender.IsBot {
		return Decision{}, true
	}
	switch strings.ToLower(strings.TrimSpace(p.AllowBots)) {
	case AllowBotsOn:
		return Decision{}, true
	case AllowBotsMentions:
		if in.Mentioned {
			return Decision{}, true
		}
		return deny(CodeBot, "bot message without a mention (allowBots=mentions)"), false
	}
	return deny(CodeBot, "bot-authored message (allowBots is off)"), false
}

// isDirect: peers of unknown kind are treated as groups, the stricter path.
func isDirect(kind string) bool {
	k := strings.ToLower(strings.TrimSpace(kind))
	return k == channel.PeerDirect || k == "dm"
}
