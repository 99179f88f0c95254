package approvals

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pincerhq/pincer/core/protocol"
)

// prepared is a validated request, ready to be registered.
type prepared struct {
	id      string
	payload protocol.ExecApprovalRequestPayload
	memKey  string
}

// prepare validates exec.approval.request params and builds the request
// object reviewers see, the way the reference does: a systemRunPlan wins
// over command/commandArgv/cwd/agentId/sessionKey, host "node" needs a
// nodeId, a plan and an argv, and absent values are null.
func prepare(p *protocol.ExecApprovalRequestParams) (*prepared, *protocol.Error) {
	host := trimmed(p.Host)
	nodeID := trimmed(p.NodeID)
	argv := p.CommandArgv
	cwd := trimmed(p.Cwd)
	agentID, sessionKey := trimmed(p.AgentID), trimmed(p.SessionKey)
	command := trimmed(p.Command)
	var preview string
	var planRaw json.RawMessage
	if pl := p.SystemRunPlan; pl != nil {
		argv = pl.Argv
		command = strings.TrimSpace(pl.CommandText)
		if pl.Cwd != nil {
			cwd = strings.TrimSpace(*pl.Cwd)
		}
		if pl.AgentID != nil {
			agentID = strings.TrimSpace(*pl.AgentID)
		}
		if pl.SessionKey != nil {
			sessionKey = strings.TrimSpace(*pl.SessionKey)
		}
		preview = trimmed(pl.CommandPreview)
		planRaw, _ = json.Marshal(pl)
	}
	if command == "" && len(argv) > 0 {
		command = joinArgv(argv)
	}
	switch {
	case host == "node" && nodeID == "":
		return nil, protocol.InvalidRequest("nodeId is required for host=node")
	case host == "node" && p.SystemRunPlan == nil:
		return nil, protocol.InvalidRequest("systemRunPlan is required for host=node")
	case command == "":
		return nil, protocol.InvalidRequest("command is required")
	}
	id := ""
	if p.ID != nil {
		id = *p.ID
		if strings.HasPrefix(id, "plugin:") {
			return nil, protocol.InvalidRequest("approval ids starting with plugin: are reserved")
		}
		if !validID(id) {
			return nil, protocol.InvalidRequest("invalid approval id: use up to 128 printable characters without spaces")
		}
	}
	if host == "node" && len(argv) == 0 {
		return nil, protocol.InvalidRequest("commandArgv is required for host=node")
	}

	envKeys, envHash := envBinding(p.Env)
	security := oneOf(trimmed(p.Security), "deny", "allowlist", "full")
	ask := oneOf(trimmed(p.Ask), "off", "on-miss", "always")
	unavailable := []string(nil)
	if slices.Contains(p.UnavailableDecisions, string(AllowAlways)) {
		unavailable = []string{string(AllowAlways)}
	}
	allowed := []string{string(AllowOnce), string(AllowAlways), string(Deny)}
	if ask == "always" || unavailable != nil {
		allowed = []string{string(AllowOnce), string(Deny)}
	}

	req := protocol.ExecApprovalRequestPayload{
		Command:              command,
		SystemRunPlan:        planRaw,
		Cwd:                  opt(cwd),
		Host:                 opt(host),
		Security:             opt(security),
		Ask:                  opt(ask),
		WarningText:          opt(trimmed(p.WarningText)),
		Scope:                nonNull(p.Scope),
		CommandAnalysis:      analyze(command),
		CommandSpans:         spans(p.CommandSpans, len(command)),
		UnavailableDecisions: unavailable,
		AllowedDecisions:     allowed,
		AgentID:              opt(agentID),
		ResolvedPath:         opt(trimmed(p.ResolvedPath)),
		SessionKey:           opt(sessionKey),
		SessionID:            opt(trimmed(p.SessionID)),
		RunID:                opt(trimmed(p.RunID)),
		ToolCallID:           opt(trimmed(p.ToolCallID)),
		TurnSourceChannel:    opt(trimmed(p.TurnSourceChannel)),
		TurnSourceTo:         opt(trimmed(p.TurnSourceTo)),
		TurnSourceAccountID:  opt(trimmed(p.TurnSourceAccountID)),
		TurnSourceThreadID:   nonNull(p.TurnSourceThreadID),
		EnvKeys:              envKeys,
	}
	if host == "node" {
		req.NodeID = &nodeID
		b, _ := json.Marshal(struct {
			Argv       []string `json:"argv"`
			Cwd        *string  `json:"cwd"`
			AgentID    *string  `json:"agentId"`
			SessionKey *string  `json:"sessionKey"`
			EnvHash    *string  `json:"envHash"`
		}{nonNilArgv(argv), opt(cwd), opt(agentID), opt(sessionKey), envHash})
		req.SystemRunBinding = b
	} else {
		req.CommandArgv = argv
		req.CommandPreview = opt(preview)
	}
	return &prepared{id: id, payload: req, memKey: memoryKey(host, nodeID, argv, cwd, trimmed(p.ResolvedPath), command)}, nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func trimmed(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func oneOf(s string, allowed ...string) string {
	if slices.Contains(allowed, s) {
		return s
	}
	return ""
}

func nonNull(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	return raw
}

func nonNilArgv(a []string) []string {
	if a == nil {
		return []string{}
	}
	return a
}

// spans keeps the valid, non-overlapping highlight spans.
func spans(in []protocol.ExecCommandSpan, n int) []protocol.ExecCommandSpan {
	c := slices.Clone(in)
	c = slices.DeleteFunc(c, func(s protocol.ExecCommandSpan) bool {
		return s.StartIndex < 0 || s.EndIndex <= s.StartIndex || s.EndIndex > int64(n)
	})
	slices.SortFunc(c, func(a, b protocol.ExecCommandSpan) int {
		if a.StartIndex != b.StartIndex {
			return int(a.StartIndex - b.StartIndex)
		}
		return int(b.EndIndex - a.EndIndex)
	})
	var out []protocol.ExecCommandSpan
	var cursor int64
	for _, s := range c {
		if s.StartIndex < cursor {
			continue
		}
		out = append(out, s)
		cursor = s.EndIndex
	}
	return out
}

// envBinding lists the env keys and hashes the entries like the reference
// (sha256 of the JSON [[key,value]…] sorted by key), null when empty.
func envBinding(env map[string]string) ([]string, *string) {
	keys := make([]string, 0, len(env))
	for k := range env {
		if strings.TrimSpace(k) != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	sort.Strings(keys)
	entries := make([][2]string, len(keys))
	for i, k := range keys {
		entries[i] = [2]string{k, env[k]}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(entries)
	sum := sha256.Sum256(bytes.TrimRight(buf.Bytes(), "\n"))
	h := hex.EncodeToString(sum[:])
	return keys, &h
}

// joinArgv renders argv as a shell command line for display.
func joinArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]{}~#!") {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}

// analyze counts the commands of a shell command line for reviewers:
// top-level commands separated by ; & && || | or newlines, and nested
// command substitutions ($(…), `…`, <(…), >(…)).
func analyze(cmd string) protocol.ExecCommandAnalysis {
	a := protocol.ExecCommandAnalysis{RiskKinds: []string{}, WarningLines: []string{}}
	var single, double, backtick bool
	seg := false
	for i := 0; i < len(cmd); i++ {
		ch := cmd[i]
		switch {
		case single:
			if ch == '\'' {
				single = false
			}
			continue
		case ch == '\\' && i+1 < len(cmd):
			i++
			seg = true
			continue
		case ch == '\'' && !double:
			single, seg = true, true
			continue
		case ch == '"':
			double, seg = !double, true
			continue
		case ch == '`':
			if !backtick {
				a.NestedCommandCount++
			}
			backtick, seg = !backtick, true
			continue
		case (ch == '$' || ch == '<' || ch == '>') && i+1 < len(cmd) && cmd[i+1] == '(':
			a.NestedCommandCount++
			seg = true
			i++
			continue
		}
		if double || backtick {
			continue
		}
		switch ch {
		case ';', '&', '|', '\n':
			if seg {
				a.CommandCount++
			}
			seg = false
		case ' ', '\t', '\r':
		default:
			seg = true
		}
	}
	if seg {
		a.CommandCount++
	}
	return a
}

// wrappers are programs whose arguments are (or contain) the command that
// really runs: remembering their path would allow anything.
var wrappers = map[string]bool{
	"sh": true, "bash": true, "zsh": true, "dash": true, "ksh": true, "fish": true, "ash": true, "csh": true, "tcsh": true,
	"cmd": true, "cmd.exe": true, "powershell": true, "powershell.exe": true, "pwsh": true, "pwsh.exe": true,
	"env": true, "sudo": true, "doas": true, "su": true, "nice": true, "nohup": true, "timeout": true, "time": true,
	"xargs": true, "exec": true, "command": true, "busybox": true, "ssh": true, "docker": true, "kubectl": true,
	"python": true, "python3": true, "python2": true, "node": true, "deno": true, "bun": true, "perl": true,
	"ruby": true, "php": true, "lua": true, "osascript": true, "npx": true, "eval": true,
}

// memoryKey is the allow-always memory key of a request (see the package
// doc): host, nodeId and the executable, or the exact command text when the
// executable does not identify the command.
func memoryKey(host, nodeID string, argv []string, cwd, resolvedPath, command string) string {
	if host == "" {
		host = "gateway"
	}
	what := "cmd:" + command
	if len(argv) > 0 && argv[0] != "" {
		base := strings.ToLower(filepath.Base(argv[0]))
		if !wrappers[base] && !wrappers[strings.TrimRightFunc(base, func(r rune) bool { return r == '.' || (r >= '0' && r <= '9') })] {
			what = "exe:" + executable(host, argv[0], cwd, resolvedPath)
		}
	}
	return host + "\x00" + nodeID + "\x00" + what
}

// executable resolves argv[0]: the request's resolvedPath, else for
// gateway-host commands a path (relative to cwd) or a PATH lookup.
func executable(host, argv0, cwd, resolvedPath string) string {
	if resolvedPath != "" {
		return resolvedPath
	}
	if host != "gateway" {
		return argv0
	}
	if strings.ContainsRune(argv0, '/') {
		if !filepath.IsAbs(argv0) && cwd != "" {
			argv0 = filepath.Join(cwd, argv0)
		}
		return filepath.Clean(argv0)
	}
	if p, err := exec.LookPath(argv0); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return argv0
}
