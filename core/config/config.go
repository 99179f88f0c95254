package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Defaults that the rest of the gateway relies on.
const (
	DefaultPort            = 18789
	DefaultBind            = BindLoopback
	DefaultAuthMode        = AuthModeToken
	DefaultReloadMode      = ReloadHybrid
	DefaultMaxAttempts     = 10
	DefaultWindowMs        = 60_000
	DefaultLockoutMs       = 300_000
	DefaultHeartbeatEvery  = "30m"
	DefaultHeartbeatTarget = "owner"
	DefaultAckMaxChars     = 300
	DefaultMediaMaxMb      = 20
	DefaultLogLevel        = "info"
	DefaultLogMaxFileBytes = 10 << 20
	DefaultLogMaxFiles     = 5
	MainAgentID            = "main"
)

// gateway.bind values.
const (
	BindLoopback = "loopback"
	BindLAN      = "lan"
	BindAuto     = "auto"
	BindCustom   = "custom"
	BindTailnet  = "tailnet"
)

// gateway.auth.mode values.
const (
	AuthModeToken    = "token"
	AuthModePassword = "password"
	AuthModeNone     = "none"
)

// gateway.reload.mode values.
const (
	ReloadHybrid = "hybrid"
	ReloadOff    = "off"
)

// Config is the effective configuration: the file merged over Defaults.
type Config struct {
	Gateway GatewayConfig `json:"gateway"`
	Agents  AgentsConfig  `json:"agents"`
	Models  ModelsConfig  `json:"models"`
	MCP     MCPConfig     `json:"mcp"`
	// Channels is channels.<id> as written; each channel plugin reads its block.
	Channels map[string]any `json:"channels,omitempty"`
	// Bindings route inbound messages to agents (core/routing reads them).
	Bindings []any `json:"bindings,omitempty"`
	// Messages is messages.* as written (core/channels reads
	// messages.inbound.debounceMs / byChannel).
	Messages map[string]any `json:"messages,omitempty"`
	// Commands is commands.* as written (core/channels reads
	// commands.ownerAllowFrom).
	Commands map[string]any `json:"commands,omitempty"`
	// Hooks is hooks.* as written (webhooks on the gateway port).
	Hooks map[string]any `json:"hooks,omitempty"`
	// CanvasHost is canvasHost.* as written (the agent canvas host).
	CanvasHost map[string]any `json:"canvasHost,omitempty"`
	Session    SessionConfig  `json:"session"`
	Logging    LoggingConfig  `json:"logging"`
	// Raw is the parsed document as written (for config.get); nil when
	// there is no file.
	Raw map[string]any `json:"-"`

	envIssues []Issue
}

// GatewayConfig is gateway.*.
type GatewayConfig struct {
	Port           int             `json:"port" jsonschema:"minimum=1,maximum=65535,default=18789"`
	Bind           string          `json:"bind" jsonschema:"enum=loopback,enum=lan,enum=auto,enum=custom,enum=tailnet,default=loopback"`
	CustomBindHost string          `json:"customBindHost,omitempty"`
	Auth           AuthConfig      `json:"auth"`
	TrustedProxies []string        `json:"trustedProxies,omitempty"`
	ControlUI      ControlUIConfig `json:"controlUi"`
	Reload         ReloadConfig    `json:"reload"`
	Nodes          map[string]any  `json:"nodes,omitempty"`
	// HTTP is gateway.http.* as written (endpoints.chatCompletions|
	// responses.enabled for the OpenAI-compatible API).
	HTTP map[string]any `json:"http,omitempty"`
	// Tools is gateway.tools.* as written (allow/deny for /tools/invoke).
	Tools map[string]any `json:"tools,omitempty"`
}

// AuthConfig is gateway.auth.*.
type AuthConfig struct {
	Mode      string          `json:"mode" jsonschema:"enum=token,enum=password,enum=none,default=token"`
	Token     string          `json:"token,omitempty"`
	Password  string          `json:"password,omitempty"`
	RateLimit RateLimitConfig `json:"rateLimit"`

	// modeSet records that the file chose the mode, so ApplyEnv may still
	// infer password mode from a password supplied only by the environment.
	modeSet bool
}

// RateLimitConfig is gateway.auth.rateLimit.* (failed-auth limiter).
type RateLimitConfig struct {
	MaxAttempts    int   `json:"maxAttempts" jsonschema:"minimum=1,default=10"`
	WindowMs       int64 `json:"windowMs" jsonschema:"minimum=1,default=60000"`
	LockoutMs      int64 `json:"lockoutMs" jsonschema:"minimum=0,default=300000"`
	ExemptLoopback *bool `json:"exemptLoopback" jsonschema:"default=true"`
}

// ControlUIConfig is gateway.controlUi.*.
type ControlUIConfig struct {
	Enabled        *bool    `json:"enabled" jsonschema:"default=true"`
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`
}

// ReloadConfig is gateway.reload.*.
type ReloadConfig struct {
	Mode string `json:"mode" jsonschema:"enum=hybrid,enum=off,default=hybrid"`
}

// AgentsConfig is agents.*.
type AgentsConfig struct {
	Defaults AgentDefaults         `json:"defaults"`
	Entries  map[string]AgentEntry `json:"entries"`
}

// AgentDefaults is agents.defaults.*.
type AgentDefaults struct {
	Model      ModelRef          `json:"model"`
	Heartbeat  HeartbeatSettings `json:"heartbeat"`
	MediaMaxMb int               `json:"mediaMaxMb" jsonschema:"minimum=1,default=20"`
	Tools      ToolsSettings     `json:"tools"`
}

// ToolsSettings is agents.defaults.tools / agents.entries.<id>.tools: which
// tools an agent may use (deny wins; "*" wildcards) and the exec policy.
type ToolsSettings struct {
	Allow []string     `json:"allow,omitempty"`
	Deny  []string     `json:"deny,omitempty"`
	Exec  ExecSettings `json:"exec"`
}

// ExecSettings is the exec tool's approvals policy.
type ExecSettings struct {
	// Mode: deny (never run), allowlist (only Allowlist commands), ask
	// (allowlisted commands run; others wait for an operator's approval).
	Mode      string   `json:"mode,omitempty" jsonschema:"enum=deny,enum=allowlist,enum=ask,default=ask"`
	Allowlist []string `json:"allowlist,omitempty"`
}

// ModelRef names a primary model and its ordered fallbacks ("provider/model").
// In the file it may also be written as a plain string (primary only).
type ModelRef struct {
	Primary   string   `json:"primary,omitempty"`
	Fallbacks []string `json:"fallbacks,omitempty"`
}

// HeartbeatSettings is agents.defaults.heartbeat.*.
type HeartbeatSettings struct {
	Every       string `json:"every" jsonschema:"default=30m"`
	Prompt      string `json:"prompt,omitempty"`
	Target      string `json:"target" jsonschema:"default=owner"`
	AckMaxChars int    `json:"ackMaxChars" jsonschema:"minimum=0,default=300"`
}

// AgentEntry is agents.entries.<id>.
type AgentEntry struct {
	Name      string         `json:"name,omitempty"`
	Workspace string         `json:"workspace,omitempty"`
	Model     *ModelRef      `json:"model,omitempty"`
	Avatar    string         `json:"avatar,omitempty"`
	Tools     *ToolsSettings `json:"tools,omitempty"`
}

// ModelsConfig is models.*.
type ModelsConfig struct {
	Providers map[string]ProviderConfig `json:"providers,omitempty"`
}

// ProviderConfig is models.providers.<id>.
type ProviderConfig struct {
	BaseURL string          `json:"baseUrl,omitempty"`
	APIKey  string          `json:"apiKey,omitempty"`
	API     string          `json:"api,omitempty"`
	Models  []ProviderModel `json:"models,omitempty"`
}

// ProviderModel is one entry of models.providers.<id>.models.
type ProviderModel struct {
	ID            string `json:"id" jsonschema:"minLength=1"`
	Name          string `json:"name,omitempty"`
	ContextWindow int64  `json:"contextWindow,omitempty" jsonschema:"minimum=0"`
	Reasoning     bool   `json:"reasoning,omitempty"`
}

// SessionConfig is session.*.
type SessionConfig struct {
	// DMScope maps direct messages to sessions: main (one shared session),
	// per-peer, per-channel-peer or per-account-channel-peer.
	DMScope string `json:"dmScope,omitempty" jsonschema:"enum=main,enum=per-peer,enum=per-channel-peer,enum=per-account-channel-peer,default=main"`
}

// MCPConfig is mcp.*: MCP servers whose tools the agents may use.
type MCPConfig struct {
	Servers map[string]MCPServer `json:"servers,omitempty"`
}

// MCPServer is mcp.servers.<name>: a stdio server (command) or a remote one
// (url, streamable HTTP or SSE).
type MCPServer struct {
	Command             string            `json:"command,omitempty"`
	Args                []string          `json:"args,omitempty"`
	Env                 map[string]string `json:"env,omitempty"`
	Cwd                 string            `json:"cwd,omitempty"`
	URL                 string            `json:"url,omitempty"`
	Transport           string            `json:"transport,omitempty" jsonschema:"enum=stdio,enum=streamable-http,enum=http,enum=sse"`
	Headers             map[string]string `json:"headers,omitempty"`
	Enabled             *bool             `json:"enabled,omitempty"`
	RequestTimeoutMs    int64             `json:"requestTimeoutMs,omitempty"`
	ConnectionTimeoutMs int64             `json:"connectionTimeoutMs,omitempty"`
	ToolFilter          MCPToolFilter     `json:"toolFilter"`
}

// MCPToolFilter selects a server's tools by exact name or "*" glob.
type MCPToolFilter struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// LoggingConfig is logging.*.
type LoggingConfig struct {
	Level        string `json:"level" jsonschema:"enum=trace,enum=debug,enum=info,enum=warn,enum=error,enum=fatal,enum=silent,default=info"`
	MaxFileBytes int64  `json:"maxFileBytes" jsonschema:"minimum=1,default=10485760"`
	MaxFiles     int    `json:"maxFiles" jsonschema:"minimum=1,default=5"`
}

// Defaults returns a fresh configuration with every default applied.
func Defaults() *Config {
	exempt := true
	uiEnabled := true
	c := &Config{
		Gateway: GatewayConfig{
			Port: DefaultPort,
			Bind: DefaultBind,
			Auth: AuthConfig{
				Mode: DefaultAuthMode,
				RateLimit: RateLimitConfig{
					MaxAttempts:    DefaultMaxAttempts,
					WindowMs:       DefaultWindowMs,
					LockoutMs:      DefaultLockoutMs,
					ExemptLoopback: &exempt,
				},
			},
			ControlUI: ControlUIConfig{Enabled: &uiEnabled},
			Reload:    ReloadConfig{Mode: DefaultReloadMode},
		},
		Agents: AgentsConfig{
			Defaults: AgentDefaults{
				Heartbeat: HeartbeatSettings{
					Every:       DefaultHeartbeatEvery,
					Target:      DefaultHeartbeatTarget,
					AckMaxChars: DefaultAckMaxChars,
				},
				MediaMaxMb: DefaultMediaMaxMb,
			},
			Entries: map[string]AgentEntry{MainAgentID: {}},
		},
		Logging: LoggingConfig{
			Level:        DefaultLogLevel,
			MaxFileBytes: DefaultLogMaxFileBytes,
			MaxFiles:     DefaultLogMaxFiles,
		},
	}
	return c
}

// JSON is the effective configuration (defaults applied, environment applied
// if ApplyEnv ran) as JSON. It contains secrets; pass it through Redact
// before showing it to a client.
func (c *Config) JSON() json.RawMessage {
	b, err := json.Marshal(c)
	if err != nil {
		// Every field is plain data; this cannot fail.
		panic("config: marshal: " + err.Error())
	}
	return b
}

// ListenAddr is the host:port the gateway listens on.
func (c *Config) ListenAddr() (string, error) {
	port := c.Gateway.Port
	if port == 0 {
		port = DefaultPort
	}
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("gateway.port %d is out of range 1-65535", port)
	}
	var host string
	switch c.Gateway.Bind {
	case "", BindLoopback, BindAuto:
		host = "127.0.0.1"
	case BindLAN:
		host = "0.0.0.0"
	case BindCustom:
		host = strings.TrimSpace(c.Gateway.CustomBindHost)
		if host == "" {
			return "", errors.New("gateway.bind is custom but gateway.customBindHost is empty")
		}
		if net.ParseIP(host) == nil {
			return "", fmt.Errorf("gateway.customBindHost %q is not an IP address", host)
		}
	case BindTailnet:
		return "", errors.New("gateway.bind tailnet is not supported by Pincer; use loopback, lan, auto or custom")
	default:
		return "", fmt.Errorf("gateway.bind %q is not one of loopback, lan, auto, custom, tailnet", c.Gateway.Bind)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// Environment variables that override the file. The OPENCLAW_ spellings are
// honoured so existing shells and service units keep working; the PINCER_
// spelling wins when both are set.
const (
	EnvGatewayToken    = "PINCER_GATEWAY_TOKEN"
	EnvGatewayPassword = "PINCER_GATEWAY_PASSWORD"
	EnvGatewayPort     = "PINCER_GATEWAY_PORT"
	EnvGatewayURL      = "PINCER_GATEWAY_URL"

	EnvOpenClawGatewayToken    = "OPENCLAW_GATEWAY_TOKEN"
	EnvOpenClawGatewayPassword = "OPENCLAW_GATEWAY_PASSWORD"
	EnvOpenClawGatewayPort     = "OPENCLAW_GATEWAY_PORT"
	EnvOpenClawGatewayURL      = "OPENCLAW_GATEWAY_URL"
)

// envFirst returns the first non-empty (after trimming) variable and its name.
func envFirst(names ...string) (string, string) {
	for _, n := range names {
		if v := strings.TrimSpace(os.Getenv(n)); v != "" {
			return v, n
		}
	}
	return "", ""
}

// GatewayURLFromEnv is the gateway URL a client should use, if the
// environment names one.
func GatewayURLFromEnv() string {
	v, _ := envFirst(EnvGatewayURL, EnvOpenClawGatewayURL)
	return v
}

// GatewayTokenFromEnv is the shared gateway token from the environment.
func GatewayTokenFromEnv() string {
	v, _ := envFirst(EnvGatewayToken, EnvOpenClawGatewayToken)
	return v
}

// GatewayPasswordFromEnv is the shared gateway password from the environment.
func GatewayPasswordFromEnv() string {
	v, _ := envFirst(EnvGatewayPassword, EnvOpenClawGatewayPassword)
	return v
}

// ApplyEnv overlays the environment on the loaded file: the gateway token,
// password and port. A port variable that is not a valid port is ignored and
// reported by EnvIssues.
func (c *Config) ApplyEnv() {
	c.envIssues = nil
	if v := GatewayTokenFromEnv(); v != "" {
		c.Gateway.Auth.Token = v
	}
	if v := GatewayPasswordFromEnv(); v != "" {
		c.Gateway.Auth.Password = v
	}
	if v, name := envFirst(EnvGatewayPort, EnvOpenClawGatewayPort); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			c.envIssues = append(c.envIssues, Issue{Path: name, Message: fmt.Sprintf("ignored %q: must be an integer between 1 and 65535", v)})
		} else {
			c.Gateway.Port = n
		}
	}
	a := &c.Gateway.Auth
	if !a.modeSet && a.Token == "" && a.Password != "" {
		a.Mode = AuthModePassword
	}
}

// EnvIssues lists environment values the last ApplyEnv had to ignore; the
// Path of each issue is the variable name.
func (c *Config) EnvIssues() []Issue { return c.envIssues }
