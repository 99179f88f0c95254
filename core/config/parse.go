package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/titanous/json5"
)

// Issue is one validation problem (or warning) at a dotted config path such
// as "gateway.port". Its shape matches protocol.ConfigIssue.
type Issue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (i Issue) String() string {
	if i.Path == "" {
		return i.Message
	}
	return i.Path + ": " + i.Message
}

// ValidationError reports every problem found in a config file.
type ValidationError struct {
	Path   string // the config file
	Issues []Issue
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	noun := "problems"
	if len(e.Issues) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "invalid config %s (%d %s):", e.Path, len(e.Issues), noun)
	for _, is := range e.Issues {
		b.WriteString("\n  ")
		b.WriteString(is.String())
	}
	return b.String()
}

// SyntaxError is a JSON5 syntax error with a 1-based line and column
// (column counted in characters).
type SyntaxError struct {
	Path   string // the config file, when known
	Line   int
	Column int
	Offset int64 // byte offset of the error
	Msg    string
}

func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("line %d, column %d", e.Line, e.Column)
	if e.Path != "" {
		return fmt.Sprintf("config %s: JSON5 syntax error at %s: %s", e.Path, where, e.Msg)
	}
	return fmt.Sprintf("JSON5 syntax error at %s: %s", where, e.Msg)
}

// Parse decodes and validates a JSON5 config document.
//
// A syntax error is returned as *SyntaxError with a nil config. Otherwise the
// config is never nil: values that failed validation keep their defaults, so
// the result is a best-effort view even when issues is non-empty. Warnings
// never make a config invalid.
func Parse(text []byte) (cfg *Config, issues []Issue, warnings []Issue, err error) {
	text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
	cfg = Defaults()
	if len(bytes.TrimSpace(text)) == 0 {
		cfg.Raw = map[string]any{}
		return cfg, nil, nil, nil
	}
	doc, err := decodeJSON5(text)
	if err != nil {
		return nil, nil, nil, err
	}
	k := &checker{}
	root, ok := doc.(map[string]any)
	if !ok {
		k.fail("", "the config must be a JSON5 object")
		return cfg, k.issues, nil, nil
	}
	cfg.Raw = root
	k.root(root, cfg)
	if _, ok := cfg.Agents.Entries[MainAgentID]; !ok {
		cfg.Agents.Entries[MainAgentID] = AgentEntry{}
	}
	return cfg, k.issues, k.warnings, nil
}

func decodeJSON5(text []byte) (doc any, err error) {
	defer func() {
		// The decoder is not ours; a panic on hostile input must not take the
		// gateway down.
		if r := recover(); r != nil {
			doc, err = nil, &SyntaxError{Line: 1, Column: 1, Msg: fmt.Sprintf("unparsable document (%v)", r)}
		}
	}()
	if off, ok := nestingWithin(text, maxNesting); !ok {
		line, col := lineCol(text, off)
		return nil, &SyntaxError{Line: line, Column: col, Offset: int64(off), Msg: fmt.Sprintf("nesting deeper than %d levels", maxNesting)}
	}
	if err := json5.Unmarshal(text, &doc); err != nil {
		var se *json5.SyntaxError
		if errors.As(err, &se) {
			idx := int(se.Offset) - 1
			if strings.Contains(se.Error(), "unexpected end") {
				idx = len(text)
			}
			idx = max(0, min(idx, len(text)))
			line, col := lineCol(text, idx)
			return nil, &SyntaxError{Line: line, Column: col, Offset: int64(idx), Msg: se.Error()}
		}
		return nil, &SyntaxError{Line: 1, Column: 1, Msg: err.Error()}
	}
	return doc, nil
}

// maxNesting bounds object/array depth. The JSON5 decoder recurses per
// level, and config.set hands it client-supplied text.
const maxNesting = 256

// nestingWithin reports whether brackets nest at most limit deep, skipping
// strings and comments; on failure it returns the offending offset. It only
// needs to be right for well-formed input: anything it misjudges in a broken
// document is caught by the decoder's syntax check.
func nestingWithin(text []byte, limit int) (int, bool) {
	depth := 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '"', '\'':
			for i++; i < len(text) && text[i] != c; i++ {
				if text[i] == '\\' {
					i++
				}
			}
		case '/':
			if i+1 < len(text) && text[i+1] == '/' {
				for i < len(text) && text[i] != '\n' {
					i++
				}
			} else if i+1 < len(text) && text[i+1] == '*' {
				end := bytes.Index(text[i+2:], []byte("*/"))
				if end < 0 {
					return 0, true
				}
				i += 2 + end + 1
			}
		case '{', '[':
			depth++
			if depth > limit {
				return i, false
			}
		case '}', ']':
			depth--
		}
	}
	return 0, true
}

func lineCol(text []byte, idx int) (line, col int) {
	before := text[:idx]
	line = 1 + bytes.Count(before, []byte("\n"))
	start := bytes.LastIndexByte(before, '\n') + 1
	col = 1 + utf8.RuneCount(before[start:])
	return line, col
}

// checker walks the decoded document, copying valid values into the config
// and collecting every problem instead of stopping at the first.
type checker struct {
	issues   []Issue
	warnings []Issue
}

const unsupported = "not supported by Pincer; ignored"

func (k *checker) fail(path, format string, a ...any) {
	k.issues = append(k.issues, Issue{Path: path, Message: fmt.Sprintf(format, a...)})
}

func (k *checker) warn(path, format string, a ...any) {
	k.warnings = append(k.warnings, Issue{Path: path, Message: fmt.Sprintf(format, a...)})
}

// unknown reports a key this section does not know, suggesting a close match.
func (k *checker) unknown(path, key string, known []string) {
	msg := "unknown key"
	if s := closest(key, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	k.fail(path, "%s", msg)
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// child is the display path of key inside path; keys that would read
// ambiguously in dotted form are bracket-quoted.
func child(path, key string) string {
	if !plainKeyRE.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

func (k *checker) object(path string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "must be an object")
	}
	return m, ok
}

func (k *checker) str(path string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		k.fail(path, "must be a string")
	}
	return s, ok
}

// secret is a string that OpenClaw would also accept as a SecretRef object.
func (k *checker) secret(path string, v any, envName string) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case map[string]any:
		k.fail(path, "must be a string (SecretRef objects are not supported by Pincer; use %s instead)", envName)
	default:
		k.fail(path, "must be a string")
	}
	return "", false
}

func (k *checker) boolean(path string, v any) (bool, bool) {
	b, ok := v.(bool)
	if !ok {
		k.fail(path, "must be true or false")
	}
	return b, ok
}

// noMax is the largest integer a JSON number carries exactly.
const noMax = 1 << 53

func (k *checker) integer(path string, v any, lo, hi int64) (int64, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		if hi == noMax {
			k.fail(path, "must be an integer >= %d", lo)
		} else {
			k.fail(path, "must be an integer between %d and %d", lo, hi)
		}
		return 0, false
	}
	return int64(f), true
}

func (k *checker) oneOf(path string, v any, allowed ...string) (string, bool) {
	s, ok := v.(string)
	if !ok || !slices.Contains(allowed, s) {
		k.fail(path, "must be one of %s", strings.Join(allowed, ", "))
		return "", false
	}
	return s, true
}

func (k *checker) stringList(path string, v any) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		k.fail(path, "must be an array of strings")
		return nil, false
	}
	out := make([]string, 0, len(arr))
	good := true
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			k.fail(index(path, i), "must be a string")
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}

// openClawTopLevel are OpenClaw's top-level keys (protocol.md §11.2) that
// Pincer does not implement; they are accepted so an OpenClaw config loads.
var openClawTopLevel = map[string]bool{
	"env": true, "wizard": true, "diagnostics": true, "update": true,
	"telemetry": true, "browser": true, "ui": true, "secrets": true, "auth": true,
	"accessGroups": true, "acp": true, "nodeHost": true, "worktreeRoot": true,
	"worktreeAcceleration": true, "tools": true, "security": true,
	"broadcast": true, "attachments": true, "tts": true,
	"approvals": true, "cron": true,
	"transcripts": true, "discovery": true,
	"talk": true, "cloudWorkers": true, "desktop": true, "memory": true,
	"skills": true, "plugins": true, "surfaces": true, "proxy": true,
}

var topLevelKeys = []string{"gateway", "agents", "models", "logging", "mcp", "channels", "bindings", "session", "messages", "commands",
	"hooks", "canvasHost"}

func (k *checker) root(m map[string]any, c *Config) {
	for _, key := range sortedKeys(m) {
		v, path := m[key], child("", key)
		switch {
		case v == nil:
			// null means "use the default", as if the key were absent.
		case key == "gateway":
			k.gateway(path, v, &c.Gateway)
		case key == "agents":
			k.agents(path, v, &c.Agents)
		case key == "models":
			k.models(path, v, &c.Models)
		case key == "logging":
			k.logging(path, v, &c.Logging)
		case key == "mcp":
			k.mcp(path, v, &c.MCP)
		case key == "channels":
			if m, ok := k.object(path, v); ok {
				c.Channels = m // each channel plugin validates its own block
			}
		case key == "messages":
			if m, ok := k.object(path, v); ok {
				c.Messages = m // core/channels reads messages.inbound
			}
		case key == "hooks":
			if m, ok := k.object(path, v); ok {
				c.Hooks = m // core/httpapi/hooks reads hooks.*
			}
		case key == "canvasHost":
			if m, ok := k.object(path, v); ok {
				c.CanvasHost = m // core/canvas reads canvasHost.*
			}
		case key == "commands":
			if m, ok := k.object(path, v); ok {
				c.Commands = m // core/channels reads commands.ownerAllowFrom
			}
		case key == "bindings":
			if list, ok := v.([]any); ok {
				c.Bindings = list // validated by core/routing
			} else {
				k.fail(path, "must be an array of bindings")
			}
		case key == "session":
			k.session(path, v, &c.Session)
		case key == "$schema" || key == "meta":
			// Editor hint and OpenClaw's write bookkeeping; nothing to apply.
		case key == "$include":
			k.fail(path, "$include is not supported by Pincer; inline the included file")
		case openClawTopLevel[key]:
			k.warn(path, unsupported)
		default:
			k.unknown(path, key, topLevelKeys)
		}
	}
}

// openClawGateway are gateway.* keys OpenClaw knows and Pincer ignores.
var openClawGateway = map[string]bool{
	"publicOrigin": true, "portals": true, "cliAgents": true, "terminal": true,
	"roles": true, "allowRealIpFallback": true, "tailscale": true,
	"remote": true, "tls": true, "push": true,
}

var gatewayKeys = []string{"port", "bind", "customBindHost", "auth", "trustedProxies", "controlUi", "reload", "nodes", "mode", "http", "tools"}

var bindModes = []string{BindLoopback, BindLAN, BindAuto, BindCustom, BindTailnet}

func (k *checker) gateway(path string, v any, g *GatewayConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	bindOK := true
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "port":
			if n, ok := k.integer(p, v, 1, 65535); ok {
				g.Port = int(n)
			}
		case "bind":
			s, _ := v.(string)
			switch {
			case slices.Contains(bindModes, s):
				g.Bind = s
				if s == BindTailnet {
					k.warn(p, "tailnet binding is not supported by Pincer; the gateway will refuse to start")
				}
			case s == "localhost" || net.ParseIP(s) != nil:
				bindOK = false
				k.fail(p, "must be one of %s (a bind mode, not a host address; use custom with gateway.customBindHost for a specific address)", strings.Join(bindModes, ", "))
			default:
				bindOK = false
				k.fail(p, "must be one of %s", strings.Join(bindModes, ", "))
			}
		case "customBindHost":
			if s, ok := k.str(p, v); ok {
				if net.ParseIP(strings.TrimSpace(s)) == nil {
					k.fail(p, "must be an IP address")
				} else {
					g.CustomBindHost = strings.TrimSpace(s)
				}
			}
		case "auth":
			k.auth(p, v, &g.Auth)
		case "trustedProxies":
			list, _ := k.stringList(p, v)
			var good []string
			for i, s := range list {
				s = strings.TrimSpace(s)
				if _, err := netip.ParseAddr(s); err == nil {
					good = append(good, s)
				} else if _, err := netip.ParsePrefix(s); err == nil {
					good = append(good, s)
				} else {
					k.fail(index(p, i), "must be an IP address or CIDR range (got %q)", s)
				}
			}
			g.TrustedProxies = good
		case "controlUi":
			k.controlUI(p, v, &g.ControlUI)
		case "reload":
			k.reload(p, v, &g.Reload)
		case "nodes":
			if n, ok := k.object(p, v); ok {
				g.Nodes = n
			}
		case "http":
			if n, ok := k.object(p, v); ok {
				g.HTTP = n // core/httpapi reads gateway.http.endpoints
			}
		case "tools":
			if n, ok := k.object(p, v); ok {
				g.Tools = n // POST /tools/invoke reads gateway.tools.allow|deny
			}
		case "mode":
			if s, ok := k.oneOf(p, v, "local", "remote"); ok && s == "remote" {
				k.warn(p, "remote mode is not supported by Pincer; the gateway always runs locally")
			}
		default:
			if openClawGateway[key] {
				k.warn(p, unsupported)
			} else {
				k.unknown(p, key, gatewayKeys)
			}
		}
	}

	if bindOK && g.Bind == BindCustom && g.CustomBindHost == "" {
		if _, given := m["customBindHost"]; !given {
			k.fail(child(path, "customBindHost"), "required when gateway.bind is custom")
		}
	}
	if g.CustomBindHost != "" && g.Bind != BindCustom {
		k.warn(child(path, "customBindHost"), "ignored unless gateway.bind is custom")
	}
	if bindOK && g.Auth.Mode == AuthModeNone && !bindsLoopbackOnly(g) {
		k.fail(child(child(path, "auth"), "mode"), "none is only allowed when the gateway binds to loopback (gateway.bind is %s)", g.Bind)
	}
}

func bindsLoopbackOnly(g *GatewayConfig) bool {
	switch g.Bind {
	case BindLoopback, BindAuto, "":
		return true
	case BindCustom:
		ip := net.ParseIP(g.CustomBindHost)
		return ip != nil && ip.IsLoopback()
	}
	return false
}

var openClawAuth = map[string]bool{"allowTailscale": true, "identityScopes": true, "trustedProxy": true}

var authKeys = []string{"mode", "token", "password", "rateLimit"}

func (k *checker) auth(path string, v any, a *AuthConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "mode":
			a.modeSet = true
			if s, ok := v.(string); ok && s == "trusted-proxy" {
				k.fail(p, "must be one of token, password, none (trusted-proxy is not supported by Pincer)")
			} else if s, ok := k.oneOf(p, v, AuthModeToken, AuthModePassword, AuthModeNone); ok {
				a.Mode = s
			}
		case "token":
			if s, ok := k.secret(p, v, EnvGatewayToken); ok {
				a.Token = s
			}
		case "password":
			if s, ok := k.secret(p, v, EnvGatewayPassword); ok {
				a.Password = s
			}
		case "rateLimit":
			k.rateLimit(p, v, &a.RateLimit)
		default:
			if openClawAuth[key] {
				k.warn(p, unsupported)
			} else {
				k.unknown(p, key, authKeys)
			}
		}
	}
	if !a.modeSet {
		switch {
		case a.Token != "" && a.Password != "":
			k.fail(child(path, "mode"), "must be set to token or password when both gateway.auth.token and gateway.auth.password are configured")
		case a.Password != "":
			a.Mode = AuthModePassword
		}
	}
}

var rateLimitKeys = []string{"maxAttempts", "windowMs", "lockoutMs", "exemptLoopback"}

func (k *checker) rateLimit(path string, v any, r *RateLimitConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "maxAttempts":
			if n, ok := k.integer(p, v, 1, math.MaxInt32); ok {
				r.MaxAttempts = int(n)
			}
		case "windowMs":
			if n, ok := k.integer(p, v, 1, noMax); ok {
				r.WindowMs = n
			}
		case "lockoutMs":
			if n, ok := k.integer(p, v, 0, noMax); ok {
				r.LockoutMs = n
			}
		case "exemptLoopback":
			if b, ok := k.boolean(p, v); ok {
				r.ExemptLoopback = &b
			}
		default:
			k.unknown(p, key, rateLimitKeys)
		}
	}
}

var openClawControlUI = map[string]bool{
	"basePath": true, "root": true, "dangerouslyDisableDeviceAuth": true,
	"dangerouslyAllowHostHeaderOriginFallback": true, "experimental": true,
	"environment": true, "communityInvite": true, "github": true, "embedSandbox": true,
	"allowExternalEmbedUrls": true, "automaticallyFetchFavicons": true,
}

var controlUIKeys = []string{"enabled", "allowedOrigins"}

func (k *checker) controlUI(path string, v any, ui *ControlUIConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "enabled":
			if b, ok := k.boolean(p, v); ok {
				ui.Enabled = &b
			}
		case "allowedOrigins":
			list, _ := k.stringList(p, v)
			var good []string
			for i, s := range list {
				if err := checkOrigin(s); err != nil {
					k.fail(index(p, i), "%v", err)
					continue
				}
				good = append(good, strings.TrimRight(s, "/"))
			}
			ui.AllowedOrigins = good
		default:
			if openClawControlUI[key] {
				k.warn(p, unsupported)
			} else {
				k.unknown(p, key, controlUIKeys)
			}
		}
	}
}

// checkOrigin accepts "*" or a bare browser origin (scheme://host[:port]).
func checkOrigin(s string) error {
	if s == "*" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must be an origin like https://host:port (got %q)", s)
	}
	return nil
}

func (k *checker) reload(path string, v any, r *ReloadConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "mode":
			if s, ok := v.(string); ok && (s == "hot" || s == "restart") {
				k.warn(p, "legacy value %q is treated as hybrid", s)
				r.Mode = ReloadHybrid
			} else if s, ok := k.oneOf(p, v, ReloadHybrid, ReloadOff); ok {
				r.Mode = s
			}
		case "debounceMs":
			k.warn(p, unsupported)
		default:
			k.unknown(p, key, []string{"mode"})
		}
	}
}

var agentIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func (k *checker) agents(path string, v any, a *AgentsConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "defaults":
			k.agentDefaults(p, v, &a.Defaults)
		case "entries":
			em, ok := k.object(p, v)
			if !ok {
				continue
			}
			for _, id := range sortedKeys(em) {
				ep := child(p, id)
				if !agentIDRE.MatchString(id) {
					k.fail(ep, "invalid agent id: use letters, digits, '-' and '_' (at most 64 characters)")
					continue
				}
				if e, ok := k.agentEntry(ep, em[id]); ok {
					a.Entries[id] = e
				}
			}
		default:
			k.warn(p, unsupported)
		}
	}
}

func (k *checker) agentDefaults(path string, v any, d *AgentDefaults) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "model":
			if r, ok := k.modelRef(p, v); ok {
				d.Model = r
			}
		case "heartbeat":
			k.heartbeat(p, v, &d.Heartbeat)
		case "mediaMaxMb":
			if n, ok := k.integer(p, v, 1, 1<<20); ok {
				d.MediaMaxMb = int(n)
			}
		case "tools":
			k.tools(p, v, &d.Tools)
		default:
			k.warn(p, unsupported)
		}
	}
}

func (k *checker) heartbeat(path string, v any, h *HeartbeatSettings) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "every":
			if s, ok := k.str(p, v); ok {
				if d, err := time.ParseDuration(strings.TrimSpace(s)); err != nil || d < 0 {
					k.fail(p, "must be a duration such as 30m, 1h or 0m (got %q)", s)
				} else {
					h.Every = strings.TrimSpace(s)
				}
			}
		case "prompt":
			if s, ok := k.str(p, v); ok {
				h.Prompt = s
			}
		case "target":
			if s, ok := k.str(p, v); ok {
				if strings.TrimSpace(s) == "" {
					k.fail(p, "must not be empty")
				} else {
					h.Target = strings.TrimSpace(s)
				}
			}
		case "ackMaxChars":
			if n, ok := k.integer(p, v, 0, math.MaxInt32); ok {
				h.AckMaxChars = int(n)
			}
		default:
			k.warn(p, unsupported)
		}
	}
}

func (k *checker) agentEntry(path string, v any) (AgentEntry, bool) {
	var e AgentEntry
	if v == nil {
		return e, true
	}
	m, ok := k.object(path, v)
	if !ok {
		return e, false
	}
	good := true
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		var dst *string
		switch key {
		case "name":
			dst = &e.Name
		case "workspace":
			dst = &e.Workspace
		case "avatar":
			dst = &e.Avatar
		case "model":
			if r, ok := k.modelRef(p, v); ok {
				e.Model = &r
			} else {
				good = false
			}
			continue
		case "tools":
			var t ToolsSettings
			k.tools(p, v, &t)
			e.Tools = &t
			continue
		default:
			k.warn(p, unsupported)
			continue
		}
		if s, ok := k.str(p, v); ok {
			*dst = s
		} else {
			good = false
		}
	}
	return e, good
}

// tools reads {allow, deny, exec: {mode, allowlist}}.
func (k *checker) tools(path string, v any, t *ToolsSettings) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "allow":
			t.Allow, _ = k.stringList(p, v)
		case "deny":
			t.Deny, _ = k.stringList(p, v)
		case "exec":
			em, ok := k.object(p, v)
			if !ok {
				continue
			}
			for _, ek := range sortedKeys(em) {
				ev, ep := em[ek], child(p, ek)
				switch ek {
				case "mode":
					if s, ok := k.oneOf(ep, ev, "deny", "allowlist", "ask"); ok {
						t.Exec.Mode = s
					}
				case "allowlist":
					t.Exec.Allowlist, _ = k.stringList(ep, ev)
				default:
					k.warn(ep, unsupported)
				}
			}
		default:
			k.warn(p, unsupported)
		}
	}
}

// modelRef accepts "provider/model" or {primary, fallbacks}, as OpenClaw does.
func (k *checker) modelRef(path string, v any) (ModelRef, bool) {
	var r ModelRef
	switch t := v.(type) {
	case string:
		if strings.TrimSpace(t) == "" {
			k.fail(path, "must not be empty")
			return r, false
		}
		r.Primary = strings.TrimSpace(t)
		return r, true
	case map[string]any:
		good := true
		for _, key := range sortedKeys(t) {
			v, p := t[key], child(path, key)
			if v == nil {
				continue
			}
			switch key {
			case "primary":
				if s, ok := k.str(p, v); ok {
					r.Primary = strings.TrimSpace(s)
				} else {
					good = false
				}
			case "fallbacks":
				list, ok := k.stringList(p, v)
				for i, s := range list {
					if strings.TrimSpace(s) == "" {
						k.fail(index(p, i), "must not be empty")
						ok = false
					}
				}
				if ok {
					r.Fallbacks = list
				} else {
					good = false
				}
			default:
				k.unknown(p, key, []string{"primary", "fallbacks"})
				good = false
			}
		}
		return r, good
	default:
		k.fail(path, `must be a model reference ("provider/model") or an object {primary, fallbacks}`)
		return r, false
	}
}

func (k *checker) models(path string, v any, mc *ModelsConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "providers":
			pm, ok := k.object(p, v)
			if !ok {
				continue
			}
			for _, id := range sortedKeys(pm) {
				pp := child(p, id)
				if strings.TrimSpace(id) == "" {
					k.fail(pp, "provider id must not be empty")
					continue
				}
				if prov, ok := k.provider(pp, pm[id]); ok {
					if mc.Providers == nil {
						mc.Providers = map[string]ProviderConfig{}
					}
					mc.Providers[id] = prov
				}
			}
		default:
			k.warn(p, unsupported)
		}
	}
}

func (k *checker) provider(path string, v any) (ProviderConfig, bool) {
	var pc ProviderConfig
	m, ok := k.object(path, v)
	if !ok {
		return pc, false
	}
	good := true
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "baseUrl":
			s, ok := k.str(p, v)
			if !ok {
				good = false
				continue
			}
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				k.fail(p, "must be an http(s) URL (got %q)", s)
				good = false
				continue
			}
			pc.BaseURL = strings.TrimSpace(s)
		case "apiKey":
			if s, ok := k.secret(p, v, "an environment variable"); ok {
				pc.APIKey = s
			} else {
				good = false
			}
		case "api":
			if s, ok := k.str(p, v); ok {
				pc.API = s
			} else {
				good = false
			}
		case "models":
			arr, ok := v.([]any)
			if !ok {
				k.fail(p, "must be an array")
				good = false
				continue
			}
			for i, e := range arr {
				if pm, ok := k.providerModel(index(p, i), e); ok {
					pc.Models = append(pc.Models, pm)
				} else {
					good = false
				}
			}
		default:
			k.warn(p, unsupported)
		}
	}
	return pc, good
}

func (k *checker) providerModel(path string, v any) (ProviderModel, bool) {
	var pm ProviderModel
	m, ok := k.object(path, v)
	if !ok {
		return pm, false
	}
	good := true
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "id":
			if s, ok := k.str(p, v); ok {
				pm.ID = strings.TrimSpace(s)
			} else {
				good = false
			}
		case "name":
			if s, ok := k.str(p, v); ok {
				pm.Name = s
			} else {
				good = false
			}
		case "contextWindow":
			if n, ok := k.integer(p, v, 0, noMax); ok {
				pm.ContextWindow = n
			} else {
				good = false
			}
		case "reasoning":
			if b, ok := k.boolean(p, v); ok {
				pm.Reasoning = b
			} else {
				good = false
			}
		default:
			k.warn(p, unsupported)
		}
	}
	if pm.ID == "" {
		// A present id of the wrong type was reported above.
		if s, isStr := m["id"].(string); m["id"] == nil || (isStr && strings.TrimSpace(s) == "") {
			k.fail(child(path, "id"), "required")
		}
		good = false
	}
	return pm, good
}

var logLevels = []string{"trace", "debug", "info", "warn", "error", "fatal", "silent"}

func (k *checker) logging(path string, v any, l *LoggingConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "level":
			if s, ok := k.oneOf(p, v, logLevels...); ok {
				l.Level = s
			}
		case "maxFileBytes":
			if n, ok := k.integer(p, v, 1, noMax); ok {
				l.MaxFileBytes = n
			}
		case "maxFiles":
			if n, ok := k.integer(p, v, 1, 1000); ok {
				l.MaxFiles = int(n)
			}
		default:
			k.warn(p, unsupported)
		}
	}
}

// closest returns the candidate within edit distance 2 of key, if any, so a
// typo such as "gatway" gets a hint.
func closest(key string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(key), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// mcp reads mcp.servers.<name>: stdio {command, args, env, cwd} or remote
// {url, transport, headers}, with enabled, timeouts and toolFilter.
func (k *checker) mcp(path string, v any, c *MCPConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		if key != "servers" {
			k.warn(p, unsupported)
			continue
		}
		servers, ok := k.object(p, v)
		if !ok {
			continue
		}
		c.Servers = map[string]MCPServer{}
		for _, name := range sortedKeys(servers) {
			sp := child(p, name)
			sm, ok := k.object(sp, servers[name])
			if !ok {
				continue
			}
			var s MCPServer
			for _, f := range sortedKeys(sm) {
				fv, fp := sm[f], child(sp, f)
				if fv == nil {
					continue
				}
				switch f {
				case "command":
					s.Command, _ = k.str(fp, fv)
				case "args":
					s.Args, _ = k.stringList(fp, fv)
				case "cwd":
					s.Cwd, _ = k.str(fp, fv)
				case "url":
					s.URL, _ = k.str(fp, fv)
				case "transport", "type":
					if t, ok := k.oneOf(fp, fv, "stdio", "streamable-http", "http", "sse"); ok {
						s.Transport = t
					}
				case "env", "headers":
					obj, ok := k.object(fp, fv)
					if !ok {
						continue
					}
					out := map[string]string{}
					for _, hk := range sortedKeys(obj) {
						if hv, ok := k.str(child(fp, hk), obj[hk]); ok {
							out[hk] = hv
						}
					}
					if f == "env" {
						s.Env = out
					} else {
						s.Headers = out
					}
				case "enabled":
					if b, ok := k.boolean(fp, fv); ok {
						s.Enabled = &b
					}
				case "requestTimeoutMs":
					if n, ok := k.integer(fp, fv, 1, 3600000); ok {
						s.RequestTimeoutMs = n
					}
				case "connectionTimeoutMs":
					if n, ok := k.integer(fp, fv, 1, 600000); ok {
						s.ConnectionTimeoutMs = n
					}
				case "toolFilter":
					tf, ok := k.object(fp, fv)
					if !ok {
						continue
					}
					for _, tk := range sortedKeys(tf) {
						switch tk {
						case "include":
							s.ToolFilter.Include, _ = k.stringList(child(fp, tk), tf[tk])
						case "exclude":
							s.ToolFilter.Exclude, _ = k.stringList(child(fp, tk), tf[tk])
						default:
							k.warn(child(fp, tk), unsupported)
						}
					}
				default:
					k.warn(fp, unsupported)
				}
			}
			switch {
			case s.Command == "" && s.URL == "":
				k.fail(sp, "needs a command (stdio) or a url (remote)")
			case s.Command != "" && s.URL != "":
				k.fail(sp, "has both a command and a url; pick one")
			case s.URL != "" && !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://"):
				k.fail(child(sp, "url"), "must be an http(s) URL (got %q)", s.URL)
			default:
				c.Servers[name] = s
			}
		}
	}
}

// session reads session.dmScope (how DMs map to sessions).
func (k *checker) session(path string, v any, c *SessionConfig) {
	m, ok := k.object(path, v)
	if !ok {
		return
	}
	for _, key := range sortedKeys(m) {
		v, p := m[key], child(path, key)
		if v == nil {
			continue
		}
		switch key {
		case "dmScope":
			if s, ok := k.oneOf(p, v, "main", "per-peer", "per-channel-peer", "per-account-channel-peer"); ok {
				c.DMScope = s
			}
		default:
			k.warn(p, unsupported)
		}
	}
}
