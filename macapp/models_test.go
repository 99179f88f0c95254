package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pincerhq/pincer/core/client/clienttest"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/protocol"
)

func TestModelsAgainstGateway(t *testing.T) {
	g, _ := startAgentGateway(t, "// Written by hand.\n")
	cfgPath := filepath.Join(g.State, config.ConfigFileName)

	r := runAt(t, g, "models", "list")
	mustContain(t, "models list", r, "MODEL        NAME    CONTEXT  NOTES\n", "fake/fake-1  fake-1  128k     primary\n")
	r = runAt(t, g, "models", "list", "--json")
	var list protocol.ModelsListResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.Models) != 1 || list.Models[0].Provider != "fake" {
		t.Fatalf("models list --json: %+v", r)
	}

	mustContain(t, "set same", runAt(t, g, "models", "set", "fake/fake-1"), "fake/fake-1 is already the primary model.")
	mustFail(t, "bad ref", runAt(t, g, "models", "set", "fake-1"), exitUsage, `model reference "fake-1" is not of the form provider/model`)

	// The gateway offers config.set: the change is written by the gateway,
	// keeps the file's comments, and applies without a restart.
	r = runAt(t, g, "models", "set", "fake/fake-2")
	mustContain(t, "models set", r, "Primary model set to fake/fake-2 (was fake/fake-1).")
	if !strings.Contains(r.stderr, "Warning: fake/fake-2 is not in the gateway's model list") {
		t.Fatalf("no unknown-model warning: %q", r.stderr)
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil || !strings.HasPrefix(string(b), "// Written by hand.\n{models:") || !strings.Contains(string(b), `model: {primary: "fake/fake-2"}`) {
		t.Fatalf("config after set: %v\n%s", err, b)
	}
	p, _ := config.ResolvePaths("")
	cfg, _, err := config.Load(p)
	if err != nil || cfg.Agents.Defaults.Model.Primary != "fake/fake-2" || cfg.Models.Providers["fake"].BaseURL == "" {
		t.Fatalf("config does not load: %v %+v", err, cfg)
	}
	mustContain(t, "models list after set", runAt(t, g, "models", "list"), "fake/fake-1  fake-1  128k")

	r = runAt(t, g, "models", "set", "other/m-3", "--json")
	var out map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out["ok"] != true {
		t.Fatalf("models set --json: %+v", r)
	}

	// A broken config file is not touched: the gateway refuses the edit.
	writeFile(t, cfgPath, `{gateway: {port: "x"}}`)
	mustFail(t, "set on invalid config", runAt(t, g, "models", "set", "fake/fake-9"), exitError, "gateway.port")
	if b, _ := os.ReadFile(cfgPath); string(b) != `{gateway: {port: "x"}}` {
		t.Fatalf("invalid config changed: %s", b)
	}
}

func TestModelsSetOverConfigPatch(t *testing.T) {
	dir := isolate(t)
	cfgPath := filepath.Join(dir, config.ConfigFileName)
	writeFile(t, cfgPath, `{agents: {defaults: {model: "a/old"}}}`)
	var got map[string]string
	var gotScopes []string
	srv := clienttest.NewServer(t, clienttest.Config{Token: "T", Methods: map[string]clienttest.Handler{
		"config.get": func(r *clienttest.Request) (any, error) {
			return protocol.ConfigGetResult{Path: "/elsewhere/pincer.json", Exists: true, Valid: true, Hash: "hmac-sha256:v1:abc",
				Config: json.RawMessage(`{"agents":{"defaults":{"model":{"primary":"a/old"}}}}`)}, nil
		},
		"models.list": func(r *clienttest.Request) (any, error) {
			return json.RawMessage(`{"models":[{"id":"new","name":"New","provider":"a","contextWindow":200000}]}`), nil
		},
		"config.patch": func(r *clienttest.Request) (any, error) {
			_ = json.Unmarshal(r.Params, &got)
			gotScopes = r.Conn.Params.Scopes
			return map[string]any{"ok": true, "path": "/elsewhere/pincer.json"}, nil
		},
	}})
	r := runCLI(t, "models", "set", "a/new", "--url", srv.URL, "--token", "T")
	mustContain(t, "models set over config.patch", r, "Primary model set to a/new (was a/old).\n")
	if r.stderr != "" {
		t.Fatalf("stderr %q", r.stderr)
	}
	if got["baseHash"] != "hmac-sha256:v1:abc" || got["raw"] != `{"agents":{"defaults":{"model":{"primary":"a/new"}}}}` {
		t.Fatalf("config.patch params %v", got)
	}
	if len(gotScopes) != 1 || gotScopes[0] != protocol.ScopeAdmin {
		t.Fatalf("config.patch scopes %v", gotScopes)
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != `{agents: {defaults: {model: "a/old"}}}` {
		t.Fatalf("local config touched: %s", b)
	}
	r = runCLI(t, "models", "list", "--url", srv.URL, "--token", "T")
	mustContain(t, "models list", r, "a/new  New   200k     -\n", "Primary model: a/old (not in this list)")
}

func TestModelsSetOverConfigSet(t *testing.T) {
	isolate(t)
	raw := "// gw config\n{\n  agents: {defaults: {model: {primary: \"a/old\", fallbacks: [\"b/x\"]}}},\n  gateway: {auth: {token: \"__OPENCLAW_REDACTED__\"}},\n}\n"
	var got map[string]string
	srv := clienttest.NewServer(t, clienttest.Config{Token: "T", Methods: map[string]clienttest.Handler{
		"config.get": func(r *clienttest.Request) (any, error) {
			return protocol.ConfigGetResult{Exists: true, Valid: true, Hash: "h1", Raw: &raw,
				Config: json.RawMessage(`{"agents":{"defaults":{"model":{"primary":"a/old"}}}}`)}, nil
		},
		"config.set": func(r *clienttest.Request) (any, error) {
			_ = json.Unmarshal(r.Params, &got)
			return map[string]any{"ok": true}, nil
		},
	}})
	r := runCLI(t, "models", "set", "a/new", "--url", srv.URL, "--token", "T")
	mustContain(t, "models set over config.set", r, "Primary model set to a/new (was a/old).")
	want := strings.Replace(raw, `"a/old"`, `"a/new"`, 1)
	if got["baseHash"] != "h1" || got["raw"] != want {
		t.Fatalf("config.set params %q, want raw %q", got, want)
	}
}

func TestEditPrimaryModel(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"replace in object", `{agents: {defaults: {model: {primary: "a/b", fallbacks: ["c/d"]}}}}`,
			`{agents: {defaults: {model: {primary: "x/y", fallbacks: ["c/d"]}}}}`},
		{"string form stays a string", "{\n  // the model\n  agents: {defaults: {model: 'a/b'}}, // trailing\n}\n",
			"{\n  // the model\n  agents: {defaults: {model: \"x/y\"}}, // trailing\n}\n"},
		{"insert into root, multi-line", "// top\n{\n  gateway: {port: 18789}, // port\n  /* more */\n}\n",
			"// top\n{\n  gateway: {port: 18789}, // port\n  /* more */\n  agents: {defaults: {model: {primary: \"x/y\"}}}\n}\n"},
		{"insert without trailing comma", "{\n  gateway: {port: 1} // c\n}",
			"{\n  gateway: {port: 1}, // c\n  agents: {defaults: {model: {primary: \"x/y\"}}}\n}"},
		{"insert into nested object, one line", `{agents: {defaults: {heartbeat: {every: "1h"}}}}`,
			`{agents: {defaults: {heartbeat: {every: "1h"}, model: {primary: "x/y"}}}}`},
		{"strict JSON keeps quoted keys", `{"agents": {"entries": {}}}`,
			`{"agents": {"entries": {}, "defaults": {"model": {"primary": "x/y"}}}}`},
		{"empty object", `{}`, `{ "agents": {"defaults": {"model": {"primary": "x/y"}}} }`},
		{"empty multi-line object", "{\n}\n", "{\n  \"agents\": {\"defaults\": {\"model\": {\"primary\": \"x/y\"}}}\n}\n"},
		{"null becomes an object", `{agents: null}`, `{agents: {defaults: {model: {primary: "x/y"}}}}`},
		{"duplicate keys: the last wins", `{agents: {defaults: {model: "a/b"}}, agents: {defaults: {}}}`,
			`{agents: {defaults: {model: "a/b"}}, agents: {defaults: { model: {primary: "x/y"} }}}`},
		{"quoted keys with escapes", `{"agents": {'defaults': {"mod\u0065l": {"primary": "a/b"}}}}`,
			`{"agents": {'defaults': {"mod\u0065l": {"primary": "x/y"}}}}`},
		{"strings with braces and comment markers", `{gateway: {note: "} // {"}, agents: {defaults: {model: {primary: "a/b" /* } */}}}}`,
			`{gateway: {note: "} // {"}, agents: {defaults: {model: {primary: "x/y" /* } */}}}}`},
		{"empty file", "", "{\n  \"agents\": {\n    \"defaults\": {\n      \"model\": {\n        \"primary\": \"x/y\"\n      }\n    }\n  }\n}\n"},
		{"BOM", "\ufeff{gateway: {port: 1}}", "\ufeff{gateway: {port: 1}, agents: {defaults: {model: {primary: \"x/y\"}}}}"},
	} {
		got, err := editPrimaryModel([]byte(tc.in), "x/y")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
		if cfg, issues, _, err := config.Parse(got); err != nil || cfg.Agents.Defaults.Model.Primary != "x/y" {
			t.Errorf("%s: edited config: %v %v %+v", tc.name, err, issues, cfg)
		}
	}
	for _, bad := range []string{`[1]`, `{a: `, `{a: 1} x`, `{a /* x`} {
		if _, err := editPrimaryModel([]byte(bad), "x/y"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
