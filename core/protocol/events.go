package protocol

// Event names.
const (
	EventConnectChallenge = "connect.challenge"
	EventTick             = "tick"
	EventPresence         = "presence"
	EventHealth           = "health"
	EventHeartbeat        = "heartbeat"
	EventShutdown         = "shutdown"
	EventConfigChanged    = "config.changed"
)

// TickEvent is the payload of tick.
type TickEvent struct {
	Ts int64 `json:"ts" jsonschema:"minimum=0"`
}

// ShutdownEvent is the payload of shutdown.
type ShutdownEvent struct {
	Reason            string `json:"reason" jsonschema:"minLength=1"`
	RestartExpectedMs *int64 `json:"restartExpectedMs,omitempty" jsonschema:"minimum=0"`
}

// HeartbeatEvent is the payload of heartbeat and the result of last-heartbeat.
type HeartbeatEvent struct {
	Ts            int64  `json:"ts"`
	Status        string `json:"status" jsonschema:"enum=sent,enum=ok-empty,enum=ok-token,enum=skipped,enum=failed"`
	Reason        string `json:"reason,omitempty"`
	DurationMs    *int64 `json:"durationMs,omitempty"`
	To            string `json:"to,omitempty"`
	Preview       string `json:"preview,omitempty"`
	HasMedia      *bool  `json:"hasMedia,omitempty"`
	Channel       string `json:"channel,omitempty"`
	AccountID     string `json:"accountId,omitempty"`
	Silent        *bool  `json:"silent,omitempty"`
	IndicatorType string `json:"indicatorType,omitempty"`
	Message       string `json:"message,omitempty"`
}

// ConfigChangedEvent is the payload of config.changed.
type ConfigChangedEvent struct {
	Path string `json:"path"`
	Hash string `json:"hash"`
	Ts   int64  `json:"ts"`
}
