package protocol

// DevicePairListParams are the params of device.pair.list.
type DevicePairListParams struct{}

// DevicePairRequestParams identify a pending request (approve, reject).
type DevicePairRequestParams struct {
	RequestID string `json:"requestId" jsonschema:"minLength=1"`
}

// DevicePairRemoveParams are the params of device.pair.remove.
type DevicePairRemoveParams struct {
	DeviceID string `json:"deviceId" jsonschema:"minLength=1"`
}

// DevicePairRenameParams are the params of device.pair.rename.
type DevicePairRenameParams struct {
	DeviceID string `json:"deviceId" jsonschema:"minLength=1"`
	Label    string `json:"label" jsonschema:"minLength=1,maxLength=64"`
}

// DeviceTokenRotateParams are the params of device.token.rotate.
type DeviceTokenRotateParams struct {
	DeviceID string   `json:"deviceId" jsonschema:"minLength=1"`
	Role     string   `json:"role" jsonschema:"minLength=1"`
	Scopes   []string `json:"scopes,omitempty" jsonschema:"minLength=1"`
}

// DeviceTokenRevokeParams are the params of device.token.revoke.
type DeviceTokenRevokeParams struct {
	DeviceID string `json:"deviceId" jsonschema:"minLength=1"`
	Role     string `json:"role" jsonschema:"minLength=1"`
}

// DevicePairSetupCodeParams are the params of device.pair.setupCode.
type DevicePairSetupCodeParams struct {
	PublicURL        string `json:"publicUrl,omitempty" jsonschema:"minLength=1"`
	PreferRemoteURL  *bool  `json:"preferRemoteUrl,omitempty"`
	IncludeQR        *bool  `json:"includeQr,omitempty"`
	BootstrapProfile string `json:"bootstrapProfile,omitempty" jsonschema:"enum=limited,enum=node,enum=voice-node"`
	JoinURL          *bool  `json:"joinUrl,omitempty" jsonschema:"enum=true"`
}

// DevicePairSetupStatusParams are the params of device.pair.setupStatus.
type DevicePairSetupStatusParams struct {
	SetupID string `json:"setupId" jsonschema:"minLength=1,maxLength=128"`
}

// DeviceTokenInfo describes a device token without its value.
type DeviceTokenInfo struct {
	Role        string   `json:"role"`
	Scopes      []string `json:"scopes"`
	CreatedAtMs int64    `json:"createdAtMs"`
	RotatedAtMs int64    `json:"rotatedAtMs,omitempty"`
	LastUsedAt  int64    `json:"lastUsedAtMs,omitempty"`
}

// PendingDevice is a device pairing request.
type PendingDevice struct {
	RequestID    string   `json:"requestId"`
	DeviceID     string   `json:"deviceId"`
	PublicKey    string   `json:"publicKey"`
	DisplayName  string   `json:"displayName,omitempty"`
	Platform     string   `json:"platform,omitempty"`
	DeviceFamily string   `json:"deviceFamily,omitempty"`
	ClientID     string   `json:"clientId,omitempty"`
	ClientMode   string   `json:"clientMode,omitempty"`
	Role         string   `json:"role,omitempty"`
	Roles        []string `json:"roles"`
	Scopes       []string `json:"scopes"`
	RemoteIP     string   `json:"remoteIp,omitempty"`
	Silent       bool     `json:"silent"`
	IsRepair     bool     `json:"isRepair"`
	Reason       string   `json:"reason,omitempty"`
	Ts           int64    `json:"ts"`
}

// PairedDevice is an approved device (token values are never listed).
type PairedDevice struct {
	DeviceID       string            `json:"deviceId"`
	PublicKey      string            `json:"publicKey"`
	DisplayName    string            `json:"displayName,omitempty"`
	Label          string            `json:"label,omitempty"`
	Platform       string            `json:"platform,omitempty"`
	DeviceFamily   string            `json:"deviceFamily,omitempty"`
	ClientID       string            `json:"clientId,omitempty"`
	ClientMode     string            `json:"clientMode,omitempty"`
	Role           string            `json:"role,omitempty"`
	Roles          []string          `json:"roles"`
	Scopes         []string          `json:"scopes"`
	RemoteIP       string            `json:"remoteIp,omitempty"`
	ApprovedVia    string            `json:"approvedVia"`
	CreatedAtMs    int64             `json:"createdAtMs"`
	ApprovedAtMs   int64             `json:"approvedAtMs"`
	LastSeenAtMs   int64             `json:"lastSeenAtMs,omitempty"`
	LastSeenReason string            `json:"lastSeenReason,omitempty"`
	Connected      bool              `json:"connected"`
	Tokens         []DeviceTokenInfo `json:"tokens"`
}

// DevicePairListResult is the result of device.pair.list.
type DevicePairListResult struct {
	Pending []PendingDevice `json:"pending"`
	Paired  []PairedDevice  `json:"paired"`
}

// DevicePairResolvedEvent is the payload of device.pair.resolved.
type DevicePairResolvedEvent struct {
	RequestID string `json:"requestId"`
	DeviceID  string `json:"deviceId"`
	Decision  string `json:"decision"`
	Ts        int64  `json:"ts"`
}

// DeviceTokenRotateResult is the result of device.token.rotate.
type DeviceTokenRotateResult struct {
	DeviceID      string   `json:"deviceId"`
	Role          string   `json:"role"`
	Scopes        []string `json:"scopes"`
	RotatedAtMs   int64    `json:"rotatedAtMs"`
	TokenDelivery string   `json:"tokenDelivery"`
	Token         string   `json:"token,omitempty"`
}

// SetupCodePayload is what a setup code encodes (spec §3.7).
type SetupCodePayload struct {
	URL            string   `json:"url"`
	URLs           []string `json:"urls,omitempty"`
	BootstrapToken string   `json:"bootstrapToken"`
	ExpiresAtMs    int64    `json:"expiresAtMs,omitempty"`
	TLSFingerprint string   `json:"tlsFingerprint,omitempty"`
}

// DevicePairSetupCodeResult is the result of device.pair.setupCode.
type DevicePairSetupCodeResult struct {
	SetupID     string `json:"setupId"`
	ExpiresAtMs int64  `json:"expiresAtMs"`
	SetupCode   string `json:"setupCode"`
	QRDataURL   string `json:"qrDataUrl,omitempty"`
	GatewayURL  string `json:"gatewayUrl"`
	Auth        string `json:"auth"`
	URLSource   string `json:"urlSource"`
	Access      string `json:"access"`
}
