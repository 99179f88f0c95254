// Package configrpc serves the config over the protocol: config.get (with
// secrets redacted), config.set and config.schema.
package configrpc

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/gateway"
	"github.com/pincerhq/pincer/core/protocol"
)

// Service answers config methods from the config the gateway runs with.
type Service struct {
	Paths   config.Paths
	Current func() (*config.Config, *config.LoadResult)
	Version string
	// Apply takes a config written by config.set (the daemon swaps it in:
	// settings read at runtime apply at once).
	Apply   func(*config.Config, *config.LoadResult)
	started time.Time
	gw      *gateway.Server
	writeMu sync.Mutex
}

// Register adds config.get and config.schema.
func (s *Service) Register(srv *gateway.Server) {
	s.started = time.Now()
	s.gw = srv
	srv.Register(gateway.Method{Name: "config.get", Scope: protocol.ScopeRead, Handler: s.get})
	srv.Register(gateway.Method{Name: "config.set", Scope: protocol.ScopeAdmin, Handler: s.set})
	srv.RegisterEvent("config.changed", gateway.EventGuard{AnyOf: []string{protocol.ScopeRead}})
	srv.Register(gateway.Method{Name: "config.schema", Scope: protocol.ScopeRead, Handler: s.schema})
}

// AppliedHash is the hash of the config text the gateway runs with.
func (s *Service) AppliedHash() string {
	_, res := s.Current()
	h, err := config.Hash(s.Paths, res.RawText)
	if err != nil {
		return ""
	}
	return h
}

// secretValues collects the string values Redact would hide.
func secretValues(orig, redacted any, out map[string]bool) {
	switch o := orig.(type) {
	case map[string]any:
		r, _ := redacted.(map[string]any)
		for k, v := range o {
			secretValues(v, r[k], out)
		}
	case []any:
		r, _ := redacted.([]any)
		for i, v := range o {
			if i < len(r) {
				secretValues(v, r[i], out)
			}
		}
	case string:
		if rs, ok := redacted.(string); ok && rs == config.RedactedSentinel && o != config.RedactedSentinel && o != "" {
			out[o] = true
		}
	}
}

// redactText hides secret values in the raw JSON5 text.
func redactText(raw string, secrets map[string]bool) string {
	vals := make([]string, 0, len(secrets))
	for v := range secrets {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		raw = strings.ReplaceAll(raw, v, config.RedactedSentinel)
	}
	return raw
}

func toTree(v any) any {
	b, _ := json.Marshal(v)
	var t any
	_ = json.Unmarshal(b, &t)
	return t
}

func (s *Service) get(ctx context.Context, call *gateway.Call) (any, error) {
	cfg, res := s.Current()
	// The file is read afresh: what is on disk now (a hand edit, a broken
	// file) is what config.set's baseHash is checked against; the runtime
	// config is the one the gateway applied.
	if disk, dres, err := config.Load(s.Paths); dres != nil && (err == nil || dres.Exists) {
		res = dres
		if disk != nil && disk.Raw != nil {
			cfg = withRaw(cfg, disk.Raw)
		} else {
			cfg = withRaw(cfg, nil)
		}
	}
	secrets := map[string]bool{}
	out := protocol.ConfigGetResult{
		Path: s.Paths.ConfigPath, IncludedPaths: []string{}, Exists: res.Exists, Valid: len(res.Issues) == 0,
		Issues: issues(res.Issues), Warnings: issues(res.Warnings), LegacyIssues: []protocol.ConfigIssue{},
	}
	var parsed any = map[string]any{}
	if cfg.Raw != nil {
		rp := config.Redact(toTree(cfg.Raw))
		secretValues(toTree(cfg.Raw), rp, secrets)
		parsed = rp
	}
	eff := toTree(json.RawMessage(cfg.JSON()))
	red := config.Redact(eff)
	secretValues(eff, red, secrets)
	if res.Exists {
		raw := redactText(res.RawText, secrets)
		out.Raw = &raw
	}
	out.Parsed = mustJSON(parsed)
	out.SourceConfig = out.Parsed
	out.Resolved = mustJSON(red)
	out.RuntimeConfig = out.Resolved
	out.Config = out.Resolved
	h, err := config.Hash(s.Paths, res.RawText)
	if err != nil {
		return nil, protocol.Unavailable("hashing config failed: "+err.Error(), 0)
	}
	out.Hash = h
	out.AppliedHash = s.AppliedHash()
	return out, nil
}

// withRaw is cfg (the runtime config) showing raw as its source document.
func withRaw(cfg *config.Config, raw map[string]any) *config.Config {
	c := *cfg
	c.Raw = raw
	return &c
}

func issues(in []config.Issue) []protocol.ConfigIssue {
	out := make([]protocol.ConfigIssue, 0, len(in))
	for _, i := range in {
		out = append(out, protocol.ConfigIssue{Path: i.Path, Message: i.Message})
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (s *Service) schema(ctx context.Context, call *gateway.Call) (any, error) {
	return protocol.ConfigSchemaResult{
		Schema: config.Schema(), UIHints: map[string]any{}, Version: s.Version,
		GeneratedAt: s.started.UTC().Format(time.RFC3339),
	}, nil
}
