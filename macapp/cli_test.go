package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pincerhq/pincer/core/client/clienttest"
	"github.com/pincerhq/pincer/core/config"
	"github.com/pincerhq/pincer/core/daemon"
	"github.com/pincerhq/pincer/core/protocol"
)

// isolate points the state directory at a temp dir and clears every
// environment variable the CLI reads.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(config.EnvStateDir, dir)
	for _, k := range []string{
		config.EnvConfigPath,
		config.EnvGatewayURL, config.EnvOpenClawGatewayURL,
		config.EnvGatewayToken, config.EnvOpenClawGatewayToken,
		config.EnvGatewayPassword, config.EnvOpenClawGatewayPassword,
		config.EnvGatewayPort, config.EnvOpenClawGatewayPort,
	} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type cliResult struct {
	code           int
	stdout, stderr string
	daemonOpts     *daemon.Options
}

func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runCLIWithStdin(t, "", args...)
}

// runCLIWithStdin runs the CLI with stdin holding input.
func runCLIWithStdin(t *testing.T, input string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	var res cliResult
	a := &app{stdin: strings.NewReader(input), stdout: &out, stderr: &errOut, runDaemon: func(ctx context.Context, opt daemon.Options) error {
		res.daemonOpts = &opt
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res.code = a.execute(ctx, args)
	res.stdout, res.stderr = out.String(), errOut.String()
	return res
}

func TestResolveTargetPrecedence(t *testing.T) {
	dir := isolate(t)
	p, err := config.ResolvePaths("")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p.TokenPath(), "filetok\n")

	check := func(name string, f clientFlags, wantURL, wantToken, wantSource string) {
		t.Helper()
		got, err := resolveTarget("", &f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.URL != wantURL || got.Token != wantToken || got.TokenSource != wantSource {
			t.Errorf("%s: got url %q token %q (%s), want %q %q (%s)", name, got.URL, got.Token, got.TokenSource, wantURL, wantToken, wantSource)
		}
	}

	// Zero config: default port and the gateway's generated token file.
	check("zero config", clientFlags{}, "ws://127.0.0.1:18789", "filetok", "token file")

	// The config's port and token beat the defaults and the token file.
	writeFile(t, filepath.Join(dir, config.ConfigFileName), `{gateway: {port: 19001, auth: {token: "cfgtok"}}}`)
	check("config", clientFlags{}, "ws://127.0.0.1:19001", "cfgtok", "config")

	// Port from the environment (as the gateway itself reads it).
	t.Setenv(config.EnvOpenClawGatewayPort, "19002")
	check("env port", clientFlags{}, "ws://127.0.0.1:19002", "cfgtok", "config")

	// Environment token beats the config; PINCER_ beats OPENCLAW_.
	t.Setenv(config.EnvOpenClawGatewayToken, "octok")
	check("openclaw env token", clientFlags{}, "ws://127.0.0.1:19002", "octok", "environment")
	t.Setenv(config.EnvGatewayToken, "envtok")
	check("pincer env token", clientFlags{}, "ws://127.0.0.1:19002", "envtok", "environment")

	// Environment URL beats the config port; PINCER_ beats OPENCLAW_.
	t.Setenv(config.EnvOpenClawGatewayURL, "ws://127.0.0.1:20000")
	check("openclaw env url", clientFlags{}, "ws://127.0.0.1:20000", "envtok", "environment")
	t.Setenv(config.EnvGatewayURL, "ws://localhost:20001/gw")
	check("pincer env url", clientFlags{}, "ws://localhost:20001/gw", "envtok", "environment")

	// Flags beat everything.
	check("flags", clientFlags{url: "127.0.0.1:20002", token: "flagtok"}, "ws://127.0.0.1:20002", "flagtok", "flags")
	got, _ := resolveTarget("", &clientFlags{password: "pw"})
	if got.Password != "pw" || got.Token != "" {
		t.Errorf("--password alone: %+v", got)
	}

	// The local config and token file are never sent to a remote gateway.
	os.Unsetenv(config.EnvGatewayToken)
	os.Unsetenv(config.EnvOpenClawGatewayToken)
	check("remote url", clientFlags{url: "wss://gw.example.com"}, "wss://gw.example.com", "", "")
	check("loopback url", clientFlags{url: "http://[::1]:9"}, "ws://[::1]:9", "cfgtok", "config")
	t.Setenv(config.EnvGatewayToken, "envtok")
	check("remote url env token", clientFlags{url: "wss://gw.example.com"}, "wss://gw.example.com", "envtok", "environment")

	if _, err := resolveTarget("", &clientFlags{url: "ftp://x"}); err == nil {
		t.Error("ftp URL accepted")
	}
}

func TestResolveTargetPasswordFromConfig(t *testing.T) {
	dir := isolate(t)
	writeFile(t, filepath.Join(dir, config.ConfigFileName), `{gateway: {auth: {mode: "password", password: "cfgpw"}}}`)
	got, err := resolveTarget("", &clientFlags{})
	if err != nil || got.Password != "cfgpw" || got.Token != "" {
		t.Fatalf("%+v %v", got, err)
	}
	t.Setenv(config.EnvGatewayPassword, "envpw")
	got, _ = resolveTarget("", &clientFlags{})
	if got.Password != "envpw" {
		t.Fatalf("%+v", got)
	}
}

func TestResolveTargetBadConfigStillConnects(t *testing.T) {
	dir := isolate(t)
	writeFile(t, filepath.Join(dir, config.ConfigFileName), `{gateway: {port: "nope"}, bogusKey: 1}`)
	got, err := resolveTarget("", &clientFlags{})
	if err != nil || got.URL != "ws://127.0.0.1:18789" || len(got.Warnings) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
}

// The official gateway's health result, from wire/cli-status-deep.log.
const officialHealth = `{"ok":true,"ts":1795310845313,"durationMs":10,"plugins":{"loaded":["anthropic","browser"],"errors":[],"unavailable":[]},"configReload":{"hotReloadStatus":"active"},"channels":{},"channelOrder":[],"channelLabels":{},"heartbeatSeconds":1800,"defaultAgentId":"main","agents":[{"agentId":"main","isDefault":true,"heartbeat":{"enabled":true,"every":"30m","everyMs":1800000,"prompt":"…","target":"owner","ackMaxChars":300},"sessions":{"path":"/home/user/.openclaw/agents/main/agent/openclaw-agent.sqlite","count":0,"recent":[]}}],"sessions":{"path":"/home/user/.openclaw/agents/main/agent/openclaw-agent.sqlite","count":0,"recent":[]},"modelRuntime":{"degraded":false,"pendingAgents":[]},"eventLoop":{"degraded":false,"degradedSinceMs":null,"reasons":[],"intervalMs":1012.26,"delayP99Ms":23,"delayMaxMs":23,"utilization":0.004,"cpuCoreRatio":0.005}}`

func TestPrintHealth(t *testing.T) {
	hello := &protocol.HelloOk{Server: protocol.HelloServer{Version: "2026.9.6"}, Snapshot: protocol.Snapshot{UptimeMs: 2*3600_000 + 14*60_000 + 5_000}}
	var b bytes.Buffer
	if err := printHealth(&b, healthView{URL: "ws://127.0.0.1:18789", Hello: hello, Payload: json.RawMessage(officialHealth), RoundTrip: 15 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	want := `Gateway OK  ws://127.0.0.1:18789
  Version   2026.9.6
  Uptime    2h 14m
  Agents    main (default, heartbeat 30m, 0 sessions)
  Channels  none
  Duration  10ms (round trip 15ms)
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}

	// Degraded, with channels and plugin errors, no hello.
	degraded := `{"ok":true,"durationMs":1200,"eventLoop":{"degraded":true,"reasons":["event_loop_delay","cpu"]},
	 "channels":{"telegram":{"configured":true,"running":true,"connected":true},"slack":{"configured":true,"lastError":"invalid_auth"},"zz":{}},
	 "channelOrder":["telegram","slack"],"channelLabels":{"telegram":"Telegram","slack":"Slack"},
	 "agents":[{"agentId":"main","isDefault":true,"heartbeat":{"enabled":false},"sessions":{"count":1}},{"agentId":"ops","isDefault":false,"sessions":{"count":3}}],
	 "modelRuntime":{"degraded":true,"pendingAgents":["ops"]},
	 "plugins":{"errors":[{"id":"x","error":"boom"}]}}`
	b.Reset()
	if err := printHealth(&b, healthView{URL: "ws://h:1", Payload: json.RawMessage(degraded)}); err != nil {
		t.Fatal(err)
	}
	want = `Gateway DEGRADED  ws://h:1
  Agents         main (default, 1 session), ops (3 sessions)
  Channels       Telegram (connected), Slack (error: invalid_auth), zz (unknown)
  Event loop     degraded: event_loop_delay, cpu
  Models         waiting for a model runtime: ops
  Plugin errors  x: boom
  Duration       1s
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}

	if err := printHealth(&b, healthView{Payload: json.RawMessage(`[]`)}); err == nil {
		t.Fatal("array accepted as health")
	}
}

// The official gateway's status result (shortened), from
// wire/cli-status-deep.log, plus the fields Pincer adds.
const officialStatus = `{"runtimeVersion":"2026.9.6","hostDesktop":{"enabled":false,"state":"disabled","port":5900},"heartbeat":{"defaultAgentId":"main","agents":[{"agentId":"main","enabled":true,"every":"30m","everyMs":1800000,"waitingForRoute":true}]},"channelSummary":[],"queuedSystemEvents":[],"degradedSecretOwners":[],"degradedPlugins":[],"tasks":{"total":0,"active":0,"terminal":0,"failures":0},"sessions":{"paths":[],"count":0,"defaults":{"model":null,"contextTokens":null},"recent":[],"byAgent":[]},"modelRuntime":{"degraded":false,"pendingAgents":[]},"eventLoop":{"degraded":false,"degradedSinceMs":null,"reasons":[],"delayP99Ms":28},"processMemory":{"rssBytes":720465920,"heapUsedBytes":219918496,"heapTotalBytes":324550656},"pid":4242`

func TestPrintStatus(t *testing.T) {
	var b bytes.Buffer
	hello := &protocol.HelloOk{Snapshot: protocol.Snapshot{UptimeMs: 90_000}}
	if err := printStatus(&b, "ws://127.0.0.1:18789", hello, json.RawMessage(officialStatus+`}`)); err != nil {
		t.Fatal(err)
	}
	want := `Gateway     ws://127.0.0.1:18789
Version     2026.9.6
PID         4242
Uptime      1m 30s
Memory RSS  687.1 MiB (heap 209.7 MiB)
Heartbeat   main: every 30m (waiting for a route)
Sessions    0
Tasks       0 active, 0 total
Event loop  ok (p99 delay 28.0ms)
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	pincer := officialStatus + `,"uptimeMs":266400000,"connections":3,"configPath":"/home/u/.pincer/pincer.json"}`
	if err := printStatus(&b, "ws://x:1", nil, json.RawMessage(pincer)); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Uptime       3d 2h\n", "Connections  3\n", "Config       /home/u/.pincer/pincer.json\n"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("missing %q in\n%s", line, b.String())
		}
	}
}

func TestFormatHelpers(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond: "850ms", 12 * time.Second: "12s", 185 * time.Second: "3m 5s",
		(2*60 + 14) * time.Minute: "2h 14m", 76 * time.Hour: "3d 4h",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 1536: "1.5 KiB", 720465920: "687.1 MiB", 3 << 30: "3.0 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	line := `{"time":"2026-11-22T03:06:23.528Z","level":"INFO","msg":"gateway listening","url":"ws://127.0.0.1:18789","n":3,"q":"a b"}`
	got := formatLogLine(line)
	if !strings.HasSuffix(got, `INFO  gateway listening n=3 q="a b" url=ws://127.0.0.1:18789`) || !strings.HasPrefix(got, "2026-11-2") {
		t.Errorf("formatLogLine: %q", got)
	}
	if got := formatLogLine("plain text"); got != "plain text" {
		t.Errorf("plain line: %q", got)
	}
}

func TestDurationFlag(t *testing.T) {
	var d time.Duration
	v := (*durationValue)(&d)
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "2m": 2 * time.Minute, "1500": 1500 * time.Millisecond} {
		if err := v.Set(in); err != nil || d != want {
			t.Errorf("%q: %s %v", in, d, err)
		}
	}
	for _, bad := range []string{"0", "-1s", "soon"} {
		if err := v.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	isolate(t)
	for _, args := range [][]string{
		{"nope"},
		{"health", "--bogus"},
		{"health", "extra"},
		{"call"},
		{"call", "a", "b"},
		{"call", "health", "--params", "{bad"},
		{"health", "--timeout", "soon"},
		{"logs", "--limit", "0"},
		{"gateway", "run", "--bind", "everywhere"},
		{"gateway", "run", "--auth", "magic"},
		{"gateway", "run", "--port", "70000"},
		{"config", "nope"},
	} {
		r := runCLI(t, args...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "--help' for usage") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestGatewayRunPassesOptions(t *testing.T) {
	isolate(t)
	r := runCLI(t, "--profile", "work", "gateway", "run", "--port", "19123", "--bind", "lan", "--auth", "password", "--password", "pw", "--verbose")
	if r.code != 0 || r.daemonOpts == nil {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	o := *r.daemonOpts
	if o.Profile != "work" || o.Port != 19123 || o.Bind != "lan" || o.AuthMode != "password" || o.Password != "pw" || !o.Verbose ||
		o.Console == nil || o.Stdout == nil {
		t.Fatalf("options %+v", o)
	}
	r = runCLI(t, "gateway", "run")
	if o := r.daemonOpts; r.code != 0 || o.Port != 0 || o.Bind != "" || o.AuthMode != "" || o.Token != "" {
		t.Fatalf("defaults %+v", o)
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "pincer ") || !strings.Contains(r.stdout, "protocol 4") {
		t.Fatalf("%+v", r)
	}
}

func TestConfigPathAndValidate(t *testing.T) {
	dir := isolate(t)
	cfgPath := filepath.Join(dir, config.ConfigFileName)
	r := runCLI(t, "config", "path")
	if r.code != 0 || r.stdout != cfgPath+"\n" {
		t.Fatalf("config path: %+v", r)
	}
	r = runCLI(t, "config", "path", "--json")
	var paths map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &paths); err != nil || paths["stateDir"] != dir || paths["tokenPath"] == "" {
		t.Fatalf("config path --json: %s %v", r.stdout, err)
	}

	r = runCLI(t, "config", "validate")
	if r.code != 0 || !strings.Contains(r.stdout, "No config file") {
		t.Fatalf("validate without file: %+v", r)
	}
	writeFile(t, cfgPath, `{gateway: {port: 19001}}`)
	r = runCLI(t, "config", "validate")
	if r.code != 0 || r.stdout != "Config OK: "+cfgPath+"\n" {
		t.Fatalf("validate ok: %+v", r)
	}
	writeFile(t, cfgPath, `{gateway: {port: 0, bind: "moon"}}`)
	r = runCLI(t, "config", "validate")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, "gateway.port") || !strings.Contains(r.stderr, "gateway.bind") {
		t.Fatalf("validate invalid: %+v", r)
	}
	r = runCLI(t, "config", "validate", "--json")
	var v struct {
		Valid  bool
		Issues []config.Issue
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 1 || v.Valid || len(v.Issues) != 2 || r.stderr != "" {
		t.Fatalf("validate --json: %+v %v", r, err)
	}
	writeFile(t, cfgPath, `{gateway: {port: 1`)
	r = runCLI(t, "config", "validate")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "Error: ") {
		t.Fatalf("validate syntax error: %+v", r)
	}
}

// fakeGateway is the clienttest server with the methods the CLI uses.
func fakeGateway(t *testing.T, token string) *clienttest.Server {
	return clienttest.NewServer(t, clienttest.Config{
		Token: token,
		Methods: map[string]clienttest.Handler{
			"health": func(r *clienttest.Request) (any, error) { return json.RawMessage(officialHealth), nil },
			"status": func(r *clienttest.Request) (any, error) {
				if string(r.Params) != `{"includeChannelSummary":false}` {
					return nil, protocol.InvalidParams("status", string(r.Params))
				}
				return json.RawMessage(officialStatus + `}`), nil
			},
			"echo": func(r *clienttest.Request) (any, error) {
				return map[string]any{"params": r.Params, "scopes": r.Conn.Params.Scopes}, nil
			},
			"config.set": func(r *clienttest.Request) (any, error) { return nil, protocol.MissingScope(protocol.ScopeAdmin) },
			"agent": func(r *clienttest.Request) (any, error) {
				_ = r.Ack(map[string]any{"runId": "r1", "status": "accepted"})
				return map[string]any{"runId": "r1", "status": "ok"}, nil
			},
			"config.get": func(r *clienttest.Request) (any, error) {
				return protocol.ConfigGetResult{Path: "/x/pincer.json", Exists: true, Valid: true, Hash: "hmac-sha256:v1:abc",
					Config:   json.RawMessage(`{"gateway":{"port":18789,"auth":{"token":"__OPENCLAW_REDACTED__"}}}`),
					Warnings: []protocol.ConfigIssue{{Path: "tools", Message: "not implemented by Pincer; ignored"}}}, nil
			},
		},
	})
}

func TestHealthAndStatusAgainstFakeGateway(t *testing.T) {
	dir := isolate(t)
	srv := fakeGateway(t, "secret")
	u, _ := url.Parse(srv.URL)
	// Zero config: the port comes from the environment, the token from the
	// gateway's token file.
	t.Setenv(config.EnvGatewayPort, u.Port())
	writeFile(t, filepath.Join(dir, "credentials", "gateway-token"), "secret\n")
	p, _ := config.ResolvePaths("")
	if p.TokenPath() != filepath.Join(dir, "credentials", "gateway-token") {
		t.Skipf("token path moved to %s", p.TokenPath())
	}

	r := runCLI(t, "health")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Gateway OK  ws://127.0.0.1:"+u.Port()+"\n") || !strings.Contains(r.stdout, "Agents    main (default") {
		t.Fatalf("health: %+v", r)
	}
	c := srv.Connects()[0].Parsed
	if c.Client.ID != "cli" || c.Client.Mode != "cli" || !reflect.DeepEqual(c.Scopes, []string{"operator.read"}) {
		t.Fatalf("health connect: %+v", c)
	}

	r = runCLI(t, "health", "--json")
	var h map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &h) != nil || h["defaultAgentId"] != "main" || !strings.Contains(r.stdout, "\n  \"ok\": true") {
		t.Fatalf("health --json: %+v", r)
	}

	r = runCLI(t, "status")
	if r.code != 0 || !strings.Contains(r.stdout, "Memory RSS  687.1 MiB") {
		t.Fatalf("status: %+v", r)
	}
	r = runCLI(t, "status", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"rssBytes": 720465920`) {
		t.Fatalf("status --json: %+v", r)
	}

	r = runCLI(t, "config", "get")
	if r.code != 0 || !strings.Contains(r.stdout, "Path   /x/pincer.json\n") || !strings.Contains(r.stdout, "  - tools: not implemented") ||
		!strings.Contains(r.stdout, `"token": "__OPENCLAW_REDACTED__"`) {
		t.Fatalf("config get: %+v", r)
	}
	r = runCLI(t, "config", "get", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"hash": "hmac-sha256:v1:abc"`) {
		t.Fatalf("config get --json: %+v", r)
	}

	// A wrong token: exit 1, the message and the detail code.
	r = runCLI(t, "health", "--token", "wrong")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "Error: unauthorized: gateway token mismatch") || !strings.Contains(r.stderr, "[AUTH_TOKEN_MISMATCH]") {
		t.Fatalf("wrong token: %+v", r)
	}
}

func TestCallAgainstFakeGateway(t *testing.T) {
	isolate(t)
	srv := fakeGateway(t, "T")
	base := []string{"--url", srv.URL, "--token", "T"}

	r := runCLI(t, append([]string{"call", "echo", "--params", `{"a":[1,2]}`}, base...)...)
	var out struct {
		Params json.RawMessage
		Scopes []string
	}
	var compact bytes.Buffer
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || json.Compact(&compact, out.Params) != nil || compact.String() != `{"a":[1,2]}` {
		t.Fatalf("call: %+v", r)
	}
	if !reflect.DeepEqual(out.Scopes, protocol.CLIDefaultScopes) {
		t.Fatalf("call scopes %v", out.Scopes)
	}
	if !strings.HasPrefix(r.stdout, "{\n  \"params\": {\n") {
		t.Fatalf("not pretty: %q", r.stdout)
	}

	r = runCLI(t, append([]string{"call", "agent", "--expect-final"}, base...)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"status": "ok"`) {
		t.Fatalf("expect-final: %+v", r)
	}
	r = runCLI(t, append([]string{"call", "agent"}, base...)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"status": "accepted"`) {
		t.Fatalf("ack only: %+v", r)
	}

	r = runCLI(t, append([]string{"call", "config.set", "--params", "{}"}, base...)...)
	if r.code != 1 || r.stderr != "Error: missing scope: operator.admin [MISSING_SCOPE]\nHint: this connection was not granted the scope the method needs.\n" {
		t.Fatalf("error res: %+v", r)
	}
	r = runCLI(t, append([]string{"call", "nope"}, base...)...)
	if r.code != 1 || r.stderr != "Error: unknown method: nope [INVALID_REQUEST]\n" {
		t.Fatalf("unknown method: %+v", r)
	}

	// Nothing listening.
	srv.Close()
	r = runCLI(t, append([]string{"call", "health", "--timeout", "2s"}, base...)...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "Error: no gateway is listening at "+srv.URL) {
		t.Fatalf("no gateway: %+v", r)
	}
}

func TestLogsFollow(t *testing.T) {
	isolate(t)
	var mu sync.Mutex
	var calls []string
	lines := []string{
		`{"time":"2026-11-22T03:06:23Z","level":"INFO","msg":"one"}`,
		`{"time":"2026-11-22T03:06:24Z","level":"WARN","msg":"two","k":"v"}`,
		`not json`,
	}
	srv := clienttest.NewServer(t, clienttest.Config{Methods: map[string]clienttest.Handler{
		"logs.tail": func(r *clienttest.Request) (any, error) {
			var p protocol.LogsTailParams
			_ = json.Unmarshal(r.Params, &p)
			mu.Lock()
			calls = append(calls, string(r.Params))
			n := len(calls)
			mu.Unlock()
			switch {
			case p.Cursor == nil:
				return protocol.LogsTailResult{File: "g.log", Cursor: 100, Size: 100, Lines: lines[:2]}, nil
			case *p.Cursor == 100 && n == 2:
				return protocol.LogsTailResult{File: "g.log", Cursor: 100, Size: 100, Lines: []string{}}, nil
			default:
				return protocol.LogsTailResult{File: "g.log", Cursor: 120, Size: 120, Lines: lines[2:]}, nil
			}
		},
	}})

	r := runCLI(t, "logs", "--url", srv.URL, "-n", "2", "--json")
	if r.code != 0 || r.stdout != lines[0]+"\n"+lines[1]+"\n" {
		t.Fatalf("logs --json: %+v", r)
	}
	mu.Lock()
	if calls[0] != `{"limit":2}` {
		t.Fatalf("first params %s", calls[0])
	}
	calls = nil
	mu.Unlock()

	var out, errOut bytes.Buffer
	a := &app{stdout: &out, stderr: &errOut}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- a.runLogs(ctx, &clientFlags{url: srv.URL, timeout: 5 * time.Second}, true, 10, 10*time.Millisecond)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("follow did not poll")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[0] != `{"limit":10}` || calls[1] != `{"cursor":100}` || calls[2] != `{"cursor":100}` {
		t.Fatalf("follow params %v", calls)
	}
	got := out.String()
	if !strings.Contains(got, "INFO  one\n") || !strings.Contains(got, "WARN  two k=v\n") || !strings.HasSuffix(got, "not json\n") {
		t.Fatalf("follow output %q", got)
	}
}
