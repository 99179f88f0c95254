package protocol

// PresenceEntry is one row of system-presence.
type PresenceEntry struct {
	Host            string        `json:"host,omitempty" jsonschema:"minLength=1"`
	ClientID        string        `json:"clientId,omitempty" jsonschema:"minLength=1"`
	IP              string        `json:"ip,omitempty" jsonschema:"minLength=1"`
	Version         string        `json:"version,omitempty" jsonschema:"minLength=1"`
	Platform        string        `json:"platform,omitempty" jsonschema:"minLength=1"`
	DeviceFamily    string        `json:"deviceFamily,omitempty" jsonschema:"minLength=1"`
	ModelIdentifier string        `json:"modelIdentifier,omitempty" jsonschema:"minLength=1"`
	TimeZone        string        `json:"timeZone,omitempty" jsonschema:"minLength=1"`
	Mode            string        `json:"mode,omitempty" jsonschema:"minLength=1"`
	LastInputSecs   *int64        `json:"lastInputSeconds,omitempty" jsonschema:"minimum=0"`
	Reason          string        `json:"reason,omitempty" jsonschema:"minLength=1"`
	Tags            []string      `json:"tags,omitempty"`
	Text            string        `json:"text,omitempty"`
	Ts              int64         `json:"ts" jsonschema:"minimum=0"`
	OnlineSince     int64         `json:"onlineSince,omitempty" jsonschema:"minimum=0"`
	LastActivityAt  int64         `json:"lastActivityAt,omitempty" jsonschema:"minimum=0"`
	DeviceID        string        `json:"deviceId,omitempty" jsonschema:"minLength=1"`
	Roles           []string      `json:"roles,omitempty"`
	Scopes          []string      `json:"scopes,omitempty"`
	InstanceID      string        `json:"instanceId,omitempty" jsonschema:"minLength=1"`
	User            *PresenceUser `json:"user,omitempty"`
	WatchedSessions []string      `json:"watchedSessions,omitempty"`
}

// PresenceUser is the user bound to a presence entry.
type PresenceUser struct {
	ID        string `json:"id" jsonschema:"minLength=1"`
	Email     string `json:"email,omitempty"`
	Name      string `json:"name,omitempty"`
	AvatarURL string `json:"avatarUrl,omitempty"`
}

// PresenceEvent is the payload of the presence event.
type PresenceEvent struct {
	Presence []PresenceEntry `json:"presence"`
}
