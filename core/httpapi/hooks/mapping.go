package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// mapping is one hooks.mappings entry (or a preset's).
type mapping struct {
	id          string
	matchPath   string
	matchSource string
	action      string // agent | wake
	wakeMode    string // now | next-heartbeat
	forEach     string
	name        string
	agentID     string
	sessionKey  string
	sessionMode string
	messageTpl  string
	textTpl     string
	deliver     any // false opts out; anything else delivers
	channel     any // nil: "last"
	to          string
	model       string
	thinking    string
	timeoutSec  int
	allowUnsafe bool
	// transform: the mapping names a JavaScript transform module, which
	// Pincer cannot run; dispatching it fails with 500 like a throwing
	// transform.
	transform string
	gmail     bool // the Gmail preset (larger body allowance)
}

// gmailPreset is the reference's "gmail" preset.
var gmailPreset = mapping{
	id: "gmail", matchPath: "gmail", action: "agent", wakeMode: "now", name: "Gmail", forEach: "messages",
	sessionKey: "hook:gmail:{{messages[0].id}}", sessionMode: "isolated",
	messageTpl: "New email from {{messages[0].from}}\nSubject: {{messages[0].subject}}\n{{messages[0].snippet}}\n{{messages[0].body}}",
	gmail:      true,
}

// resolveMappings reads hooks.mappings followed by hooks.presets.
func resolveMappings(raw map[string]any) ([]mapping, error) {
	var out []mapping
	list, _ := raw["mappings"].([]any)
	if v, ok := raw["mappings"]; ok && v != nil && list == nil {
		return nil, errors.New("hooks.mappings must be an array")
	}
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("hooks.mappings[%d] must be an object", i)
		}
		mp, err := parseMapping(m, i)
		if err != nil {
			return nil, err
		}
		out = append(out, mp)
	}
	presets, _ := raw["presets"].([]any)
	for _, p := range presets {
		if stringOf(p) == "gmail" {
			g := gmailPreset
			if gm, ok := raw["gmail"].(map[string]any); ok {
				if b, ok := gm["allowUnsafeExternalContent"].(bool); ok {
					g.allowUnsafe = b
				}
			}
			out = append(out, g)
		}
	}
	return out, nil
}

func parseMapping(m map[string]any, i int) (mapping, error) {
	at := fmt.Sprintf("hooks.mappings[%d]", i)
	mp := mapping{
		id:          strings.TrimSpace(stringOf(m["id"])),
		action:      "agent",
		wakeMode:    "now",
		name:        stringOf(m["name"]),
		agentID:     strings.TrimSpace(stringOf(m["agentId"])),
		sessionKey:  stringOf(m["sessionKey"]),
		sessionMode: stringOf(m["sessionMode"]),
		messageTpl:  stringOf(m["messageTemplate"]),
		textTpl:     stringOf(m["textTemplate"]),
		deliver:     m["deliver"],
		channel:     m["channel"],
		to:          stringOf(m["to"]),
		model:       stringOf(m["model"]),
		thinking:    stringOf(m["thinking"]),
	}
	if mp.id == "" {
		mp.id = "mapping-" + strconv.Itoa(i+1)
	}
	if match, ok := m["match"].(map[string]any); ok {
		mp.matchPath = matchPathOf(stringOf(match["path"]))
		mp.matchSource = strings.TrimSpace(stringOf(match["source"]))
	}
	if a := stringOf(m["action"]); a != "" {
		if a != "agent" && a != "wake" {
			return mp, fmt.Errorf("%s.action must be \"agent\" or \"wake\", not %q", at, a)
		}
		mp.action = a
	}
	if w := stringOf(m["wakeMode"]); w != "" {
		if w != "now" && w != "next-heartbeat" {
			return mp, fmt.Errorf("%s.wakeMode must be \"now\" or \"next-heartbeat\", not %q", at, w)
		}
		mp.wakeMode = w
	}
	if mp.sessionMode == "" {
		mp.sessionMode = "isolated"
	}
	if f := strings.TrimSpace(stringOf(m["forEach"])); f != "" {
		if strings.ContainsAny(f, ".[]") || f == "__proto__" || f == "prototype" || f == "constructor" {
			return mp, fmt.Errorf("%s.forEach must be a top-level payload key: %s", at, f)
		}
		mp.forEach = f
	}
	if n, ok := m["timeoutSeconds"].(float64); ok && n > 0 {
		mp.timeoutSec = int(n)
	}
	mp.allowUnsafe, _ = m["allowUnsafeExternalContent"].(bool)
	if t, ok := m["transform"].(map[string]any); ok {
		mp.transform = stringOf(t["module"])
		if mp.transform == "" {
			mp.transform = "(no module)"
		}
	}
	return mp, nil
}

// matchPathOf normalizes a mapping path (no leading/trailing slashes).
func matchPathOf(p string) string {
	return strings.Trim(strings.TrimSpace(p), "/")
}

func (m *mapping) matches(ctx *tplContext) bool {
	if m.matchPath != "" && m.matchPath != matchPathOf(ctx.path) {
		return false
	}
	if m.matchSource != "" {
		if s, _ := ctx.payload["source"].(string); s != m.matchSource {
			return false
		}
	}
	return true
}

var templateExpr = regexp.MustCompile(`\{\{\s*([^}]+)\s*\}\}`)

func isTemplated(s string) bool { return templateExpr.MatchString(s) }

// hasEffectiveTemplatedKey: a mapping that can be reached (not shadowed by
// an earlier catch-all) has a templated session key.
func hasEffectiveTemplatedKey(ms []mapping) bool {
	var earlier []mapping
	for _, m := range ms {
		shadowed := false
		for _, e := range earlier {
			if e.matchPath != "" && e.matchPath != m.matchPath {
				continue
			}
			if e.matchSource == "" || e.matchSource == m.matchSource {
				shadowed = true
				break
			}
		}
		if shadowed {
			continue
		}
		earlier = append(earlier, m)
		if isTemplated(m.sessionKey) {
			return true
		}
	}
	return false
}

// tplContext is what templates see.
type tplContext struct {
	payload map[string]any
	headers map[string]any
	query   url.Values
	path    string
}

// render fills {{payload.x}}, {{x}}, {{a[0].b}}, {{headers.h}},
// {{query.q}}, {{path}} and {{now}}; missing values render empty and
// objects as JSON.
func (c *tplContext) render(tpl string) string {
	if tpl == "" {
		return ""
	}
	return templateExpr.ReplaceAllStringFunc(tpl, func(m string) string {
		expr := strings.TrimSpace(templateExpr.FindStringSubmatch(m)[1])
		return stringify(c.resolve(expr))
	})
}

// renderOptional renders and trims; "" stays "".
func (c *tplContext) renderOptional(tpl string) string {
	if tpl == "" {
		return ""
	}
	return strings.TrimSpace(c.render(tpl))
}

func (c *tplContext) resolve(expr string) any {
	switch {
	case expr == "path":
		return c.path
	case expr == "now":
		return time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	case strings.HasPrefix(expr, "headers."):
		return getByPath(c.headers, expr[len("headers."):])
	case strings.HasPrefix(expr, "query."):
		q := map[string]any{}
		for k, v := range c.query {
			if len(v) > 0 {
				q[k] = v[len(v)-1]
			}
		}
		return getByPath(q, expr[len("query."):])
	case strings.HasPrefix(expr, "payload."):
		return getByPath(c.payload, expr[len("payload."):])
	}
	return getByPath(c.payload, expr)
}

var pathPart = regexp.MustCompile(`([^.\[\]]+)|(\[(\d+)\])`)

func getByPath(root any, expr string) any {
	if expr == "" {
		return nil
	}
	cur := root
	for _, m := range pathPart.FindAllStringSubmatch(expr, -1) {
		if cur == nil {
			return nil
		}
		if m[3] != "" {
			arr, ok := cur.([]any)
			if !ok {
				return nil
			}
			i, err := strconv.Atoi(m[3])
			if err != nil || i >= len(arr) {
				return nil
			}
			cur = arr[i]
			continue
		}
		key := m[1]
		if key == "__proto__" || key == "prototype" || key == "constructor" {
			return nil
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[key]
	}
	return cur
}

func stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// action is one rendered mapping result.
type action struct {
	kind        string // agent | wake
	mappingID   string
	text        string // wake
	mode        string // wake mode
	message     string // agent
	name        string
	agentID     string
	sessionKey  string
	keySource   keySource
	sessionMode string
	wakeMode    string
	deliver     any
	channel     any
	to          string
	model       string
	thinking    string
	timeoutSec  int
	allowUnsafe bool
}

// mapResult is what the first matching mapping produced.
type mapResult struct {
	actions []action
	fanOut  bool
	dropped int
	// errMsg is a 400 (bad rendered action).
	errMsg string
}

// errTransform: the matched mapping needs a JavaScript transform.
var errTransform = errors.New("hook transforms (transform.module) are not supported by Pincer; use messageTemplate/textTemplate")

// applyMappings runs the first matching mapping; nil when none matches.
func applyMappings(ms []mapping, ctx *tplContext) (*mapResult, error) {
	for i := range ms {
		m := &ms[i]
		if !m.matches(ctx) {
			continue
		}
		if m.transform != "" {
			return nil, fmt.Errorf("mapping %s: %w", m.id, errTransform)
		}
		if m.forEach == "" {
			a, msg := m.build(ctx)
			if msg != "" {
				return &mapResult{errMsg: msg}, nil
			}
			return &mapResult{actions: []action{a}}, nil
		}
		all, _ := ctx.payload[m.forEach].([]any)
		items := all[:min(len(all), fanOutMaxItems)]
		res := &mapResult{fanOut: true, dropped: len(all) - len(items)}
		for _, it := range items {
			p := make(map[string]any, len(ctx.payload))
			for k, v := range ctx.payload {
				p[k] = v
			}
			p[m.forEach] = []any{it}
			ic := *ctx
			ic.payload = p
			a, msg := m.build(&ic)
			if msg != "" {
				return &mapResult{errMsg: msg}, nil
			}
			res.actions = append(res.actions, a)
		}
		return res, nil
	}
	return nil, nil
}

// build renders the mapping into an action and validates it.
func (m *mapping) build(ctx *tplContext) (action, string) {
	src := keyFromMappingStatic
	if isTemplated(m.sessionKey) {
		src = keyFromMappingTemplate
	}
	a := action{kind: m.action, mappingID: m.id, agentID: m.agentID, sessionKey: ctx.renderOptional(m.sessionKey), keySource: src}
	if src == keyFromMappingTemplate && a.sessionKey == "" {
		return a, "hook mapping sessionKey template rendered empty"
	}
	if m.action == "wake" {
		a.text = ctx.render(m.textTpl)
		a.mode = m.wakeMode
		if strings.TrimSpace(a.text) == "" {
			return a, "hook mapping requires text"
		}
		if a.mode == "next-heartbeat" && a.sessionKey != "" {
			return a, "hook mapping sessionKey requires wakeMode=now"
		}
		return a, ""
	}
	a.message = ctx.render(m.messageTpl)
	a.name = ctx.renderOptional(m.name)
	a.wakeMode = m.wakeMode
	a.sessionMode = m.sessionMode
	a.deliver = m.deliver
	a.channel = m.channel
	a.to = ctx.renderOptional(m.to)
	a.model = ctx.renderOptional(m.model)
	a.thinking = ctx.renderOptional(m.thinking)
	a.timeoutSec = m.timeoutSec
	a.allowUnsafe = m.allowUnsafe
	if strings.TrimSpace(a.message) == "" {
		return a, "hook mapping requires message"
	}
	if a.sessionMode != "isolated" && a.sessionMode != "persistent" {
		return a, "hook mapping sessionMode must be isolated or persistent"
	}
	return a, ""
}
