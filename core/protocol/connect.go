package protocol

import "encoding/json"

// Client ids accepted in connect (a closed enum).
const (
	ClientWebchatUI      = "webchat-ui"
	ClientControlUI      = "openclaw-control-ui"
	ClientBrowserCopilot = "openclaw-browser-copilot"
	ClientTUI            = "openclaw-tui"
	ClientWebchat        = "webchat"
	ClientCLI            = "cli"
	ClientGatewayClient  = "gateway-client"
	ClientMacOS          = "openclaw-macos"
	ClientLinux          = "openclaw-linux"
	ClientIOS            = "openclaw-ios"
	ClientWatchOS        = "openclaw-watchos"
	ClientAndroid        = "openclaw-android"
	ClientNodeHost       = "node-host"
	ClientWorker         = "openclaw-worker"
	ClientTest           = "test"
	ClientFingerprint    = "fingerprint"
	ClientProbe          = "openclaw-probe"
)

// ClientIDs is the closed set of client.id values.
var ClientIDs = []string{
	ClientWebchatUI, ClientControlUI, ClientBrowserCopilot, ClientTUI, ClientWebchat, ClientCLI,
	ClientGatewayClient, ClientMacOS, ClientLinux, ClientIOS, ClientWatchOS, ClientAndroid,
	ClientNodeHost, ClientWorker, ClientTest, ClientFingerprint, ClientProbe,
}

// Client modes (a closed enum).
const (
	ModeWebchat = "webchat"
	ModeCLI     = "cli"
	ModeUI      = "ui"
	ModeBackend = "backend"
	ModeNode    = "node"
	ModeWorker  = "worker"
	ModeProbe   = "probe"
	ModeTest    = "test"
)

// ClientModes is the closed set of client.mode values.
var ClientModes = []string{ModeWebchat, ModeCLI, ModeUI, ModeBackend, ModeNode, ModeWorker, ModeProbe, ModeTest}

// Roles.
const (
	RoleOperator = "operator"
	RoleNode     = "node"
)

// ClientInfo describes the connecting program.
type ClientInfo struct {
	ID              string `json:"id" jsonschema:"enum=webchat-ui,enum=openclaw-control-ui,enum=openclaw-browser-copilot,enum=openclaw-tui,enum=webchat,enum=cli,enum=gateway-client,enum=openclaw-macos,enum=openclaw-linux,enum=openclaw-ios,enum=openclaw-watchos,enum=openclaw-android,enum=node-host,enum=openclaw-worker,enum=test,enum=fingerprint,enum=openclaw-probe"`
	DisplayName     string `json:"displayName,omitempty" jsonschema:"minLength=1"`
	Version         string `json:"version" jsonschema:"minLength=1"`
	BuildID         string `json:"buildId,omitempty" jsonschema:"minLength=1,maxLength=96"`
	Platform        string `json:"platform" jsonschema:"minLength=1"`
	DeviceFamily    string `json:"deviceFamily,omitempty" jsonschema:"minLength=1"`
	ModelIdentifier string `json:"modelIdentifier,omitempty" jsonschema:"minLength=1"`
	TimeZone        string `json:"timeZone,omitempty" jsonschema:"minLength=1,maxLength=64"`
	Mode            string `json:"mode" jsonschema:"enum=webchat,enum=cli,enum=ui,enum=backend,enum=node,enum=worker,enum=probe,enum=test"`
	InstanceID      string `json:"instanceId,omitempty" jsonschema:"minLength=1"`
}

// DeviceProof is the signed device identity in connect.
type DeviceProof struct {
	ID        string `json:"id" jsonschema:"minLength=1"`
	PublicKey string `json:"publicKey" jsonschema:"minLength=1"`
	Signature string `json:"signature" jsonschema:"minLength=1"`
	SignedAt  int64  `json:"signedAt" jsonschema:"minimum=0"`
	Nonce     string `json:"nonce" jsonschema:"minLength=1"`
}

// ConnectAuth carries the credentials of a connect.
type ConnectAuth struct {
	Token                     *string `json:"token,omitempty"`
	BootstrapToken            *string `json:"bootstrapToken,omitempty"`
	DeviceToken               *string `json:"deviceToken,omitempty"`
	Password                  *string `json:"password,omitempty"`
	ApprovalRuntimeToken      *string `json:"approvalRuntimeToken,omitempty"`
	AgentRuntimeIdentityToken *string `json:"agentRuntimeIdentityToken,omitempty"`
}

// WorkerRuns is the deprecated node worker handshake.
type WorkerRuns struct {
	BundleHash       string   `json:"bundleHash" jsonschema:"minLength=64,maxLength=64,pattern=^[a-f0-9]{64}$"`
	OpenclawVersion  string   `json:"openclawVersion" jsonschema:"minLength=1,maxLength=128"`
	ProtocolFeatures []string `json:"protocolFeatures" jsonschema:"maxItems=64,minLength=1,maxLength=128"`
	BundlePrewarm    *int64   `json:"bundlePrewarm,omitempty" jsonschema:"minimum=1,maximum=9007199254740991"`
}

// ModelCatalogRequest asks for an initial models.snapshot.
type ModelCatalogRequest struct {
	AgentID    string `json:"agentId,omitempty" jsonschema:"minLength=1"`
	SessionKey string `json:"sessionKey,omitempty" jsonschema:"minLength=1"`
	ShortID    string `json:"shortId,omitempty" jsonschema:"minLength=1"`
	SlugHint   string `json:"slugHint,omitempty" jsonschema:"minLength=1"`
}

// ConnectParams are the params of the first request (closed object).
type ConnectParams struct {
	MinProtocol  int                  `json:"minProtocol" jsonschema:"minimum=1"`
	MaxProtocol  int                  `json:"maxProtocol" jsonschema:"minimum=1"`
	Client       ClientInfo           `json:"client"`
	Caps         []string             `json:"caps,omitempty" jsonschema:"minLength=1"`
	Commands     []string             `json:"commands,omitempty" jsonschema:"minLength=1"`
	ComputerUse  json.RawMessage      `json:"computerUse,omitempty"`
	WorkerRuns   *WorkerRuns          `json:"workerRuns,omitempty"`
	Permissions  map[string]bool      `json:"permissions,omitempty"`
	PathEnv      *string              `json:"pathEnv,omitempty"`
	Role         string               `json:"role,omitempty" jsonschema:"minLength=1"`
	Scopes       []string             `json:"scopes,omitempty" jsonschema:"minLength=1"`
	ModelCatalog *ModelCatalogRequest `json:"modelCatalog,omitempty"`
	Device       *DeviceProof         `json:"device,omitempty"`
	Auth         *ConnectAuth         `json:"auth,omitempty"`
	Locale       *string              `json:"locale,omitempty"`
	UserAgent    *string              `json:"userAgent,omitempty"`
}

// ChallengeEvent is the payload of connect.challenge.
type ChallengeEvent struct {
	Nonce        string   `json:"nonce"`
	Ts           int64    `json:"ts"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// HelloOk is the successful connect result.
type HelloOk struct {
	Type     string        `json:"type"`
	Protocol int           `json:"protocol"`
	Server   HelloServer   `json:"server"`
	Features HelloFeatures `json:"features"`
	Snapshot Snapshot      `json:"snapshot"`
	// PluginSurfaceURLs are scoped URLs for plugin surfaces (canvas).
	PluginSurfaceURLs map[string]string `json:"pluginSurfaceUrls,omitempty"`
	Auth              HelloAuth         `json:"auth"`
	Policy            HelloPolicy       `json:"policy"`
}

// HelloServer identifies the gateway process and the connection.
type HelloServer struct {
	Version              string `json:"version"`
	BuildID              string `json:"buildId,omitempty"`
	BootID               string `json:"bootId,omitempty"`
	ControlUIBuildSource string `json:"controlUiBuildSource,omitempty"`
	ConnID               string `json:"connId"`
}

// HelloFeatures lists what the gateway implements.
type HelloFeatures struct {
	Methods      []string `json:"methods"`
	Events       []string `json:"events"`
	Capabilities []string `json:"capabilities,omitempty"`
}

// HelloAuth reports the outcome of authentication.
type HelloAuth struct {
	Method       string              `json:"method,omitempty"`
	Role         string              `json:"role"`
	Scopes       []string            `json:"scopes"`
	DeviceToken  string              `json:"deviceToken,omitempty"`
	IssuedAtMs   int64               `json:"issuedAtMs,omitempty"`
	DeviceTokens []IssuedDeviceToken `json:"deviceTokens,omitempty"`
}

// IssuedDeviceToken is one token of a bootstrap handoff.
type IssuedDeviceToken struct {
	DeviceToken string   `json:"deviceToken"`
	Role        string   `json:"role"`
	Scopes      []string `json:"scopes"`
	IssuedAtMs  int64    `json:"issuedAtMs"`
}

// HelloPolicy carries the limits a client must respect.
type HelloPolicy struct {
	MaxPayload       int64              `json:"maxPayload"`
	MaxBufferedBytes int64              `json:"maxBufferedBytes"`
	TickIntervalMs   int64              `json:"tickIntervalMs"`
	Attachments      *AttachmentsPolicy `json:"attachments,omitempty"`
}

// AttachmentsPolicy are the attachment size caps.
type AttachmentsPolicy struct {
	MaxBytes      int64 `json:"maxBytes"`
	MaxImageBytes int64 `json:"maxImageBytes"`
}

// Snapshot is the state a client starts from.
type Snapshot struct {
	Suspension        *Suspension      `json:"suspension,omitempty"`
	Presence          []PresenceEntry  `json:"presence"`
	Health            json.RawMessage  `json:"health"`
	StateVersion      StateVersion     `json:"stateVersion"`
	UptimeMs          int64            `json:"uptimeMs"`
	AppliedConfigHash *string          `json:"appliedConfigHash,omitempty"`
	SessionDefaults   *SessionDefaults `json:"sessionDefaults,omitempty"`
	ConfigPath        string           `json:"configPath,omitempty"`
	StateDir          string           `json:"stateDir,omitempty"`
	AuthMode          string           `json:"authMode,omitempty"`
}

// Suspension is the gateway's suspension phase.
type Suspension struct {
	Phase string `json:"phase"`
}

// SessionDefaults describes the default agent and main session.
type SessionDefaults struct {
	DefaultAgentID    string `json:"defaultAgentId"`
	ModelConfigured   bool   `json:"modelConfigured"`
	Ownership         string `json:"ownership,omitempty"`
	SelectionRequired bool   `json:"selectionRequired"`
	MainKey           string `json:"mainKey"`
	MainSessionKey    string `json:"mainSessionKey"`
	Scope             string `json:"scope,omitempty"`
}
