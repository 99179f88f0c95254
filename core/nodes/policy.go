package nodes

import (
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Command sets of spec §8.2 (the reference's node-command-policy).
var (
	systemRunCommands     = []string{"system.run.prepare", "system.run", "system.which"}
	execApprovalsCommands = []string{"system.execApprovals.get", "system.execApprovals.set"}
	fileCommands          = []string{"fs.listDir", "terminal.upload"}
	browserProxyCommands  = []string{"browser.proxy", "browser.proxy.upload.v1"}
	systemCommands        = concat(systemRunCommands, execApprovalsCommands, fileCommands,
		[]string{"system.notify"}, browserProxyCommands, []string{"mcp.tools.call.v1", "agent.cli.claude.run.v1"})
	desktopScreenCommands = []string{"screen.snapshot", "desktop.stream"}
	desktopHostCommands   = concat(systemRunCommands, execApprovalsCommands, fileCommands, browserProxyCommands,
		[]string{"mcp.tools.call.v1", "agent.cli.claude.run.v1"}, desktopScreenCommands)
	mobileDevice = []string{"device.info", "device.status"}

	// DangerousCommands need an explicit gateway.nodes.commands.allow.
	DangerousCommands = []string{"camera.snap", "camera.clip", "camera.ptz.control", "screen.record", "contacts.add",
		"calendar.add", "reminders.add", "sms.send", "sms.search", "health.summary"}

	// adminInvokeCommands need operator.admin to invoke.
	adminInvokeCommands = []string{"browser.proxy", "browser.proxy.upload.v1", "fs.listDir", "terminal.upload"}
	// adminApproveCommands make node.pair.approve need operator.admin.
	adminApproveCommands = []string{"system.run", "system.run.prepare", "system.which", "browser.proxy",
		"browser.proxy.upload.v1", "fs.listDir", "system.execApprovals.get", "system.execApprovals.set"}

	platformDefaults = map[string][]string{
		"ios": {"camera.list", "location.get", "device.info", "device.status", "contacts.search", "calendar.events",
			"reminders.list", "photos.latest", "motion.activity", "motion.pedometer", "system.notify"},
		"watchos": {"device.info", "device.status", "system.notify"},
		"android": {"camera.list", "location.get", "notifications.list", "notifications.actions", "system.notify",
			"device.info", "device.status", "device.permissions", "device.health", "device.apps", "contacts.search",
			"calendar.events", "callLog.search", "reminders.list", "photos.latest", "motion.activity", "motion.pedometer",
			"mobile.ui.observe", "mobile.ui.act"},
		"macos": concat([]string{"camera.list", "camera.ptz.status", "location.get"}, mobileDevice, []string{"device.apps",
			"contacts.search", "calendar.events", "reminders.list", "photos.latest", "motion.activity", "motion.pedometer"},
			systemCommands, desktopScreenCommands, []string{"computer.act"}),
		"linux":   concat(systemCommands, desktopScreenCommands, []string{"computer.act"}),
		"windows": concat([]string{"camera.list", "location.get"}, mobileDevice, systemCommands, desktopScreenCommands, []string{"computer.act"}),
		"unknown": {"camera.list", "location.get", "system.notify"},
	}

	capabilityFamilies = map[string][]string{
		"camera":   {"camera.list", "camera.ptz.status", "camera.snap", "camera.clip", "camera.ptz.control"},
		"computer": {"computer.act"},
		"location": {"location.get"},
		"screen":   {"screen.snapshot", "desktop.stream", "screen.record"},
	}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func normalizeMeta(v string) string {
	v = strings.TrimSpace(v)
	var b strings.Builder
	for _, r := range norm.NFKD.String(v) {
		if r >= 0x300 && r <= 0x36f {
			continue // combining marks
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

var (
	iosLabel     = regexp.MustCompile(`^(?:ios|ipados) \d+(?:\.\d+){0,2}$`)
	watchLabel   = regexp.MustCompile(`^watchos \d+(?:\.\d+){0,2}$`)
	macLabel     = regexp.MustCompile(`^macos \d+(?:\.\d+){0,2}$`)
	androidLabel = regexp.MustCompile(`^android \d+(?: \(sdk \d+\))?$`)
	iosFamily    = regexp.MustCompile(`^(?:iphone|ipad|ios)$`)
)

// PlatformID classifies a node by client.platform and deviceFamily.
func PlatformID(platform, family string) string {
	raw, fam := normalizeMeta(platform), normalizeMeta(family)
	switch raw {
	case "ios":
		return pick(fam == "" || iosFamily.MatchString(fam), "ios")
	case "watchos":
		return pick(fam == "apple watch" || fam == "watchos", "watchos")
	case "android":
		return pick(fam == "" || fam == "android", "android")
	case "macos":
		return pick(fam == "mac", "macos")
	case "windows":
		return pick(fam == "windows", "windows")
	case "linux":
		return pick(fam == "linux", "linux")
	}
	switch {
	case iosLabel.MatchString(raw) && iosFamily.MatchString(fam):
		return "ios"
	case watchLabel.MatchString(raw) && (fam == "apple watch" || fam == "watchos"):
		return "watchos"
	case macLabel.MatchString(raw) && fam == "mac":
		return "macos"
	case androidLabel.MatchString(raw) && fam == "android":
		return "android"
	}
	if raw != "" {
		return "unknown"
	}
	for _, r := range []struct{ id, tok string }{{"ios", "iphone"}, {"ios", "ipad"}, {"ios", "ios"}, {"watchos", "apple watch"},
		{"watchos", "watchos"}, {"android", "android"}, {"macos", "mac"}, {"windows", "windows"}, {"linux", "linux"}} {
		if strings.Contains(fam, r.tok) {
			return r.id
		}
	}
	return "unknown"
}

func pick(ok bool, id string) string {
	if ok {
		return id
	}
	return "unknown"
}

func isDesktop(id string) bool { return id == "macos" || id == "windows" || id == "linux" }

// Policy is gateway.nodes.commands, plus the commands enabled plugins own
// (the canvas host's canvas.*), allowed on every platform.
type Policy struct{ Allow, Deny, Plugin []string }

// allowlist computes the effective command allowlist. forPairing includes
// the desktop host commands and the dangerous defaults (what a node may
// declare); otherwise desktop host commands count only when approved.
func (p Policy) allowlist(platform, family string, approved []string, forPairing bool) map[string]bool {
	id := PlatformID(platform, family)
	base := platformDefaults[id]
	if isDesktop(id) && !forPairing {
		base = slices.DeleteFunc(slices.Clone(base), func(c string) bool { return slices.Contains(desktopHostCommands, c) })
	}
	var approvedHost []string
	if isDesktop(id) {
		for _, c := range approved {
			if slices.Contains(desktopHostCommands, strings.TrimSpace(c)) {
				approvedHost = append(approvedHost, c)
			}
		}
	}
	allow := map[string]bool{}
	for _, c := range concat(base, approvedHost, p.Plugin, p.Allow) {
		c = strings.TrimSpace(c)
		if c != "" && (forPairing || !slices.Contains(DangerousCommands, c)) {
			allow[c] = true
		}
	}
	for _, c := range p.Allow {
		if c = strings.TrimSpace(c); c != "" {
			allow[c] = true
		}
	}
	for _, c := range p.Deny {
		c = strings.TrimSpace(c)
		if forPairing && slices.Contains(DangerousCommands, c) {
			continue
		}
		delete(allow, c)
	}
	return allow
}

// normalizeList trims, drops empties and duplicates, keeps order.
func normalizeList(in []string) []string {
	out := []string{}
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// declaredSurface filters a node's declared commands by the pairing
// allowlist and drops capabilities whose commands were all withheld.
func (p Policy) declaredSurface(platform, family string, caps, commands []string) (keptCaps, kept, withheld []string) {
	allow := p.allowlist(platform, family, nil, true)
	kept, withheld = []string{}, []string{}
	for _, c := range normalizeList(commands) {
		if allow[c] {
			kept = append(kept, c)
		} else {
			withheld = append(withheld, c)
		}
	}
	keptCaps = []string{}
	for _, cp := range normalizeList(caps) {
		fam := capabilityFamilies[cp]
		if fam == nil || !anyIn(withheld, fam) || anyIn(kept, fam) {
			keptCaps = append(keptCaps, cp)
		}
	}
	return keptCaps, kept, withheld
}

func anyIn(list, set []string) bool {
	for _, v := range list {
		if slices.Contains(set, v) {
			return true
		}
	}
	return false
}

// requiredApproveScopes is spec §4.3.
func requiredApproveScopes(commands []string) []string {
	switch {
	case len(commands) == 0:
		return []string{"operator.pairing"}
	case anyIn(commands, adminApproveCommands):
		return []string{"operator.pairing", "operator.admin"}
	}
	return []string{"operator.pairing", "operator.write"}
}

// rejection words a refused invoke like the reference.
func (p Policy) rejection(reason, command, platform string) string {
	if platform == "" {
		platform = "unknown"
	}
	switch reason {
	case "command not declared by node":
		return `node command not allowed: the node (platform: ` + platform + `) does not support "` + command + `"`
	case "command not allowlisted":
		if slices.Contains(normalizeList(p.Deny), command) {
			return `node command not allowed: "` + command + `" is blocked by gateway.nodes.commands.deny`
		}
		if slices.Contains(DangerousCommands, command) {
			return `node command not allowed: "` + command + `" requires explicit gateway.nodes.commands.allow opt-in`
		}
		return `node command not allowed: "` + command + `" is not in the allowlist for platform "` + platform + `"`
	case "node did not declare commands":
		return "node command not allowed: the node did not declare any supported commands"
	}
	return "node command not allowed: " + reason
}
