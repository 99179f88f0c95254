package channels

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/channels/access"
	"github.com/pincerhq/pincer/core/channels/channel"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/routing"
)

// DefaultAccountID is the account of a channel configured without
// accounts.
const DefaultAccountID = "default"

// channelSettings is one configured channel (channels.<id>).
type channelSettings struct {
	ID             string
	Enabled        bool
	DefaultAccount string
	Accounts       []channel.AccountConfig // sorted by id
}

// accountKeys are the channel-root keys that are not inherited by accounts.
var accountKeys = map[string]bool{"accounts": true, "defaultAccount": true}

// channelConfig reads channels.<id>. A channel without accounts has one,
// "default", configured by the root block; with accounts, each account
// inherits the root's keys and overrides them.
func channelConfig(id string, raw any) (channelSettings, error) {
	cs := channelSettings{ID: id, Enabled: true}
	root, ok := raw.(map[string]any)
	if !ok {
		if raw == nil {
			root = map[string]any{}
		} else {
			return cs, fmt.Errorf("channels.%s must be an object", id)
		}
	}
	if v, ok := root["enabled"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return cs, fmt.Errorf("channels.%s.enabled must be true or false", id)
		}
		cs.Enabled = b
	}
	base := map[string]any{}
	for k, v := range root {
		if !accountKeys[k] {
			base[k] = v
		}
	}
	accounts := map[string]map[string]any{}
	if v, ok := root["accounts"]; ok && v != nil {
		m, isMap := v.(map[string]any)
		if !isMap {
			return cs, fmt.Errorf("channels.%s.accounts must be an object keyed by account id", id)
		}
		for aid, av := range m {
			am, isMap := av.(map[string]any)
			if av != nil && !isMap {
				return cs, fmt.Errorf("channels.%s.accounts.%s must be an object", id, aid)
			}
			norm := routing.NormalizeAccountID(aid)
			if _, dup := accounts[norm]; dup {
				return cs, fmt.Errorf("channels.%s.accounts: %q and another account normalize to the same id %q", id, aid, norm)
			}
			accounts[norm] = am
		}
	}
	if len(accounts) == 0 {
		accounts[DefaultAccountID] = nil
	}
	ids := make([]string, 0, len(accounts))
	for aid := range accounts {
		ids = append(ids, aid)
	}
	sort.Strings(ids)
	for _, aid := range ids {
		merged := make(map[string]any, len(base)+len(accounts[aid]))
		for k, v := range base {
			merged[k] = v
		}
		for k, v := range accounts[aid] {
			merged[k] = v
		}
		enabled := cs.Enabled
		if v, ok := accounts[aid]["enabled"]; ok {
			b, isBool := v.(bool)
			if !isBool {
				return cs, fmt.Errorf("channels.%s.accounts.%s.enabled must be true or false", id, aid)
			}
			enabled = cs.Enabled && b
		}
		name, _ := merged["name"].(string)
		cs.Accounts = append(cs.Accounts, channel.AccountConfig{Channel: id, AccountID: aid, Name: name, Enabled: enabled, Raw: merged})
	}
	switch d, _ := root["defaultAccount"].(string); {
	case d != "":
		cs.DefaultAccount = routing.NormalizeAccountID(d)
	case accounts[DefaultAccountID] != nil || len(ids) == 1 && ids[0] == DefaultAccountID:
		cs.DefaultAccount = DefaultAccountID
	default:
		cs.DefaultAccount = ids[0]
	}
	return cs, nil
}

// accessPolicy reads an account's access keys (dmPolicy, allowFrom,
// groupPolicy, groupAllowFrom, groups, requireMention, allowBots,
// dangerouslyAllowNameMatching) and commands.ownerAllowFrom.
func accessPolicy(acct channel.AccountConfig, owners []string) (access.Policy, error) {
	raw := acct.Raw
	where := "channels." + acct.Channel
	if acct.AccountID != DefaultAccountID {
		where += ".accounts." + acct.AccountID
	}
	p := access.Policy{OwnerAllowFrom: owners}
	var err error
	str := func(key string) string {
		if err != nil {
			return ""
		}
		v, ok := raw[key]
		if !ok || v == nil {
			return ""
		}
		s, isStr := v.(string)
		if !isStr {
			err = fmt.Errorf("%s.%s must be a string", where, key)
		}
		return s
	}
	list := func(key string) []string {
		if err != nil {
			return nil
		}
		out, e := stringList(raw[key])
		if e != nil {
			err = fmt.Errorf("%s.%s %v", where, key, e)
		}
		return out
	}
	p.DMPolicy = str("dmPolicy")
	p.GroupPolicy = str("groupPolicy")
	p.AllowFrom = list("allowFrom")
	p.GroupAllowFrom = list("groupAllowFrom")
	switch v := raw["allowBots"].(type) {
	case nil:
	case bool:
		p.AllowBots = fmt.Sprint(v)
	case string:
		p.AllowBots = v
	default:
		return p, fmt.Errorf("%s.allowBots must be true, false or \"mentions\"", where)
	}
	if v, ok := raw["requireMention"].(bool); ok {
		p.RequireMention = &v
	}
	p.DangerouslyAllowNameMatching, _ = raw["dangerouslyAllowNameMatching"].(bool)
	switch g := raw["groups"].(type) {
	case nil:
	case []any:
		p.Groups = list("groups")
	case map[string]any:
		p.GroupSettings = map[string]access.GroupSettings{}
		for id, v := range g {
			p.Groups = append(p.Groups, id)
			gm, _ := v.(map[string]any)
			var gs access.GroupSettings
			if b, ok := gm["requireMention"].(bool); ok {
				gs.RequireMention = &b
			}
			gs.GroupPolicy, _ = gm["groupPolicy"].(string)
			if af, e := stringList(gm["allowFrom"]); e == nil {
				gs.AllowFrom = af
			} else {
				return p, fmt.Errorf("%s.groups.%s.allowFrom %v", where, id, e)
			}
			p.GroupSettings[id] = gs
		}
		sort.Strings(p.Groups)
	default:
		return p, fmt.Errorf("%s.groups must be an object keyed by group id or a list of ids", where)
	}
	return p, err
}

// stringList reads a list of strings (numbers are accepted as ids).
func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("must be a list")
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		switch x := e.(type) {
		case string:
			out = append(out, strings.TrimSpace(x))
		case float64:
			out = append(out, fmt.Sprintf("%.0f", x))
		default:
			return nil, fmt.Errorf("[%d] must be a string", i)
		}
	}
	return out, nil
}

// commandOwners is commands.ownerAllowFrom.
func commandOwners(cfg *config.Config) []string {
	out, _ := stringList(cfg.Commands["ownerAllowFrom"])
	return out
}

// DefaultDebounce batches rapid messages of one conversation (OpenClaw's
// ordinary-text default).
const DefaultDebounce = 300 * time.Millisecond

// debounceFor is messages.inbound.byChannel.<id>, else
// messages.inbound.debounceMs, else DefaultDebounce. 0 disables it.
func debounceFor(cfg *config.Config, channelID string) time.Duration {
	in, _ := cfg.Messages["inbound"].(map[string]any)
	if by, ok := in["byChannel"].(map[string]any); ok {
		if ms, ok := by[channelID].(float64); ok && ms >= 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	if by, ok := in["debounceMsByChannel"].(map[string]any); ok {
		if ms, ok := by[channelID].(float64); ok && ms >= 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	if ms, ok := in["debounceMs"].(float64); ok && ms >= 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return DefaultDebounce
}

// routingConfig is what routing.Resolve needs from the config.
func routingConfig(cfg *config.Config, bindings []routing.Binding) routing.Config {
	return routing.Config{Bindings: bindings, DefaultAgent: config.MainAgentID, DMScope: cfg.Session.DMScope}
}
