package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// isolate points HOME and every variable the package reads at a fresh temp
// dir so the developer's real ~/.pincer and shell are never touched.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	for _, v := range []string{EnvStateDir, EnvConfigPath,
		EnvGatewayToken, EnvGatewayPassword, EnvGatewayPort, EnvGatewayURL,
		EnvOpenClawGatewayToken, EnvOpenClawGatewayPassword, EnvOpenClawGatewayPort, EnvOpenClawGatewayURL} {
		t.Setenv(v, "")
	}
	return home
}

func writeConfig(t *testing.T, p Paths, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p.ConfigPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.ConfigPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func tempPaths(t *testing.T) Paths {
	t.Helper()
	isolate(t)
	dir := t.TempDir()
	t.Setenv(EnvStateDir, dir)
	p, err := ResolvePaths("")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadMissingFileGivesDefaults(t *testing.T) {
	p := tempPaths(t)
	cfg, res, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Exists || res.RawText != "" || len(res.Issues) != 0 {
		t.Fatalf("unexpected result %+v", res)
	}
	if cfg.Raw != nil {
		t.Fatalf("Raw = %v, want nil without a file", cfg.Raw)
	}
	if !reflect.DeepEqual(cfg, Defaults()) {
		t.Fatalf("config differs from Defaults:\n%s\n%s", cfg.JSON(), Defaults().JSON())
	}
	g := cfg.Gateway
	if g.Port != 18789 || g.Bind != "loopback" || g.Auth.Mode != "token" || g.Reload.Mode != "hybrid" {
		t.Fatalf("gateway defaults wrong: %+v", g)
	}
	rl := g.Auth.RateLimit
	if rl.MaxAttempts != 10 || rl.WindowMs != 60000 || rl.LockoutMs != 300000 || rl.ExemptLoopback == nil || !*rl.ExemptLoopback {
		t.Fatalf("rate limit defaults wrong: %+v", rl)
	}
	if _, ok := cfg.Agents.Entries["main"]; !ok {
		t.Fatal("agents.entries.main missing")
	}
	if cfg.Agents.Defaults.Heartbeat.Every != "30m" {
		t.Fatalf("heartbeat.every = %q", cfg.Agents.Defaults.Heartbeat.Every)
	}
	if l := cfg.Logging; l.Level != "info" || l.MaxFileBytes != 10<<20 || l.MaxFiles != 5 {
		t.Fatalf("logging defaults wrong: %+v", l)
	}
	addr, err := cfg.ListenAddr()
	if err != nil || addr != "127.0.0.1:18789" {
		t.Fatalf("ListenAddr = %q, %v", addr, err)
	}
}

func TestDefaultsAreIndependent(t *testing.T) {
	a, b := Defaults(), Defaults()
	*a.Gateway.Auth.RateLimit.ExemptLoopback = false
	a.Agents.Entries["x"] = AgentEntry{}
	if !*b.Gateway.Auth.RateLimit.ExemptLoopback || len(b.Agents.Entries) != 1 {
		t.Fatal("Defaults shares state between calls")
	}
}

func TestLoadJSON5Features(t *testing.T) {
	p := tempPaths(t)
	writeConfig(t, p, `// Pincer config
{
  /* block comment */
  gateway: {
    port: 19001,            // unquoted key, line comment
    bind: 'lan',            // single quotes
    auth: { mode: "token", token: "s3cret", },   // trailing comma
    trustedProxies: ["10.0.0.1", "192.168.0.0/16", "fd00::/8",],
    controlUi: { enabled: false, allowedOrigins: ["https://ui.example.com"] },
    reload: { mode: "off" },
    nodes: { pairing: { autoApproveLocal: true } },
  },
  agents: {
    defaults: {
      model: "anthropic/claude-opus-4-6",
      heartbeat: { every: "1h", target: "last", ackMaxChars: 100, prompt: "ping" },
      mediaMaxMb: 5,
    },
    entries: {
      ops: { name: "Ops", workspace: "~/ops", model: { primary: "openai/gpt-5.4", fallbacks: ["openai/gpt-5.4-mini"] }, avatar: "🦀" },
    },
  },
  models: {
    providers: {
      local: { baseUrl: "http://127.0.0.1:11434/v1", apiKey: "k", api: "openai-completions",
               models: [{ id: "llama", name: "Llama", contextWindow: 131072, reasoning: true }] },
    },
  },
  logging: { level: "debug", maxFileBytes: 0x100000, maxFiles: 3 },
}
`)
	cfg, res, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Exists || len(res.Warnings) != 0 {
		t.Fatalf("result %+v", res)
	}
	g := cfg.Gateway
	if g.Port != 19001 || g.Bind != "lan" || g.Auth.Token != "s3cret" || g.Reload.Mode != "off" {
		t.Fatalf("gateway = %+v", g)
	}
	if !reflect.DeepEqual(g.TrustedProxies, []string{"10.0.0.1", "192.168.0.0/16", "fd00::/8"}) {
		t.Fatalf("trustedProxies = %v", g.TrustedProxies)
	}
	if g.ControlUI.Enabled == nil || *g.ControlUI.Enabled || len(g.ControlUI.AllowedOrigins) != 1 {
		t.Fatalf("controlUi = %+v", g.ControlUI)
	}
	if g.Nodes["pairing"] == nil {
		t.Fatalf("nodes = %v", g.Nodes)
	}
	d := cfg.Agents.Defaults
	if d.Model.Primary != "anthropic/claude-opus-4-6" || d.Heartbeat.Every != "1h" || d.Heartbeat.AckMaxChars != 100 || d.MediaMaxMb != 5 {
		t.Fatalf("agent defaults = %+v", d)
	}
	ops := cfg.Agents.Entries["ops"]
	if ops.Name != "Ops" || ops.Model == nil || ops.Model.Fallbacks[0] != "openai/gpt-5.4-mini" || ops.Avatar != "🦀" {
		t.Fatalf("ops = %+v", ops)
	}
	if _, ok := cfg.Agents.Entries["main"]; !ok {
		t.Fatal("main entry not added")
	}
	prov := cfg.Models.Providers["local"]
	if prov.BaseURL != "http://127.0.0.1:11434/v1" || len(prov.Models) != 1 || prov.Models[0].ContextWindow != 131072 || !prov.Models[0].Reasoning {
		t.Fatalf("provider = %+v", prov)
	}
	if cfg.Logging.MaxFileBytes != 1<<20 || cfg.Logging.MaxFiles != 3 || cfg.Logging.Level != "debug" {
		t.Fatalf("logging = %+v", cfg.Logging)
	}
	if cfg.Raw["gateway"].(map[string]any)["port"] != float64(19001) {
		t.Fatalf("Raw = %v", cfg.Raw)
	}
	// Defaults still fill what the file left out.
	if g.Auth.RateLimit.MaxAttempts != 10 {
		t.Fatal("rate limit default lost")
	}
	if addr, _ := cfg.ListenAddr(); addr != "0.0.0.0:19001" {
		t.Fatalf("ListenAddr = %q", addr)
	}
}

func TestValidationReportsEveryIssue(t *testing.T) {
	p := tempPaths(t)
	writeConfig(t, p, `{
  gateway: {
    port: 70000,
    bind: "0.0.0.0",
    auth: { mode: "secret", token: 42, rateLimit: { maxAttempts: 0, windowMs: 1.5, exemptLoopback: "yes", burst: 3 } },
    trustedProxies: ["10.0.0.1", "not-an-ip", 7],
    controlUi: { enabled: "on", allowedOrigins: ["https://ok.example", "https://bad.example/path"] },
    reload: { mode: "sometimes" },
    frobnicate: true,
  },
  agents: {
    defaults: { heartbeat: { every: "soon", ackMaxChars: -1 }, mediaMaxMb: "big", model: 3 },
    entries: { "bad id!": {}, ok: { name: 5 } },
  },
  models: { providers: { x: { baseUrl: "ftp://nope", models: [{ name: "no id" }] } } },
  logging: { level: "loud", maxFiles: 0 },
  gatway: {},
}`)
	cfg, res, err := Load(p)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want *ValidationError", err, err)
	}
	if cfg == nil || cfg.Raw == nil {
		t.Fatal("best-effort config not returned with the validation error")
	}
	if cfg.Gateway.Port != DefaultPort {
		t.Fatalf("invalid port should leave the default, got %d", cfg.Gateway.Port)
	}
	if ve.Path != p.ConfigPath || !reflect.DeepEqual(ve.Issues, res.Issues) {
		t.Fatalf("ValidationError %+v does not match result %+v", ve, res)
	}
	want := map[string]string{
		"gateway.port":                          "must be an integer between 1 and 65535",
		"gateway.bind":                          "must be one of loopback, lan, auto, custom, tailnet",
		"gateway.auth.mode":                     "must be one of token, password, none",
		"gateway.auth.token":                    "must be a string",
		"gateway.auth.rateLimit.maxAttempts":    "must be an integer between 1 and",
		"gateway.auth.rateLimit.windowMs":       "must be an integer >= 1",
		"gateway.auth.rateLimit.exemptLoopback": "must be true or false",
		"gateway.auth.rateLimit.burst":          "unknown key",
		"gateway.trustedProxies[1]":             "must be an IP address or CIDR range",
		"gateway.trustedProxies[2]":             "must be a string",
		"gateway.controlUi.enabled":             "must be true or false",
		"gateway.controlUi.allowedOrigins[1]":   "must be an origin",
		"gateway.reload.mode":                   "must be one of hybrid, off",
		"gateway.frobnicate":                    "unknown key",
		"agents.defaults.heartbeat.every":       "must be a duration",
		"agents.defaults.heartbeat.ackMaxChars": "must be an integer between 0 and",
		"agents.defaults.mediaMaxMb":            "must be an integer",
		"agents.defaults.model":                 "must be a model reference",
		`agents.entries["bad id!"]`:             "invalid agent id",
		"agents.entries.ok.name":                "must be a string",
		"models.providers.x.baseUrl":            "must be an http(s) URL",
		"models.providers.x.models[0].id":       "required",
		"logging.level":                         "must be one of trace, debug, info, warn, error, fatal, silent",
		"logging.maxFiles":                      "must be an integer between 1 and 1000",
		"gatway":                                `unknown key (did you mean "gateway"?)`,
	}
	got := map[string]string{}
	for _, is := range ve.Issues {
		if _, dup := got[is.Path]; dup {
			t.Errorf("duplicate issue for %s", is.Path)
		}
		got[is.Path] = is.Message
	}
	for path, msg := range want {
		if !strings.Contains(got[path], msg) {
			t.Errorf("issue %s = %q, want it to contain %q", path, got[path], msg)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d issues, want %d: %v", len(got), len(want), ve.Issues)
	}
	text := ve.Error()
	if !strings.Contains(text, p.ConfigPath) {
		t.Errorf("error does not name the file: %s", text)
	}
	for _, is := range ve.Issues {
		if !strings.Contains(text, "\n  "+is.Path+": "+is.Message) {
			t.Errorf("error text lacks %s", is)
		}
	}
}

func TestCrossFieldRules(t *testing.T) {
	cases := []struct {
		name, text, path, msg string
	}{
		{"custom needs host", `{gateway:{bind:"custom"}}`, "gateway.customBindHost", "required when gateway.bind is custom"},
		{"custom host must be IP", `{gateway:{bind:"custom", customBindHost:"example.com"}}`, "gateway.customBindHost", "must be an IP address"},
		{"none needs loopback", `{gateway:{bind:"lan", auth:{mode:"none"}}}`, "gateway.auth.mode", "only allowed when the gateway binds to loopback"},
		{"both secrets need mode", `{gateway:{auth:{token:"a", password:"b"}}}`, "gateway.auth.mode", "must be set to token or password"},
		{"trusted-proxy", `{gateway:{auth:{mode:"trusted-proxy"}}}`, "gateway.auth.mode", "trusted-proxy is not supported"},
		{"secret ref", `{gateway:{auth:{token:{source:"env", id:"X"}}}}`, "gateway.auth.token", "SecretRef objects are not supported"},
		{"include", `{$include: "./more.json5"}`, "$include", "not supported"},
		{"root not object", `[1,2]`, "", "must be a JSON5 object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, issues, _, err := Parse([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range issues {
				if is.Path == tc.path && strings.Contains(is.Message, tc.msg) {
					return
				}
			}
			t.Fatalf("no issue %s: %q in %v", tc.path, tc.msg, issues)
		})
	}

	ok := []string{
		`{gateway:{bind:"custom", customBindHost:"127.0.0.1", auth:{mode:"none"}}}`,
		`{gateway:{bind:"auto", auth:{mode:"none"}}}`,
		`{gateway:{auth:{mode:"password", token:"a", password:"b"}}}`,
		`{gateway:{mode:"local", reload:{mode:"hot"}}}`,
		``,
		"\ufeff{}",
	}
	for _, text := range ok {
		if _, issues, _, err := Parse([]byte(text)); err != nil || len(issues) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want valid", text, issues, err)
		}
	}
}

func TestPasswordModeInferred(t *testing.T) {
	cfg, issues, _, err := Parse([]byte(`{gateway:{auth:{password:"pw"}}}`))
	if err != nil || len(issues) != 0 {
		t.Fatal(issues, err)
	}
	if cfg.Gateway.Auth.Mode != AuthModePassword {
		t.Fatalf("mode = %q, want password", cfg.Gateway.Auth.Mode)
	}
}

func TestOpenClawKeysWarnNotFail(t *testing.T) {
	cfg, issues, warnings, err := Parse([]byte(`{
  $schema: "./schema.json",
  meta: { lastTouchedVersion: "2026.9.6" },
  channels: { telegram: {} },
  hooks: { enabled: true },
  gateway: { mode: "local", tailscale: { mode: "off" }, auth: { allowTailscale: true }, controlUi: { basePath: "/x" } },
  agents: { defaults: { compaction: {} } },
  logging: { consoleStyle: "pretty" },
}`))
	if err != nil || len(issues) != 0 {
		t.Fatalf("issues = %v, err = %v", issues, err)
	}
	want := []string{"agents.defaults.compaction", "gateway.auth.allowTailscale", "gateway.controlUi.basePath", "gateway.tailscale", "logging.consoleStyle"}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Path)
		if !strings.Contains(w.Message, "ignored") {
			t.Errorf("warning %s lacks 'ignored': %q", w.Path, w.Message)
		}
	}
	for _, p := range want {
		found := false
		for _, g := range got {
			found = found || g == p
		}
		if !found {
			t.Errorf("no warning for %s (got %v)", p, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("warnings = %v, want %v", got, want)
	}
	if cfg.Gateway.Port != DefaultPort {
		t.Fatal("defaults lost")
	}
	if _, ok := cfg.Channels["telegram"]; !ok {
		t.Fatal("channels block not kept for the channel manager")
	}
}

func TestSyntaxErrorHasLineAndColumn(t *testing.T) {
	p := tempPaths(t)
	writeConfig(t, p, "{\n  gateway: {\n    port: 18789,\n    bind: @oops\n  }\n}\n")
	cfg, res, err := Load(p)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *SyntaxError", err, err)
	}
	if cfg != nil {
		t.Fatal("config returned for a syntax error")
	}
	if se.Line != 4 || se.Column != 11 {
		t.Fatalf("position = %d:%d, want 4:11 (%v)", se.Line, se.Column, err)
	}
	if !strings.Contains(err.Error(), p.ConfigPath) || !strings.Contains(err.Error(), "line 4, column 11") {
		t.Fatalf("error text: %v", err)
	}
	if len(res.Issues) != 1 || !res.Exists {
		t.Fatalf("result %+v", res)
	}

	_, _, _, err = Parse([]byte("{gateway: {port: 1}"))
	if !errors.As(err, &se) || se.Line != 1 {
		t.Fatalf("unterminated: %v", err)
	}
}

func TestApplyEnv(t *testing.T) {
	isolate(t)
	cfg, _, _, err := Parse([]byte(`{gateway:{port: 1234, auth:{token:"file"}}}`))
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv(EnvOpenClawGatewayToken, "oc-token")
	t.Setenv(EnvOpenClawGatewayPort, "2000")
	t.Setenv(EnvOpenClawGatewayPassword, "oc-pw")
	cfg.ApplyEnv()
	if cfg.Gateway.Auth.Token != "oc-token" || cfg.Gateway.Port != 2000 || cfg.Gateway.Auth.Password != "oc-pw" {
		t.Fatalf("OPENCLAW_ aliases not applied: %+v", cfg.Gateway)
	}

	t.Setenv(EnvGatewayToken, "p-token")
	t.Setenv(EnvGatewayPort, "3000")
	t.Setenv(EnvGatewayPassword, "p-pw")
	cfg.ApplyEnv()
	if cfg.Gateway.Auth.Token != "p-token" || cfg.Gateway.Port != 3000 || cfg.Gateway.Auth.Password != "p-pw" {
		t.Fatalf("PINCER_ should win: %+v", cfg.Gateway)
	}
	if cfg.Gateway.Auth.Mode != AuthModeToken {
		t.Fatalf("mode changed to %q", cfg.Gateway.Auth.Mode)
	}

	t.Setenv(EnvGatewayPort, "99999")
	cfg.ApplyEnv()
	if cfg.Gateway.Port != 3000 {
		t.Fatalf("invalid env port applied: %d", cfg.Gateway.Port)
	}
	if iss := cfg.EnvIssues(); len(iss) != 1 || iss[0].Path != EnvGatewayPort {
		t.Fatalf("EnvIssues = %v", iss)
	}

	t.Setenv(EnvGatewayURL, "")
	t.Setenv(EnvOpenClawGatewayURL, "ws://oc:1")
	if GatewayURLFromEnv() != "ws://oc:1" {
		t.Fatal("OPENCLAW_GATEWAY_URL not used")
	}
	t.Setenv(EnvGatewayURL, "ws://p:1")
	if GatewayURLFromEnv() != "ws://p:1" || GatewayTokenFromEnv() != "p-token" {
		t.Fatal("PINCER_ env should win")
	}
}

func TestApplyEnvPasswordOnlyInfersMode(t *testing.T) {
	isolate(t)
	cfg := Defaults()
	t.Setenv(EnvGatewayPassword, "pw")
	cfg.ApplyEnv()
	if cfg.Gateway.Auth.Mode != AuthModePassword {
		t.Fatalf("mode = %q", cfg.Gateway.Auth.Mode)
	}
	explicit, _, _, _ := Parse([]byte(`{gateway:{auth:{mode:"token"}}}`))
	explicit.ApplyEnv()
	if explicit.Gateway.Auth.Mode != AuthModeToken {
		t.Fatal("explicit mode overridden by env")
	}
}

func TestResolvePaths(t *testing.T) {
	home := isolate(t)

	p, err := ResolvePaths("")
	if err != nil {
		t.Fatal(err)
	}
	if p.StateDir != filepath.Join(home, ".pincer") || p.ConfigPath != filepath.Join(home, ".pincer", "pincer.json") || p.Profile != "" {
		t.Fatalf("default paths %+v", p)
	}
	if p.DBPath() != filepath.Join(home, ".pincer", "state", "pincer.sqlite") ||
		p.StoreDir() != filepath.Join(home, ".pincer", "state") ||
		p.LogPath() != filepath.Join(home, ".pincer", "logs", "gateway.log") ||
		p.LogDir() != filepath.Join(home, ".pincer", "logs") ||
		p.TokenPath() != filepath.Join(home, ".pincer", "credentials", "gateway-token") {
		t.Fatalf("derived paths wrong: %s %s %s", p.DBPath(), p.LogPath(), p.TokenPath())
	}

	p, _ = ResolvePaths("default")
	if p.StateDir != filepath.Join(home, ".pincer") {
		t.Fatalf("default profile: %+v", p)
	}

	p, err = ResolvePaths("work")
	if err != nil {
		t.Fatal(err)
	}
	if p.StateDir != filepath.Join(home, ".pincer-work") || p.ConfigPath != filepath.Join(home, ".pincer-work", "pincer.json") || p.Profile != "work" {
		t.Fatalf("profile paths %+v", p)
	}

	if _, err := ResolvePaths("../evil"); err == nil {
		t.Fatal("profile with a path separator accepted")
	}

	custom := filepath.Join(t.TempDir(), "state")
	t.Setenv(EnvStateDir, custom)
	p, _ = ResolvePaths("work")
	if p.StateDir != custom || p.ConfigPath != filepath.Join(custom, "pincer.json") {
		t.Fatalf("PINCER_STATE_DIR ignored: %+v", p)
	}

	t.Setenv(EnvConfigPath, "~/elsewhere/my.json5")
	p, _ = ResolvePaths("")
	if p.StateDir != custom || p.ConfigPath != filepath.Join(home, "elsewhere", "my.json5") {
		t.Fatalf("PINCER_CONFIG_PATH ignored: %+v", p)
	}
}

func TestEnsureToken(t *testing.T) {
	p := tempPaths(t)
	cfg := Defaults()
	tok, created, err := EnsureToken(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !created || tok == "" || cfg.Gateway.Auth.Token != tok {
		t.Fatalf("token %q created=%v", tok, created)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token is not 32 bytes base64url: %q (%v)", tok, err)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(p.TokenPath())
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("token file mode %v", st.Mode().Perm())
		}
		dst, _ := os.Stat(filepath.Dir(p.TokenPath()))
		if dst.Mode().Perm() != 0o700 {
			t.Fatalf("credentials dir mode %v", dst.Mode().Perm())
		}
	}
	left, _ := os.ReadDir(filepath.Dir(p.TokenPath()))
	if len(left) != 1 {
		t.Fatalf("temp files left behind: %v", left)
	}

	// Second start reuses the file.
	cfg2 := Defaults()
	tok2, created2, err := EnsureToken(p, cfg2)
	if err != nil || created2 || tok2 != tok {
		t.Fatalf("reuse: %q created=%v err=%v", tok2, created2, err)
	}

	// A configured token wins and the file is not consulted.
	cfg3, _, _, _ := Parse([]byte(`{gateway:{auth:{token:"configured"}}}`))
	tok3, created3, _ := EnsureToken(p, cfg3)
	if tok3 != "configured" || created3 {
		t.Fatalf("configured token: %q %v", tok3, created3)
	}

	// Other modes need no token.
	cfg4, _, _, _ := Parse([]byte(`{gateway:{auth:{mode:"none"}}}`))
	if tok4, created4, err := EnsureToken(p, cfg4); tok4 != "" || created4 || err != nil {
		t.Fatalf("mode none: %q %v %v", tok4, created4, err)
	}

	// An emptied file is replaced.
	if err := os.WriteFile(p.TokenPath(), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok5, created5, err := EnsureToken(p, Defaults())
	if err != nil || !created5 || tok5 == "" || tok5 == tok {
		t.Fatalf("empty file: %q %v %v", tok5, created5, err)
	}
}

func TestRedact(t *testing.T) {
	in := map[string]any{
		"gateway": map[string]any{
			"port": float64(18789),
			"auth": map[string]any{
				"mode":     "token",
				"token":    "t0k",
				"password": "",
				"rateLimit": map[string]any{
					"maxAttempts": float64(10),
				},
			},
			"remote": map[string]any{"token": map[string]any{"source": "env", "id": "REMOTE_TOKEN"}},
		},
		"models": map[string]any{
			"providers": map[string]any{
				"x": map[string]any{"apiKey": "sk-123", "api_key": "sk-456", "baseUrl": "http://x"},
			},
		},
		"channels": map[string]any{
			"telegram": map[string]any{"botToken": "123:abc", "accessToken": "a", "clientSecret": "c", "privateKey": "pk"},
			"list":     []any{map[string]any{"refreshToken": "r"}},
		},
		"hooks":   map[string]any{"token": "h", "defaultSessionKey": "main", "publicKey": "pub"},
		"apiKeys": []any{"k1", "k2"},
		"keys":    []any{"not", "secret"},
		"agents":  map[string]any{"defaults": map[string]any{"maxTokens": float64(4096), "contextTokens": float64(1000)}},
	}
	before, _ := json.Marshal(in)
	out := Redact(in).(map[string]any)
	after, _ := json.Marshal(in)
	if string(before) != string(after) {
		t.Fatal("Redact modified its input")
	}

	get := func(m map[string]any, path ...string) any {
		var cur any = m
		for _, p := range path {
			cur = cur.(map[string]any)[p]
		}
		return cur
	}
	S := RedactedSentinel
	checks := []struct {
		path []string
		want any
	}{
		{[]string{"gateway", "auth", "token"}, S},
		{[]string{"gateway", "auth", "password"}, ""},
		{[]string{"gateway", "auth", "mode"}, "token"},
		{[]string{"gateway", "port"}, float64(18789)},
		{[]string{"gateway", "auth", "rateLimit", "maxAttempts"}, float64(10)},
		{[]string{"gateway", "remote", "token", "id"}, "REMOTE_TOKEN"},
		{[]string{"models", "providers", "x", "apiKey"}, S},
		{[]string{"models", "providers", "x", "api_key"}, S},
		{[]string{"models", "providers", "x", "baseUrl"}, "http://x"},
		{[]string{"channels", "telegram", "botToken"}, S},
		{[]string{"channels", "telegram", "accessToken"}, S},
		{[]string{"channels", "telegram", "clientSecret"}, S},
		{[]string{"channels", "telegram", "privateKey"}, S},
		{[]string{"hooks", "token"}, S},
		{[]string{"hooks", "defaultSessionKey"}, "main"},
		{[]string{"hooks", "publicKey"}, "pub"},
		{[]string{"agents", "defaults", "maxTokens"}, float64(4096)},
		{[]string{"agents", "defaults", "contextTokens"}, float64(1000)},
	}
	for _, c := range checks {
		if got := get(out, c.path...); got != c.want {
			t.Errorf("%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if l := out["channels"].(map[string]any)["list"].([]any)[0].(map[string]any)["refreshToken"]; l != S {
		t.Errorf("token inside array not redacted: %v", l)
	}
	if !reflect.DeepEqual(out["apiKeys"], []any{S, S}) {
		t.Errorf("apiKeys = %v", out["apiKeys"])
	}
	if !reflect.DeepEqual(out["keys"], []any{"not", "secret"}) {
		t.Errorf("keys = %v", out["keys"])
	}
	if Redact("plain") != "plain" || Redact(nil) != nil {
		t.Error("scalars should pass through")
	}
}

func TestHash(t *testing.T) {
	p := tempPaths(t)
	h1, err := Hash(p, "{gateway:{port:1}}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "hmac-sha256:v1:") {
		t.Fatalf("hash %q", h1)
	}
	mac, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(h1, "hmac-sha256:v1:"))
	if err != nil || len(mac) != 32 {
		t.Fatalf("hash payload: %v %d", err, len(mac))
	}
	h2, _ := Hash(p, "{gateway:{port:1}}")
	if h1 != h2 {
		t.Fatal("hash not stable")
	}
	h3, _ := Hash(p, "{gateway:{port:2}}")
	if h3 == h1 {
		t.Fatal("hash did not change with the text")
	}
	key, err := os.ReadFile(filepath.Join(p.StateDir, "credentials", "config-hash.key"))
	if err != nil || len(key) != 32 {
		t.Fatalf("key file: %v len %d", err, len(key))
	}
	if runtime.GOOS != "windows" {
		st, _ := os.Stat(p.HashKeyPath())
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("key mode %v", st.Mode().Perm())
		}
	}

	// A different install (another key) hashes the same text differently.
	other := tempPaths(t)
	h4, _ := Hash(other, "{gateway:{port:1}}")
	if h4 == h1 {
		t.Fatal("hash is not keyed per install")
	}
}

func TestListenAddr(t *testing.T) {
	cases := []struct {
		text, want string
		err        bool
	}{
		{`{}`, "127.0.0.1:18789", false},
		{`{gateway:{bind:"auto", port: 1}}`, "127.0.0.1:1", false},
		{`{gateway:{bind:"lan"}}`, "0.0.0.0:18789", false},
		{`{gateway:{bind:"custom", customBindHost:"192.168.1.5"}}`, "192.168.1.5:18789", false},
		{`{gateway:{bind:"custom", customBindHost:"::1"}}`, "[::1]:18789", false},
		{`{gateway:{bind:"tailnet"}}`, "", true},
	}
	for _, c := range cases {
		cfg, issues, _, err := Parse([]byte(c.text))
		if err != nil || len(issues) != 0 {
			t.Fatalf("%s: %v %v", c.text, issues, err)
		}
		got, err := cfg.ListenAddr()
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%s: ListenAddr = %q, %v", c.text, got, err)
		}
	}
}

func TestSchemaAndJSON(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatal(err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$schema = %v", s["$schema"])
	}
	if !strings.Contains(string(Schema()), `"trustedProxies"`) || !strings.Contains(string(Schema()), `"exemptLoopback"`) {
		t.Fatal("schema lacks fields")
	}
	first, second := Schema(), Schema()
	if &first[0] != &second[0] {
		t.Fatal("schema not cached")
	}

	// The effective config is itself a valid config file.
	cfg, issues, _, err := Parse([]byte(`{gateway:{port:1234, trustedProxies:["10.0.0.0/8"]}, agents:{entries:{ops:{model:"a/b"}}}}`))
	if err != nil || len(issues) != 0 {
		t.Fatal(issues, err)
	}
	again, issues, warnings, err := Parse(cfg.JSON())
	if err != nil || len(issues) != 0 || len(warnings) != 0 {
		t.Fatalf("JSON() does not re-parse cleanly: %v %v %v\n%s", issues, warnings, err, cfg.JSON())
	}
	if string(again.JSON()) != string(cfg.JSON()) {
		t.Fatalf("round trip changed the config:\n%s\n%s", cfg.JSON(), again.JSON())
	}
}

func TestDeepNestingRejected(t *testing.T) {
	deep := "{a:" + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}"
	_, _, _, err := Parse([]byte(deep))
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "nesting") {
		t.Fatalf("err = %v", err)
	}
	// Brackets inside strings and comments do not count.
	text := `{gateway: {auth: {token: "` + strings.Repeat("[", 1000) + `"}} /* ` + strings.Repeat("{", 1000) + ` */}`
	if _, issues, _, err := Parse([]byte(text)); err != nil || len(issues) != 0 {
		t.Fatalf("false positive: %v %v", issues, err)
	}
}

func TestAgentToolSettings(t *testing.T) {
	p := tempPaths(t)
	writeConfig(t, p, `{agents: {
  defaults: {tools: {deny: ["web_*"], exec: {mode: "allowlist", allowlist: ["ls", "git"]}}},
  entries: {ops: {tools: {allow: ["exec", "read"], exec: {mode: "ask"}}}},
}}`)
	cfg, _, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Agents.Defaults.Tools
	if len(d.Deny) != 1 || d.Exec.Mode != "allowlist" || len(d.Exec.Allowlist) != 2 {
		t.Fatalf("defaults.tools = %+v", d)
	}
	e := cfg.Agents.Entries["ops"].Tools
	if e == nil || len(e.Allow) != 2 || e.Exec.Mode != "ask" {
		t.Fatalf("entries.ops.tools = %+v", e)
	}
	writeConfig(t, p, `{agents: {defaults: {tools: {exec: {mode: "yolo"}}}}}`)
	if _, _, err := Load(p); err == nil || !strings.Contains(err.Error(), "agents.defaults.tools.exec.mode") {
		t.Fatalf("bad exec mode: %v", err)
	}
}

func TestMCPServers(t *testing.T) {
	p := tempPaths(t)
	writeConfig(t, p, `{mcp: {servers: {
  docs: {command: "uvx", args: ["mcp-server-fetch"], env: {A: "1"}},
  remote: {url: "https://example.com/mcp", transport: "streamable-http", headers: {Authorization: "Bearer x"},
           toolFilter: {include: ["search*"]}, enabled: false},
}}}`)
	cfg, _, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d, r := cfg.MCP.Servers["docs"], cfg.MCP.Servers["remote"]
	if d.Command != "uvx" || len(d.Args) != 1 || d.Env["A"] != "1" || r.URL == "" || r.Headers["Authorization"] == "" ||
		len(r.ToolFilter.Include) != 1 || r.Enabled == nil || *r.Enabled {
		t.Fatalf("mcp = %+v", cfg.MCP)
	}
	writeConfig(t, p, `{mcp: {servers: {bad: {}, worse: {url: "ftp://x"}}}}`)
	_, _, err = Load(p)
	if err == nil || !strings.Contains(err.Error(), "mcp.servers.bad") || !strings.Contains(err.Error(), "mcp.servers.worse.url") {
		t.Fatalf("bad servers: %v", err)
	}
}
