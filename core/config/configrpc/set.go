package configrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

// maxConfigBytes bounds a config.set document.
const maxConfigBytes = 1 << 20

// restartKeys are settings read only when the gateway starts.
var restartKeys = []string{"gateway.port", "gateway.bind", "gateway.customBindHost", "gateway.auth.mode", "gateway.auth.password",
	"gateway.auth.rateLimit", "gateway.trustedProxies",
	"gateway.controlUi.allowedOrigins", "logging", "canvasHost.port", "hooks.path"}

type setParams struct {
	Raw      string `json:"raw"`
	BaseHash string `json:"baseHash,omitempty"`
}

// errStale is config.set's answer to a stale baseHash (the reference's text).
var errStale = protocol.InvalidRequest("config changed since last load; re-run config.get and retry")

// set writes a whole new config (config.set): it must parse and validate;
// redacted placeholders from config.get are restored from the current file;
// the write is atomic; settings that apply at runtime take effect at once.
func (s *Service) set(ctx context.Context, call *gateway.Call) (any, error) {
	var p setParams
	if err := call.Bind(&p); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.Raw) == "" {
		return nil, protocol.InvalidRequest("raw must be the full JSON5 config text")
	}
	if len(p.Raw) > maxConfigBytes {
		return nil, protocol.InvalidRequest(fmt.Sprintf("config text is larger than %d KiB", maxConfigBytes>>10))
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, _ := s.Current()
	if p.BaseHash != "" {
		// Checked against the file as it is now: a hand edit since
		// config.get makes the base stale.
		text := ""
		if b, err := os.ReadFile(s.Paths.ConfigPath); err == nil {
			text = string(b)
		}
		h, err := config.Hash(s.Paths, text)
		if err != nil {
			return nil, protocol.Unavailable("hashing config failed: "+err.Error(), 0)
		}
		if h != p.BaseHash {
			return nil, errStale
		}
	}
	src := cur // the placeholders stand for the values config.get showed: the file's
	if disk, _, _ := config.Load(s.Paths); disk != nil && disk.Raw != nil {
		src = disk
	}
	text, perr0 := restoreSecrets(p.Raw, src)
	if perr0 != nil {
		return nil, invalid([]protocol.ConfigIssue{{Path: perr0.path, Message: perr0.msg}})
	}
	_, iss, _, perr := config.Parse([]byte(text))
	if perr != nil {
		var se *config.SyntaxError
		if errors.As(perr, &se) {
			return nil, invalid([]protocol.ConfigIssue{{Path: "", Message: fmt.Sprintf("JSON5 syntax error at line %d, column %d: %s", se.Line, se.Column, se.Msg)}})
		}
		return nil, invalid([]protocol.ConfigIssue{{Path: "", Message: perr.Error()}})
	}
	if len(iss) > 0 {
		return nil, invalid(issues(iss))
	}
	if err := writeAtomic(s.Paths.ConfigPath, []byte(text)); err != nil {
		return nil, protocol.Unavailable("writing "+s.Paths.ConfigPath+": "+err.Error(), 0)
	}
	newCfg, newRes, err := config.Load(s.Paths)
	if err != nil || newCfg == nil {
		return nil, protocol.Unavailable(fmt.Sprintf("reloading the written config failed: %v", err), 0)
	}
	restart := restartNeeded(cur, newCfg)
	if s.Apply != nil {
		s.Apply(newCfg, newRes)
	}
	h, _ := config.Hash(s.Paths, newRes.RawText)
	if s.gw != nil {
		s.gw.Broadcast("config.changed", map[string]any{"path": s.Paths.ConfigPath, "hash": h, "ts": time.Now().UnixMilli()},
			gateway.BroadcastOptions{})
	}
	eff := config.Redact(toTree(json.RawMessage(newCfg.JSON())))
	return map[string]any{"ok": true, "path": s.Paths.ConfigPath, "hash": h, "config": eff, "restartRequired": restart}, nil
}

// invalid is the error config.set answers for a document that does not
// validate: every problem with its path.
func invalid(list []protocol.ConfigIssue) error {
	msgs := make([]string, 0, len(list))
	for _, i := range list {
		if i.Path != "" {
			msgs = append(msgs, i.Path+": "+i.Message)
		} else {
			msgs = append(msgs, i.Message)
		}
	}
	return &protocol.Error{Code: protocol.CodeInvalidRequest, Message: "invalid config: " + strings.Join(msgs, "; "),
		Details: protocol.Details{"issues": list}}
}

// restartNeeded lists the changed settings that apply at the next start.
func restartNeeded(old, next *config.Config) []string {
	o, n := toTree(json.RawMessage(old.JSON())), toTree(json.RawMessage(next.JSON()))
	out := []string{}
	for _, key := range restartKeys {
		if !equalJSON(at(o, key), at(n, key)) {
			out = append(out, key)
		}
	}
	// The running token may come from the token file; only a token the new
	// file sets is a change.
	if t := next.Gateway.Auth.Token; t != "" && t != old.Gateway.Auth.Token {
		out = append(out, "gateway.auth.token")
	}
	return out
}

func at(tree any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := tree.(map[string]any)
		if !ok {
			return nil
		}
		tree = m[k]
	}
	return tree
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

type pathError struct{ path, msg string }

var placeholder = regexp.MustCompile(regexp.QuoteMeta(config.RedactedSentinel))

// restoreSecrets puts the current secret values back where the text holds
// config.get's redaction placeholder: each occurrence is numbered, the
// numbered text is parsed to find the path of each, and the value at that
// path in the current config replaces it.
func restoreSecrets(raw string, cur *config.Config) (string, *pathError) {
	if !strings.Contains(raw, config.RedactedSentinel) {
		return raw, nil
	}
	n := 0
	numbered := placeholder.ReplaceAllStringFunc(raw, func(string) string {
		n++
		return config.RedactedSentinel + "#" + strconv.Itoa(n)
	})
	cfg, _, _, err := config.Parse([]byte(numbered))
	if err != nil || cfg == nil {
		return raw, nil // the syntax error is reported by the caller's parse
	}
	paths := map[int]string{}
	findMarkers(cfg.Raw, "", paths)
	var curTree any
	if cur != nil && cur.Raw != nil {
		curTree = toTree(cur.Raw)
	}
	out := numbered
	for i := n; i >= 1; i-- { // longest marker numbers first: #12 before #1
		marker := config.RedactedSentinel + "#" + strconv.Itoa(i)
		path, ok := paths[i]
		if !ok {
			// A placeholder outside a string value (a comment …): leave the
			// sentinel text as it was.
			out = strings.ReplaceAll(out, marker, config.RedactedSentinel)
			continue
		}
		orig, ok := at(curTree, path).(string)
		if !ok || orig == "" || orig == config.RedactedSentinel {
			return "", &pathError{path: path, msg: "still holds the redacted placeholder, and there is no current value at this path to keep; type the value"}
		}
		enc, _ := json.Marshal(orig)
		esc := string(enc[1 : len(enc)-1]) // valid inside "…" and '…' (except a raw ', which JSON does not escape)
		esc = strings.ReplaceAll(esc, "'", `\'`)
		out = strings.ReplaceAll(out, marker, esc)
	}
	return out, nil
}

func findMarkers(v any, path string, out map[int]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			findMarkers(c, p, out)
		}
	case []any:
		for i, c := range x {
			findMarkers(c, path+"."+strconv.Itoa(i), out)
		}
	case string:
		if rest, ok := strings.CutPrefix(x, config.RedactedSentinel+"#"); ok {
			if i, err := strconv.Atoi(rest); err == nil {
				out[i] = path
			}
		}
	}
}

// writeAtomic replaces path with data (0600), through a temp file in the
// same directory.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".pincer-config-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
