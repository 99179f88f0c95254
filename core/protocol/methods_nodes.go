package protocol

import "encoding/json"

// NodeListParams are the params of node.list and node.pair.list.
type NodeListParams struct{}

// NodeIDParams identify a node (node.describe, node.pair.remove).
type NodeIDParams struct {
	NodeID string `json:"nodeId" jsonschema:"minLength=1"`
}

// NodeRenameParams are the params of node.rename.
type NodeRenameParams struct {
	NodeID      string `json:"nodeId" jsonschema:"minLength=1"`
	DisplayName string `json:"displayName" jsonschema:"minLength=1"`
}

// NodeInvokeParams are the params of node.invoke.
type NodeInvokeParams struct {
	NodeID              string          `json:"nodeId" jsonschema:"minLength=1"`
	Command             string          `json:"command" jsonschema:"minLength=1"`
	Params              json.RawMessage `json:"params,omitempty"`
	TimeoutMs           *int64          `json:"timeoutMs,omitempty" jsonschema:"minimum=0"`
	IdempotencyKey      string          `json:"idempotencyKey" jsonschema:"minLength=1"`
	SessionKey          string          `json:"sessionKey,omitempty" jsonschema:"minLength=1"`
	TurnSourceChannel   *string         `json:"turnSourceChannel,omitempty"`
	TurnSourceTo        *string         `json:"turnSourceTo,omitempty"`
	TurnSourceAccountID *string         `json:"turnSourceAccountId,omitempty"`
	TurnSourceThreadID  json.RawMessage `json:"turnSourceThreadId,omitempty"`
}

// NodeError is a node's error result.
type NodeError struct {
	Code    string `json:"code,omitempty" jsonschema:"minLength=1"`
	Message string `json:"message,omitempty" jsonschema:"minLength=1"`
}

// NodeInvokeResultParams are the params of node.invoke.result.
type NodeInvokeResultParams struct {
	ID          string          `json:"id" jsonschema:"minLength=1"`
	NodeID      string          `json:"nodeId" jsonschema:"minLength=1"`
	OK          bool            `json:"ok"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	PayloadJSON *string         `json:"payloadJSON,omitempty"`
	Error       *NodeError      `json:"error,omitempty"`
}

// NodeInvokeProgressParams are the params of node.invoke.progress.
type NodeInvokeProgressParams struct {
	InvokeID string `json:"invokeId" jsonschema:"minLength=1"`
	NodeID   string `json:"nodeId" jsonschema:"minLength=1"`
	Seq      int64  `json:"seq" jsonschema:"minimum=0"`
	Chunk    string `json:"chunk" jsonschema:"maxLength=16384"`
}

// NodeEventParams are the params of node.event.
type NodeEventParams struct {
	Event       string          `json:"event" jsonschema:"minLength=1"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	PayloadJSON *string         `json:"payloadJSON,omitempty"`
}

// NodeEventResult is the result of node.event.
type NodeEventResult struct {
	OK      bool   `json:"ok"`
	Event   string `json:"event"`
	Handled bool   `json:"handled"`
	Reason  string `json:"reason,omitempty"`
}

// NodeSkillsUpdateParams are the params of node.skills.update (open).
type NodeSkillsUpdateParams struct {
	Skills []json.RawMessage `json:"skills"`
}

// OpenParams marks the params as open.
func (NodeSkillsUpdateParams) OpenParams() {}

// NodePluginToolsUpdateParams are the params of node.pluginTools.update (open).
type NodePluginToolsUpdateParams struct {
	Tools []json.RawMessage `json:"tools"`
}

// OpenParams marks the params as open.
func (NodePluginToolsUpdateParams) OpenParams() {}

// NodeRunnerInventoryUpdateParams are the params of node.runnerInventory.update (open).
type NodeRunnerInventoryUpdateParams struct {
	ProtocolFeatures []string        `json:"protocolFeatures,omitempty"`
	WorkerHost       json.RawMessage `json:"workerHost,omitempty"`
}

// OpenParams marks the params as open.
func (NodeRunnerInventoryUpdateParams) OpenParams() {}

// NodePluginSurfaceRefreshParams are the params of node.pluginSurface.refresh (open).
type NodePluginSurfaceRefreshParams struct {
	Surface     string `json:"surface,omitempty"`
	ObservedURL string `json:"observedUrl,omitempty"`
}

// OpenParams marks the params as open.
func (NodePluginSurfaceRefreshParams) OpenParams() {}

// NodeInvokeRequestEvent is sent to the node that runs a command.
type NodeInvokeRequestEvent struct {
	ID             string `json:"id"`
	NodeID         string `json:"nodeId"`
	Command        string `json:"command"`
	ParamsJSON     string `json:"paramsJSON,omitempty"`
	TimeoutMs      int64  `json:"timeoutMs"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	SessionKey     string `json:"sessionKey,omitempty"`
}

// NodeInvokeResult is the operator's result of a successful node.invoke.
type NodeInvokeResult struct {
	OK          bool            `json:"ok"`
	NodeID      string          `json:"nodeId"`
	Command     string          `json:"command"`
	Payload     json.RawMessage `json:"payload"`
	PayloadJSON *string         `json:"payloadJSON"`
}

// NodeRow is one node in node.list / node.describe (spec §5.5).
type NodeRow struct {
	NodeID                  string          `json:"nodeId"`
	DisplayName             string          `json:"displayName,omitempty"`
	Platform                string          `json:"platform,omitempty"`
	Version                 string          `json:"version,omitempty"`
	ClientID                string          `json:"clientId,omitempty"`
	ClientMode              string          `json:"clientMode,omitempty"`
	DeviceFamily            string          `json:"deviceFamily,omitempty"`
	ModelIdentifier         string          `json:"modelIdentifier,omitempty"`
	RemoteIP                string          `json:"remoteIp,omitempty"`
	Caps                    []string        `json:"caps"`
	Commands                []string        `json:"commands"`
	SessionHost             bool            `json:"sessionHost"`
	NodePluginTools         []string        `json:"nodePluginTools"`
	PathEnv                 string          `json:"pathEnv,omitempty"`
	Permissions             map[string]bool `json:"permissions,omitempty"`
	HostStats               json.RawMessage `json:"hostStats,omitempty"`
	ApprovalState           string          `json:"approvalState"`
	PendingRequestID        string          `json:"pendingRequestId,omitempty"`
	PendingDeclaredCaps     []string        `json:"pendingDeclaredCaps,omitempty"`
	PendingDeclaredCommands []string        `json:"pendingDeclaredCommands,omitempty"`
	ConnectedAtMs           int64           `json:"connectedAtMs,omitempty"`
	LastConnectedAtMs       int64           `json:"lastConnectedAtMs,omitempty"`
	LastSeenAtMs            int64           `json:"lastSeenAtMs,omitempty"`
	LastSeenReason          string          `json:"lastSeenReason,omitempty"`
	ApprovedAtMs            int64           `json:"approvedAtMs,omitempty"`
	Paired                  bool            `json:"paired"`
	Connected               bool            `json:"connected"`
}

// NodeListResult is the result of node.list.
type NodeListResult struct {
	Ts    int64     `json:"ts"`
	Nodes []NodeRow `json:"nodes"`
}

// PendingNode is a node capability approval request.
type PendingNode struct {
	RequestID             string          `json:"requestId"`
	NodeID                string          `json:"nodeId"`
	ClientID              string          `json:"clientId,omitempty"`
	ClientMode            string          `json:"clientMode,omitempty"`
	DisplayName           string          `json:"displayName,omitempty"`
	Platform              string          `json:"platform,omitempty"`
	Version               string          `json:"version,omitempty"`
	DeviceFamily          string          `json:"deviceFamily,omitempty"`
	ModelIdentifier       string          `json:"modelIdentifier,omitempty"`
	Caps                  []string        `json:"caps"`
	Commands              []string        `json:"commands"`
	Permissions           map[string]bool `json:"permissions,omitempty"`
	RemoteIP              string          `json:"remoteIp,omitempty"`
	RequiredApproveScopes []string        `json:"requiredApproveScopes"`
	Silent                bool            `json:"silent"`
	Ts                    int64           `json:"ts"`
}

// PairedNode is a node whose capability surface was approved.
type PairedNode struct {
	NodeID         string          `json:"nodeId"`
	ClientID       string          `json:"clientId,omitempty"`
	ClientMode     string          `json:"clientMode,omitempty"`
	DisplayName    string          `json:"displayName,omitempty"`
	Platform       string          `json:"platform,omitempty"`
	Version        string          `json:"version,omitempty"`
	DeviceFamily   string          `json:"deviceFamily,omitempty"`
	Caps           []string        `json:"caps"`
	Commands       []string        `json:"commands"`
	Permissions    map[string]bool `json:"permissions,omitempty"`
	CreatedAtMs    int64           `json:"createdAtMs"`
	ApprovedAtMs   int64           `json:"approvedAtMs"`
	LastSeenAtMs   int64           `json:"lastSeenAtMs,omitempty"`
	LastSeenReason string          `json:"lastSeenReason,omitempty"`
}

// NodePairListResult is the result of node.pair.list.
type NodePairListResult struct {
	Pending []PendingNode `json:"pending"`
	Paired  []PairedNode  `json:"paired"`
}

// NodePairResolvedEvent is the payload of node.pair.resolved.
type NodePairResolvedEvent struct {
	RequestID string `json:"requestId"`
	NodeID    string `json:"nodeId"`
	Decision  string `json:"decision"`
	Ts        int64  `json:"ts"`
}
