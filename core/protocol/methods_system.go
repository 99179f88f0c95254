package protocol

import "encoding/json"

// Open marks a params type whose schema tolerates unknown keys.
type Open interface{ OpenParams() }

// HealthParams are the params of health (open).
type HealthParams struct {
	Probe *bool `json:"probe,omitempty"`
}

// OpenParams marks health params as open.
func (HealthParams) OpenParams() {}

// StatusParams are the params of status.
type StatusParams struct {
	IncludeChannelSummary *bool `json:"includeChannelSummary,omitempty"`
	IncludeCliProjection  *bool `json:"includeCliProjection,omitempty"`
}

// StatusResult is the result of status; the CLI reads it as opaque JSON.
type StatusResult struct {
	RuntimeVersion       string             `json:"runtimeVersion"`
	HostDesktop          HostDesktopStatus  `json:"hostDesktop"`
	Heartbeat            HeartbeatStatus    `json:"heartbeat"`
	ChannelSummary       []any              `json:"channelSummary"`
	QueuedSystemEvents   []string           `json:"queuedSystemEvents"`
	DegradedSecretOwners []any              `json:"degradedSecretOwners"`
	DegradedPlugins      []any              `json:"degradedPlugins"`
	Tasks                TasksStatus        `json:"tasks"`
	TaskAudit            TaskAudit          `json:"taskAudit"`
	Sessions             SessionsStatus     `json:"sessions"`
	ModelRuntime         ModelRuntimeHealth `json:"modelRuntime"`
	EventLoop            *EventLoopHealth   `json:"eventLoop,omitempty"`
	ProcessMemory        ProcessMemory      `json:"processMemory"`
	WorkerPools          map[string]any     `json:"workerPools"`
	PID                  int                `json:"pid"`
	ShutdownBudget       ShutdownBudget     `json:"shutdownBudget"`
	CliProjection        *CliProjection     `json:"cliProjection,omitempty"`
}

// TaskAudit counts task-bookkeeping problems.
type TaskAudit struct {
	Total    int            `json:"total"`
	Warnings int            `json:"warnings"`
	Errors   int            `json:"errors"`
	ByCode   map[string]int `json:"byCode"`
}

// CliProjection is what `openclaw status` shows about agents (status with
// includeCliProjection).
type CliProjection struct {
	Agents        CliAgents       `json:"agents"`
	UpdateChannel *string         `json:"updateChannel"`
	MemoryPlugin  CliMemoryPlugin `json:"memoryPlugin"`
}

// CliAgents lists the configured agents.
type CliAgents struct {
	DefaultID         string     `json:"defaultId"`
	Ownership         string     `json:"ownership"`
	SelectionRequired bool       `json:"selectionRequired"`
	Rows              []CliAgent `json:"rows"`
}

// CliAgent is one configured agent.
type CliAgent struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// CliMemoryPlugin reports the memory plugin slot.
type CliMemoryPlugin struct {
	Enabled bool   `json:"enabled"`
	Slot    string `json:"slot"`
}

// HostDesktopStatus is the desktop-sharing host state (not supported).
type HostDesktopStatus struct {
	Enabled bool   `json:"enabled"`
	State   string `json:"state"`
	Port    int    `json:"port"`
}

// HeartbeatStatus lists each agent's heartbeat schedule.
type HeartbeatStatus struct {
	DefaultAgentID string               `json:"defaultAgentId"`
	Agents         []HeartbeatAgentInfo `json:"agents"`
}

// HeartbeatAgentInfo is one agent's heartbeat schedule.
type HeartbeatAgentInfo struct {
	AgentID         string `json:"agentId"`
	Enabled         bool   `json:"enabled"`
	Every           string `json:"every"`
	EveryMs         *int64 `json:"everyMs"`
	WaitingForRoute bool   `json:"waitingForRoute,omitempty"`
}

// TasksStatus counts background tasks.
type TasksStatus struct {
	Total     int            `json:"total"`
	Active    int            `json:"active"`
	Terminal  int            `json:"terminal"`
	Failures  int            `json:"failures"`
	ByStatus  map[string]int `json:"byStatus"`
	ByRuntime map[string]int `json:"byRuntime"`
}

// SessionsStatus summarises sessions in status.
type SessionsStatus struct {
	Paths    []string              `json:"paths"`
	Count    int64                 `json:"count"`
	Defaults SessionsModelDefaults `json:"defaults"`
	Recent   []RecentSession       `json:"recent"`
	ByAgent  []AgentSessions       `json:"byAgent"`
}

// SessionsModelDefaults are the default model settings of sessions.
type SessionsModelDefaults struct {
	Model         *string `json:"model"`
	ContextTokens *int64  `json:"contextTokens"`
}

// AgentSessions is one agent's sessions summary.
type AgentSessions struct {
	AgentID string          `json:"agentId"`
	Path    string          `json:"path"`
	Count   int64           `json:"count"`
	Recent  []RecentSession `json:"recent"`
}

// ProcessMemory reports the gateway process's memory.
type ProcessMemory struct {
	RSSBytes       int64 `json:"rssBytes"`
	HeapUsedBytes  int64 `json:"heapUsedBytes"`
	HeapTotalBytes int64 `json:"heapTotalBytes"`
	Goroutines     int   `json:"goroutines"`
}

// ShutdownBudget says how long a graceful stop may take.
type ShutdownBudget struct {
	TimeoutMs int64 `json:"timeoutMs"`
	ReserveMs int64 `json:"reserveMs"`
}

// SystemPresenceParams are the params of system-presence.
type SystemPresenceParams struct{}

// SystemEventParams are the params of system-event.
type SystemEventParams struct {
	Text             string   `json:"text"`
	IdempotencyKey   string   `json:"idempotencyKey,omitempty" jsonschema:"minLength=1"`
	SessionKey       *string  `json:"sessionKey,omitempty"`
	Wake             *bool    `json:"wake,omitempty"`
	DeviceID         *string  `json:"deviceId,omitempty"`
	InstanceID       *string  `json:"instanceId,omitempty"`
	Host             *string  `json:"host,omitempty"`
	IP               *string  `json:"ip,omitempty"`
	Mode             *string  `json:"mode,omitempty"`
	Version          *string  `json:"version,omitempty"`
	Platform         *string  `json:"platform,omitempty"`
	DeviceFamily     *string  `json:"deviceFamily,omitempty"`
	ModelIdentifier  *string  `json:"modelIdentifier,omitempty"`
	LastInputSeconds *float64 `json:"lastInputSeconds,omitempty"`
	Reason           *string  `json:"reason,omitempty"`
	Roles            []string `json:"roles,omitempty"`
	Scopes           []string `json:"scopes,omitempty"`
	Tags             []string `json:"tags,omitempty"`
}

// OKResult is the common {ok:true} result.
type OKResult struct {
	OK bool `json:"ok"`
}

// LastHeartbeatParams are the params of last-heartbeat.
type LastHeartbeatParams struct{}

// SetHeartbeatsParams are the params of set-heartbeats.
type SetHeartbeatsParams struct {
	Enabled bool `json:"enabled"`
}

// SetHeartbeatsResult is the result of set-heartbeats.
type SetHeartbeatsResult struct {
	OK      bool `json:"ok"`
	Enabled bool `json:"enabled"`
}

// WakeParams are the params of wake (open).
type WakeParams struct {
	Mode       string `json:"mode" jsonschema:"enum=now,enum=next-heartbeat"`
	Text       string `json:"text" jsonschema:"minLength=1"`
	SessionKey string `json:"sessionKey,omitempty" jsonschema:"minLength=1"`
	AgentID    string `json:"agentId,omitempty" jsonschema:"minLength=1"`
}

// OpenParams marks wake params as open.
func (WakeParams) OpenParams() {}

// LogsTailParams are the params of logs.tail.
type LogsTailParams struct {
	Cursor   *int64 `json:"cursor,omitempty" jsonschema:"minimum=0"`
	Limit    *int   `json:"limit,omitempty" jsonschema:"minimum=1,maximum=5000"`
	MaxBytes *int   `json:"maxBytes,omitempty" jsonschema:"minimum=1,maximum=1000000"`
}

// LogsTailResult is the result of logs.tail.
type LogsTailResult struct {
	File         string   `json:"file"`
	Cursor       int64    `json:"cursor"`
	Size         int64    `json:"size"`
	Lines        []string `json:"lines"`
	Truncated    bool     `json:"truncated"`
	Reset        bool     `json:"reset"`
	SkippedBytes int64    `json:"skippedBytes,omitempty"`
}

// ChannelsStatusParams are the params of channels.status.
type ChannelsStatusParams struct {
	Probe     *bool  `json:"probe,omitempty"`
	TimeoutMs *int64 `json:"timeoutMs,omitempty" jsonschema:"minimum=0"`
	Channel   string `json:"channel,omitempty" jsonschema:"minLength=1"`
}

// ChannelsStatusResult is the result of channels.status.
type ChannelsStatusResult struct {
	Ts                      int64                       `json:"ts"`
	ChannelOrder            []string                    `json:"channelOrder"`
	ChannelLabels           map[string]string           `json:"channelLabels"`
	ChannelDetailLabels     map[string]string           `json:"channelDetailLabels"`
	ChannelSystemImages     map[string]string           `json:"channelSystemImages"`
	ChannelMeta             []ChannelMeta               `json:"channelMeta"`
	EventLoop               *EventLoopHealth            `json:"eventLoop,omitempty"`
	Channels                map[string]any              `json:"channels"`
	ChannelAccounts         map[string][]ChannelAccount `json:"channelAccounts"`
	ChannelDefaultAccountID map[string]string           `json:"channelDefaultAccountId"`
	StatusIssues            []ChannelStatusIssue        `json:"statusIssues"`
}

// ChannelMeta describes one channel kind.
type ChannelMeta struct {
	ID          string `json:"id"`
	Label       string `json:"label"`
	DetailLabel string `json:"detailLabel"`
	SystemImage string `json:"systemImage,omitempty"`
}

// ChannelAccount is one account of a channel in channels.status (open).
type ChannelAccount struct {
	AccountID      string  `json:"accountId"`
	Name           string  `json:"name,omitempty"`
	Enabled        bool    `json:"enabled"`
	Configured     bool    `json:"configured"`
	Linked         *bool   `json:"linked,omitempty"`
	Running        bool    `json:"running"`
	Connected      bool    `json:"connected"`
	LastError      *string `json:"lastError"`
	HealthState    string  `json:"healthState,omitempty"`
	LastStartAt    *int64  `json:"lastStartAt"`
	LastStopAt     *int64  `json:"lastStopAt"`
	LastInboundAt  *int64  `json:"lastInboundAt"`
	LastOutboundAt *int64  `json:"lastOutboundAt"`
	Mode           string  `json:"mode,omitempty"`
	DMPolicy       string  `json:"dmPolicy,omitempty"`
	// ReconnectAttempts counts the supervisor's restarts.
	ReconnectAttempts int             `json:"reconnectAttempts"`
	TokenSource       string          `json:"tokenSource,omitempty"`
	WebhookURL        string          `json:"webhookUrl,omitempty"`
	WebhookPath       string          `json:"webhookPath,omitempty"`
	BaseURL           string          `json:"baseUrl,omitempty"`
	LastProbeAt       *int64          `json:"lastProbeAt,omitempty"`
	Probe             json.RawMessage `json:"probe,omitempty"`
}

// ChannelStatusIssue is a problem found in a channel's setup.
type ChannelStatusIssue struct {
	Channel   string `json:"channel"`
	AccountID string `json:"accountId"`
	Kind      string `json:"kind" jsonschema:"enum=intent,enum=permissions,enum=config,enum=auth,enum=runtime"`
	Message   string `json:"message"`
	Fix       string `json:"fix,omitempty"`
}

// ConfigGetParams are the params of config.get.
type ConfigGetParams struct{}

// ConfigGetResult is the result of config.get; secrets are redacted.
type ConfigGetResult struct {
	Path          string          `json:"path"`
	IncludedPaths []string        `json:"includedPaths"`
	Exists        bool            `json:"exists"`
	Raw           *string         `json:"raw"`
	Parsed        json.RawMessage `json:"parsed"`
	SourceConfig  json.RawMessage `json:"sourceConfig"`
	Resolved      json.RawMessage `json:"resolved"`
	Valid         bool            `json:"valid"`
	RuntimeConfig json.RawMessage `json:"runtimeConfig"`
	Config        json.RawMessage `json:"config"`
	Hash          string          `json:"hash"`
	Issues        []ConfigIssue   `json:"issues"`
	Warnings      []ConfigIssue   `json:"warnings"`
	LegacyIssues  []ConfigIssue   `json:"legacyIssues"`
	AppliedHash   string          `json:"appliedConfigHash"`
}

// ConfigIssue is one config validation problem.
type ConfigIssue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ConfigSchemaParams are the params of config.schema.
type ConfigSchemaParams struct{}

// ConfigSchemaResult is the result of config.schema.
type ConfigSchemaResult struct {
	Schema      json.RawMessage `json:"schema"`
	UIHints     map[string]any  `json:"uiHints"`
	Version     string          `json:"version"`
	GeneratedAt string          `json:"generatedAt"`
}

// ModelsListParams are the params of models.list.
type ModelsListParams struct {
	View           string `json:"view,omitempty" jsonschema:"enum=default,enum=configured,enum=provider-config,enum=all"`
	Provider       string `json:"provider,omitempty"`
	SessionKey     string `json:"sessionKey,omitempty"`
	AgentID        string `json:"agentId,omitempty"`
	AuthProfileID  string `json:"authProfileId,omitempty"`
	Refresh        *bool  `json:"refresh,omitempty"`
	PreparedOnly   *bool  `json:"preparedOnly,omitempty"`
	IncludeDetails *bool  `json:"includeDetails,omitempty"`
}

// ModelsListResult is the result of models.list.
type ModelsListResult struct {
	Models []ModelChoice `json:"models"`
}

// ModelChoice is one model a session can use.
type ModelChoice struct {
	ID                     string          `json:"id"`
	Name                   string          `json:"name"`
	Provider               string          `json:"provider"`
	ContextWindow          *int64          `json:"contextWindow"`
	Reasoning              bool            `json:"reasoning"`
	Tags                   []string        `json:"tags"`
	ThinkingLevels         []ThinkingLevel `json:"thinkingLevels"`
	ThinkingDefault        string          `json:"thinkingDefault"`
	Available              bool            `json:"available"`
	ManualSelectionAllowed bool            `json:"manualSelectionAllowed"`
}

// ThinkingLevel is one reasoning effort a model supports.
type ThinkingLevel struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// AgentIdentityGetParams are the params of agent.identity.get.
type AgentIdentityGetParams struct {
	AgentID    string `json:"agentId,omitempty"`
	SessionKey string `json:"sessionKey,omitempty"`
}

// AgentIdentity is the result of agent.identity.get.
type AgentIdentity struct {
	AgentID    string `json:"agentId"`
	Name       string `json:"name"`
	NameSource string `json:"nameSource"`
	Avatar     string `json:"avatar"`
}
