package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/titanous/json5"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/protocol"
)

// primaryModelPath is where the default agent model lives in the config.
var primaryModelPath = []string{"agents", "defaults", "model", "primary"}

func (a *app) modelsCmd() *cobra.Command {
	c := groupCmd("models", "List the models agents can use and set the primary one",
		a.modelsListCmd(),
		a.modelsSetCmd(),
		a.modelsAuthCmd(),
	)
	c.Long = "List the models the gateway's providers offer (models.providers in the config) and set\n" +
		"the agents' primary model (agents.defaults.model.primary)."
	return c
}

// modelRow is the part of a models.list entry the table shows.
type modelRow struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Provider      string `json:"provider"`
	ContextWindow *int64 `json:"contextWindow"`
	Available     *bool  `json:"available"`
}

func (m modelRow) ref() string { return modelRef(m.Provider, m.ID) }

func (a *app) modelsListCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the models the gateway can use",
		Long: "List the models the gateway can use; the agents' primary model is marked.\n\n" +
			"--json prints models.list's result.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withScopedGateway(cmd, &f, readScopes, func(ctx context.Context, s *session) error {
				var res struct {
					Models []modelRow `json:"models"`
				}
				raw, err := callInto(ctx, s, "models.list", struct{}{}, &res)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(a.stdout, raw)
				}
				primary := ""
				var cfg protocol.ConfigGetResult
				if _, err := callInto(ctx, s, "config.get", struct{}{}, &cfg); err == nil {
					primary = primaryFromConfig(cfg)
				}
				printModelList(a.stdout, res.Models, primary)
				return nil
			})
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}

func printModelList(w io.Writer, models []modelRow, primary string) {
	if len(models) == 0 {
		fmt.Fprintln(w, "No models: add a provider and its models under models.providers in the config.")
		if primary != "" {
			fmt.Fprintf(w, "Primary model: %s\n", primary)
		}
		return
	}
	rows := make([][]string, 0, len(models))
	listed := false
	for _, m := range models {
		ctxw := "-"
		if m.ContextWindow != nil && *m.ContextWindow > 0 {
			ctxw = formatCount(*m.ContextWindow)
		}
		var notes []string
		if m.ref() == primary {
			notes = append(notes, "primary")
			listed = true
		}
		if m.Available != nil && !*m.Available {
			notes = append(notes, "no credentials")
		}
		rows = append(rows, []string{m.ref(), orDash(m.Name), ctxw, orDash(strings.Join(notes, ", "))})
	}
	printTable(w, "", []string{"MODEL", "NAME", "CONTEXT", "NOTES"}, rows)
	switch {
	case primary == "":
		fmt.Fprintln(w, "No primary model is configured: set one with `pincer models set <provider/model>`.")
	case !listed:
		fmt.Fprintf(w, "Primary model: %s (not in this list)\n", primary)
	}
}

// primaryFromConfig reads agents.defaults.model(.primary) from config.get.
func primaryFromConfig(res protocol.ConfigGetResult) string {
	for _, raw := range []json.RawMessage{res.Config, res.Resolved, res.RuntimeConfig, res.Parsed} {
		var doc map[string]any
		if len(raw) == 0 || json.Unmarshal(raw, &doc) != nil || doc == nil {
			continue
		}
		switch v := lookup(doc, "agents", "defaults", "model").(type) {
		case string:
			return strings.TrimSpace(v)
		case map[string]any:
			s, _ := v["primary"].(string)
			return strings.TrimSpace(s)
		}
		return ""
	}
	return ""
}

// parseModelRef checks "provider/model".
func parseModelRef(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	prov, model, ok := strings.Cut(ref, "/")
	if !ok || strings.TrimSpace(prov) == "" || strings.TrimSpace(model) == "" ||
		strings.ContainsFunc(ref, unicode.IsSpace) {
		return "", usagef("model reference %q is not of the form provider/model (e.g. anthropic/claude-sonnet-4-5)", ref)
	}
	return ref, nil
}

func (a *app) modelsSetCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "set PROVIDER/MODEL",
		Short: "Set the agents' primary model",
		Long: "Set the agents' primary model (agents.defaults.model.primary).\n\n" +
			"A gateway that accepts config changes (config.patch or config.set) is asked to make the\n" +
			"change. Otherwise, when the gateway runs on this machine, its config file is edited in\n" +
			"place (comments and layout are kept) and the gateway must be restarted to use the model.",
		Example: "  pincer models set anthropic/claude-sonnet-4-5\n  pincer models set ollama/llama3.2",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseModelRef(args[0])
			if err != nil {
				return err
			}
			return a.setPrimaryModel(cmd, &f, ref)
		},
	}
	addClientFlags(cmd, &f)
	return cmd
}

func (a *app) setPrimaryModel(cmd *cobra.Command, f *clientFlags, ref string) error {
	ctx, cancel := withTimeout(cmd.Context(), f)
	defer cancel()
	s, err := a.connect(ctx, f, readScopes)
	if err != nil {
		return err
	}
	defer s.c.Close()

	var cfg protocol.ConfigGetResult
	if _, err := callInto(ctx, s, "config.get", struct{}{}, &cfg); err != nil {
		return err
	}
	previous := primaryFromConfig(cfg)
	var models struct {
		Models []modelRow `json:"models"`
	}
	if _, err := callInto(ctx, s, "models.list", struct{}{}, &models); err == nil {
		known := slices.ContainsFunc(models.Models, func(m modelRow) bool { return m.ref() == ref })
		if !known {
			prov, _, _ := strings.Cut(ref, "/")
			fmt.Fprintf(a.stderr, "Warning: %s is not in the gateway's model list (`pincer models list`); runs will fail until models.providers.%s defines it.\n", ref, prov)
		}
	}
	if previous == ref {
		if f.json {
			return printJSON(a.stdout, mustJSON(map[string]any{"ok": true, "primary": ref, "changed": false}))
		}
		fmt.Fprintf(a.stdout, "%s is already the primary model.\n", ref)
		return nil
	}

	var methods []string
	if h := s.c.Hello(); h != nil {
		methods = h.Features.Methods
	}
	switch {
	case slices.Contains(methods, "config.patch"), slices.Contains(methods, "config.set"):
		return a.setPrimaryModelRPC(ctx, f, cfg, methods, ref, previous)
	case !isLoopbackURL(s.target.URL):
		return fmt.Errorf("the gateway at %s cannot change its config over the protocol (no config.patch or config.set), "+
			"and its config file is not on this machine: set agents.defaults.model.primary to %q in the config on the gateway host, then restart the gateway",
			s.target.URL, ref)
	}

	paths, err := config.ResolvePaths(a.profile)
	if err != nil {
		return err
	}
	if cfg.Path != "" && filepath.IsAbs(cfg.Path) {
		paths.ConfigPath = cfg.Path // the file the running gateway read
	}
	if err := setPrimaryModelInFile(paths, ref); err != nil {
		return err
	}
	if f.json {
		return printJSON(a.stdout, mustJSON(map[string]any{"ok": true, "path": paths.ConfigPath, "primary": ref,
			"previous": previous, "changed": true, "restartRequired": true}))
	}
	fmt.Fprintf(a.stdout, "Primary model set to %s in %s%s.\n", ref, paths.ConfigPath, wasModel(previous))
	fmt.Fprintln(a.stdout, "Restart the gateway to use it (stop it, then `pincer gateway run`): it does not reload its config file by itself.")
	return nil
}

func wasModel(previous string) string {
	if previous == "" {
		return ""
	}
	return " (was " + previous + ")"
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// setPrimaryModelRPC changes the model with config.patch, or config.set
// with the edited file text, on a connection with operator.admin.
func (a *app) setPrimaryModelRPC(ctx context.Context, f *clientFlags, cfg protocol.ConfigGetResult, methods []string, ref, previous string) error {
	s, err := a.connect(ctx, f, []string{protocol.ScopeAdmin})
	if err != nil {
		return err
	}
	defer s.c.Close()
	var method string
	params := map[string]any{}
	if cfg.Hash != "" {
		params["baseHash"] = cfg.Hash
	}
	if slices.Contains(methods, "config.patch") {
		method = "config.patch"
		params["raw"] = string(mustJSON(map[string]any{"agents": map[string]any{"defaults": map[string]any{"model": map[string]any{"primary": ref}}}}))
	} else {
		method = "config.set"
		if cfg.Exists && cfg.Raw == nil {
			return errors.New("the gateway has only config.set, and config.get did not return the config text to edit; " +
				"set agents.defaults.model.primary in its config file instead")
		}
		text := ""
		if cfg.Raw != nil {
			text = *cfg.Raw
		}
		edited, err := editPrimaryModel([]byte(text), ref)
		if err != nil {
			return err
		}
		params["raw"] = string(edited)
	}
	raw, err := callInto(ctx, s, method, params, nil)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(a.stdout, raw)
	}
	fmt.Fprintf(a.stdout, "Primary model set to %s%s.\n", ref, wasModel(previous))
	return nil
}

// setPrimaryModelInFile edits agents.defaults.model.primary in the config
// file, keeping its comments and layout. The result must load; otherwise
// the old file is put back.
func setPrimaryModelInFile(paths config.Paths, ref string) error {
	path := paths.ConfigPath
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // edit the file a symlink points to, not the link
	}
	old, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read config: %w", err)
	}
	mode := fs.FileMode(0o600)
	if exists {
		if _, _, err := config.Load(paths); err != nil {
			return fmt.Errorf("the config file has problems; fix them first (`pincer config validate`), then try again:\n%v", err)
		}
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	edited, err := editPrimaryModel(old, ref)
	if err != nil {
		return err
	}
	if !exists {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(path, edited, mode); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	restore := func(cause error) error {
		var rerr error
		if exists {
			rerr = writeFileAtomic(path, old, mode)
		} else {
			rerr = os.Remove(path)
		}
		if rerr != nil {
			return fmt.Errorf("%v; restoring the old config failed too: %v", cause, rerr)
		}
		return fmt.Errorf("%v; the old config was restored", cause)
	}
	cfg, _, err := config.Load(paths)
	if err != nil {
		return restore(fmt.Errorf("the edited config does not load: %v", err))
	}
	if got := cfg.Agents.Defaults.Model.Primary; got != ref {
		return restore(fmt.Errorf("the edited config has primary model %q, not %q", got, ref))
	}
	return nil
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// editPrimaryModel sets agents.defaults.model.primary in a JSON5 config
// text. A model written as a plain string stays a string. The edit is
// checked: the new document must equal the old one with only that change.
func editPrimaryModel(text []byte, ref string) ([]byte, error) {
	lit := string(mustJSON(ref))
	if len(strings.TrimSpace(strings.TrimPrefix(string(text), "\ufeff"))) == 0 {
		b, _ := json.MarshalIndent(map[string]any{"agents": map[string]any{"defaults": map[string]any{"model": map[string]any{"primary": ref}}}}, "", "  ")
		return append(b, '\n'), nil
	}
	doc, err := parseJSON5Doc(text)
	if err != nil {
		return nil, err
	}
	path := primaryModelPath
	if n := doc.root.find(path[:3]...); n != nil && n.kind == '"' {
		path = path[:3] // "model": "provider/model"
	}
	edited, err := doc.set(path, lit)
	if err != nil {
		return nil, err
	}

	// Check the edit: only the model may have changed.
	var before, after any
	bom := []byte("\ufeff")
	if err := json5.Unmarshal(bytes.TrimPrefix(text, bom), &before); err != nil {
		return nil, fmt.Errorf("the config is not valid JSON5: %v", err)
	}
	if err := json5.Unmarshal(bytes.TrimPrefix(edited, bom), &after); err != nil {
		return nil, fmt.Errorf("editing the config produced invalid JSON5 (%v); edit agents.defaults.model.primary by hand", err)
	}
	if !reflect.DeepEqual(setPath(before, path, ref), after) {
		return nil, errors.New("editing the config changed more than the model; edit agents.defaults.model.primary by hand")
	}
	return edited, nil
}

// setPath sets a value in a decoded JSON document the way json5Doc.set does
// in the text: missing or non-object steps become objects.
func setPath(doc any, path []string, v any) any {
	if len(path) == 0 {
		return v
	}
	m, ok := doc.(map[string]any)
	if !ok {
		m = map[string]any{}
	}
	m[path[0]] = setPath(m[path[0]], path[1:], v)
	return m
}

// A minimal JSON5 reader that keeps byte offsets, so that one value can be
// changed without rewriting (and losing the comments of) the whole file.

type json5Node struct {
	kind       byte // '{', '[', '"' (string) or 'x' (number, true, false, null…)
	start, end int  // the value's bytes
	members    []json5Member
}

type json5Member struct {
	key        string
	keyStart   int
	value      *json5Node
	commaAfter bool
}

// find follows object keys (the last of duplicates wins, as in the decoder).
func (n *json5Node) find(path ...string) *json5Node {
	for _, k := range path {
		m := n.member(k)
		if m == nil {
			return nil
		}
		n = m.value
	}
	return n
}

func (n *json5Node) member(key string) *json5Member {
	if n == nil || n.kind != '{' {
		return nil
	}
	for i := len(n.members) - 1; i >= 0; i-- {
		if n.members[i].key == key {
			return &n.members[i]
		}
	}
	return nil
}

type json5Doc struct {
	text     []byte
	root     *json5Node
	bareKeys bool // the file uses unquoted keys: new keys are written bare too
}

type json5Parser struct {
	s        []byte
	i        int
	bareKeys bool
}

func parseJSON5Doc(text []byte) (*json5Doc, error) {
	p := &json5Parser{s: text}
	if err := p.space(); err != nil {
		return nil, err
	}
	root, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected text after the document")
	}
	if root.kind != '{' {
		return nil, errors.New("the config is not a JSON5 object")
	}
	return &json5Doc{text: text, root: root, bareKeys: p.bareKeys}, nil
}

func (p *json5Parser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(string(p.s[:min(p.i, len(p.s))]), "\n")
	return fmt.Errorf("cannot edit the config: line %d: %s", line, fmt.Sprintf(format, args...))
}

// space skips whitespace and comments.
func (p *json5Parser) space() error {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			p.i++
		case c == '/' && p.i+1 < len(p.s) && p.s[p.i+1] == '/':
			for p.i < len(p.s) && p.s[p.i] != '\n' && p.s[p.i] != '\r' {
				p.i++
			}
		case c == '/' && p.i+1 < len(p.s) && p.s[p.i+1] == '*':
			end := strings.Index(string(p.s[p.i+2:]), "*/")
			if end < 0 {
				return p.errorf("unterminated comment")
			}
			p.i += 2 + end + 2
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.s[p.i:])
			if !unicode.IsSpace(r) && r != '\ufeff' {
				return nil
			}
			p.i += size
		default:
			return nil
		}
	}
	return nil
}

func (p *json5Parser) value(depth int) (*json5Node, error) {
	if depth > 256 {
		return nil, p.errorf("nesting too deep")
	}
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end of the document")
	}
	switch c := p.s[p.i]; c {
	case '{':
		return p.object(depth)
	case '[':
		return p.array(depth)
	case '"', '\'':
		start := p.i
		if err := p.str(); err != nil {
			return nil, err
		}
		return &json5Node{kind: '"', start: start, end: p.i}, nil
	case ',', ':', ']', '}':
		return nil, p.errorf("unexpected %q", c)
	}
	start := p.i
	for p.i < len(p.s) && !p.delimiter() {
		p.i++
	}
	if p.i == start {
		return nil, p.errorf("expected a value")
	}
	return &json5Node{kind: 'x', start: start, end: p.i}, nil
}

// delimiter reports whether a literal or bare key ends at p.i.
func (p *json5Parser) delimiter() bool {
	c := p.s[p.i]
	switch c {
	case ',', ':', '[', ']', '{', '}', '"', '\'', ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	case '/':
		return p.i+1 < len(p.s) && (p.s[p.i+1] == '/' || p.s[p.i+1] == '*')
	}
	if c >= utf8.RuneSelf {
		r, _ := utf8.DecodeRune(p.s[p.i:])
		return unicode.IsSpace(r) || r == '\ufeff'
	}
	return false
}

func (p *json5Parser) str() error {
	q := p.s[p.i]
	p.i++
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case q:
			p.i++
			return nil
		}
		p.i++
	}
	return p.errorf("unterminated string")
}

func (p *json5Parser) object(depth int) (*json5Node, error) {
	n := &json5Node{kind: '{', start: p.i}
	p.i++
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated object")
		}
		if p.s[p.i] == '}' {
			p.i++
			n.end = p.i
			return n, nil
		}
		if len(n.members) > 0 && !n.members[len(n.members)-1].commaAfter {
			return nil, p.errorf("expected ',' or '}'")
		}
		key, keyStart, err := p.key()
		if err != nil {
			return nil, err
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected ':' after key %q", key)
		}
		p.i++
		if err := p.space(); err != nil {
			return nil, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m := json5Member{key: key, keyStart: keyStart, value: v}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.i < len(p.s) && p.s[p.i] == ',' {
			m.commaAfter = true
			p.i++
		}
		n.members = append(n.members, m)
	}
}

func (p *json5Parser) key() (string, int, error) {
	start := p.i
	if c := p.s[p.i]; c == '"' || c == '\'' {
		if err := p.str(); err != nil {
			return "", 0, err
		}
		var k string
		if err := json5.Unmarshal(p.s[start:p.i], &k); err != nil {
			return "", 0, p.errorf("bad key %s", p.s[start:p.i])
		}
		return k, start, nil
	}
	for p.i < len(p.s) && !p.delimiter() {
		p.i++
	}
	if p.i == start {
		return "", 0, p.errorf("expected a key")
	}
	p.bareKeys = true
	k := string(p.s[start:p.i])
	if strings.Contains(k, `\`) { // an identifier with \u escapes
		var m map[string]any
		if err := json5.Unmarshal([]byte("{"+k+":0}"), &m); err != nil || len(m) != 1 {
			return "", 0, p.errorf("bad key %s", k)
		}
		for name := range m {
			k = name
		}
	}
	return k, start, nil
}

func (p *json5Parser) array(depth int) (*json5Node, error) {
	n := &json5Node{kind: '[', start: p.i}
	p.i++
	needComma := false
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated array")
		}
		switch p.s[p.i] {
		case ']':
			p.i++
			n.end = p.i
			return n, nil
		case ',':
			if !needComma {
				return nil, p.errorf("unexpected ','")
			}
			needComma = false
			p.i++
			continue
		}
		if needComma {
			return nil, p.errorf("expected ',' or ']'")
		}
		if _, err := p.value(depth + 1); err != nil {
			return nil, err
		}
		needComma = true
	}
}

// set puts the JSON literal lit at path, creating the missing objects, and
// returns the edited text.
func (d *json5Doc) set(path []string, lit string) ([]byte, error) {
	n := d.root
	for i, key := range path {
		m := n.member(key)
		if m == nil {
			return d.insert(n, key, d.nested(path[i+1:], lit)), nil
		}
		if i == len(path)-1 || m.value.kind != '{' {
			return splice(d.text, m.value.start, m.value.end, d.nested(path[i+1:], lit)), nil
		}
		n = m.value
	}
	return nil, errors.New("empty path")
}

// nested is lit wrapped in objects along path: {a: {b: lit}}.
func (d *json5Doc) nested(path []string, lit string) string {
	for i := len(path) - 1; i >= 0; i-- {
		lit = "{" + d.keyText(path[i]) + ": " + lit + "}"
	}
	return lit
}

func (d *json5Doc) keyText(k string) string {
	if d.bareKeys && isIdentifier(k) {
		return k
	}
	return string(mustJSON(k))
}

func isIdentifier(s string) bool {
	for i, r := range s {
		if !(r == '_' || r == '$' || r < utf8.RuneSelf && unicode.IsLetter(r) || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// insert adds "key: value" as the last member of obj, on its own line when
// the members are on their own lines.
func (d *json5Doc) insert(obj *json5Node, key, value string) []byte {
	entry := d.keyText(key) + ": " + value
	s := d.text
	if len(obj.members) == 0 {
		inner := string(s[obj.start+1 : obj.end-1])
		if strings.Contains(inner, "\n") {
			indent, _ := lineIndent(s, obj.start)
			return splice(s, obj.start+1, obj.start+1, "\n"+indent+"  "+entry)
		}
		return splice(s, obj.start+1, obj.start+1, " "+entry+" ")
	}
	last := obj.members[len(obj.members)-1]
	// After the last member, its comma and any comments, before the
	// whitespace that precedes '}'.
	at := obj.end - 1
	for at > last.value.end && strings.ContainsRune(" \t\r\n", rune(s[at-1])) {
		at--
	}
	sep := " "
	if indent, ownLine := lineIndent(s, last.keyStart); ownLine {
		sep = "\n" + indent
	}
	out := splice(s, at, at, sep+entry)
	if !last.commaAfter {
		out = splice(out, last.value.end, last.value.end, ",")
	}
	return out
}

// lineIndent is the whitespace before pos on its line, and whether only
// whitespace precedes pos there.
func lineIndent(s []byte, pos int) (string, bool) {
	i := pos
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
		i--
	}
	return string(s[i:pos]), i == 0 || s[i-1] == '\n' || s[i-1] == '\r'
}

func splice(s []byte, from, to int, repl string) []byte {
	out := make([]byte, 0, len(s)-(to-from)+len(repl))
	out = append(out, s[:from]...)
	out = append(out, repl...)
	return append(out, s[to:]...)
}
