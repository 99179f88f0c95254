package protocol

// HealthSnapshot is the result of health and the payload of the health event.
type HealthSnapshot struct {
	OK             bool                `json:"ok"`
	Ts             int64               `json:"ts"`
	DurationMs     int64               `json:"durationMs"`
	EventLoop      *EventLoopHealth    `json:"eventLoop,omitempty"`
	Plugins        *PluginsHealth      `json:"plugins,omitempty"`
	ConfigReload   *ConfigReloadHealth `json:"configReload,omitempty"`
	Channels       map[string]any      `json:"channels"`
	ChannelOrder   []string            `json:"channelOrder"`
	ChannelLabels  map[string]string   `json:"channelLabels"`
	HeartbeatSecs  int64               `json:"heartbeatSeconds"`
	DefaultAgentID string              `json:"defaultAgentId"`
	Agents         []AgentHealth       `json:"agents"`
	Sessions       *SessionsHealth     `json:"sessions,omitempty"`
	ModelRuntime   *ModelRuntimeHealth `json:"modelRuntime,omitempty"`
}

// EventLoopHealth reports scheduling latency; Pincer measures Go scheduler
// delay the way Node measures event-loop delay.
type EventLoopHealth struct {
	Degraded        bool     `json:"degraded"`
	DegradedSinceMs *int64   `json:"degradedSinceMs"`
	Reasons         []string `json:"reasons"`
	IntervalMs      float64  `json:"intervalMs"`
	DelayP99Ms      float64  `json:"delayP99Ms"`
	DelayMaxMs      float64  `json:"delayMaxMs"`
	Utilization     float64  `json:"utilization"`
	CPUCoreRatio    float64  `json:"cpuCoreRatio"`
}

// PluginsHealth lists loaded plugins (Pincer: compiled-in domains).
type PluginsHealth struct {
	Loaded      []string      `json:"loaded"`
	Errors      []PluginError `json:"errors"`
	Unavailable []any         `json:"unavailable"`
}

// PluginError is one plugin that failed to start.
type PluginError struct {
	ID        string `json:"id"`
	Origin    string `json:"origin"`
	Activated bool   `json:"activated"`
	Error     string `json:"error"`
}

// ConfigReloadHealth says whether hot reload is active.
type ConfigReloadHealth struct {
	HotReloadStatus string `json:"hotReloadStatus"`
}

// AgentHealth is one agent in the health snapshot.
type AgentHealth struct {
	AgentID   string          `json:"agentId"`
	Name      string          `json:"name,omitempty"`
	IsDefault bool            `json:"isDefault"`
	Heartbeat HeartbeatConfig `json:"heartbeat"`
	Sessions  SessionsHealth  `json:"sessions"`
}

// HeartbeatConfig is an agent's heartbeat settings.
type HeartbeatConfig struct {
	Enabled     bool   `json:"enabled"`
	Every       string `json:"every"`
	EveryMs     *int64 `json:"everyMs"`
	Prompt      string `json:"prompt"`
	Target      string `json:"target"`
	Model       string `json:"model,omitempty"`
	Session     string `json:"session,omitempty"`
	AckMaxChars int64  `json:"ackMaxChars"`
}

// SessionsHealth summarises a session store.
type SessionsHealth struct {
	Path   string          `json:"path"`
	Count  int64           `json:"count"`
	Recent []RecentSession `json:"recent"`
}

// RecentSession is one recently updated session.
type RecentSession struct {
	Key       string `json:"key"`
	UpdatedAt *int64 `json:"updatedAt"`
	Age       *int64 `json:"age"`
}

// ModelRuntimeHealth reports agents waiting for a model runtime.
type ModelRuntimeHealth struct {
	Degraded      bool     `json:"degraded"`
	PendingAgents []string `json:"pendingAgents"`
}
