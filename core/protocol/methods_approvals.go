package protocol

import "encoding/json"

// Exec approval decisions (exec.approval.resolve decision, final results).
const (
	ApprovalAllowOnce   = "allow-once"
	ApprovalAllowAlways = "allow-always"
	ApprovalDeny        = "deny"
)

// Approval error details reasons (error.details.reason; the reference puts
// the sub-code there, Pincer also mirrors it in details.code).
const (
	DetailApprovalNotFound               = "APPROVAL_NOT_FOUND"
	DetailApprovalAlreadyResolved        = "APPROVAL_ALREADY_RESOLVED"
	DetailApprovalAllowAlwaysUnavailable = "APPROVAL_ALLOW_ALWAYS_UNAVAILABLE"
)

// ExecSystemRunPlan is the node host's prepared system.run plan
// (exec.approval.request systemRunPlan).
type ExecSystemRunPlan struct {
	Argv           []string                `json:"argv"`
	Cwd            *string                 `json:"cwd"`
	CommandText    string                  `json:"commandText"`
	CommandPreview *string                 `json:"commandPreview,omitempty" jsonschema:"anyof_type=string;null"`
	AgentID        *string                 `json:"agentId"`
	SessionKey     *string                 `json:"sessionKey"`
	PolicySnapshot *ExecApprovalPolicySnap `json:"policySnapshot,omitempty"`
	// MutableFileOperand is {argvIndex, path, sha256} or null.
	MutableFileOperand json.RawMessage `json:"mutableFileOperand,omitempty"`
}

// ExecApprovalPolicySnap is the exec policy a node evaluated.
type ExecApprovalPolicySnap struct {
	Security        string                  `json:"security" jsonschema:"enum=deny,enum=allowlist,enum=full"`
	Ask             string                  `json:"ask" jsonschema:"enum=off,enum=on-miss,enum=always"`
	AskFallback     string                  `json:"askFallback" jsonschema:"enum=deny,enum=allowlist,enum=full"`
	AutoAllowSkills bool                    `json:"autoAllowSkills"`
	AllowlistRules  []ExecApprovalAllowRule `json:"allowlistRules"`
}

// ExecApprovalAllowRule is one allowlist rule of a policy snapshot.
type ExecApprovalAllowRule struct {
	Pattern    string `json:"pattern"`
	ArgPattern string `json:"argPattern,omitempty"`
	Source     string `json:"source,omitempty" jsonschema:"enum=allow-always"`
}

// ExecCommandSpan is a highlighted span of the command text.
type ExecCommandSpan struct {
	StartIndex int64 `json:"startIndex" jsonschema:"minimum=0"`
	EndIndex   int64 `json:"endIndex" jsonschema:"minimum=1"`
}

// ApprovalReviewer identifies a channel reviewer resolving an approval.
type ApprovalReviewer struct {
	Channel   string `json:"channel" jsonschema:"minLength=1"`
	AccountID string `json:"accountId" jsonschema:"minLength=1"`
	SenderID  string `json:"senderId" jsonschema:"minLength=1"`
}

// ExecApprovalRequestParams are the params of exec.approval.request.
type ExecApprovalRequestParams struct {
	ID                           *string            `json:"id,omitempty" jsonschema:"minLength=1"`
	Command                      *string            `json:"command,omitempty" jsonschema:"minLength=1"`
	CommandArgv                  []string           `json:"commandArgv,omitempty"`
	SystemRunPlan                *ExecSystemRunPlan `json:"systemRunPlan,omitempty"`
	Env                          map[string]string  `json:"env,omitempty"`
	Cwd                          *string            `json:"cwd,omitempty" jsonschema:"anyof_type=string;null"`
	NodeID                       *string            `json:"nodeId,omitempty" jsonschema:"anyof_type=string;null,minLength=1"`
	Host                         *string            `json:"host,omitempty" jsonschema:"anyof_type=string;null"`
	Security                     *string            `json:"security,omitempty" jsonschema:"anyof_type=string;null"`
	Ask                          *string            `json:"ask,omitempty" jsonschema:"anyof_type=string;null"`
	WarningText                  *string            `json:"warningText,omitempty" jsonschema:"anyof_type=string;null"`
	Scope                        json.RawMessage    `json:"scope,omitempty"` // message-send | payment | external-post | standing-grant
	UnavailableDecisions         []string           `json:"unavailableDecisions,omitempty" jsonschema:"minItems=1,maxItems=1"`
	CommandSpans                 []ExecCommandSpan  `json:"commandSpans,omitempty"`
	AgentID                      *string            `json:"agentId,omitempty" jsonschema:"anyof_type=string;null"`
	ResolvedPath                 *string            `json:"resolvedPath,omitempty" jsonschema:"anyof_type=string;null"`
	SessionKey                   *string            `json:"sessionKey,omitempty" jsonschema:"anyof_type=string;null"`
	SessionID                    *string            `json:"sessionId,omitempty" jsonschema:"anyof_type=string;null"`
	RunID                        *string            `json:"runId,omitempty" jsonschema:"anyof_type=string;null"`
	ToolCallID                   *string            `json:"toolCallId,omitempty" jsonschema:"anyof_type=string;null"`
	TurnSourceChannel            *string            `json:"turnSourceChannel,omitempty" jsonschema:"anyof_type=string;null"`
	TurnSourceTo                 *string            `json:"turnSourceTo,omitempty" jsonschema:"anyof_type=string;null"`
	TurnSourceAccountID          *string            `json:"turnSourceAccountId,omitempty" jsonschema:"anyof_type=string;null"`
	TurnSourceThreadID           json.RawMessage    `json:"turnSourceThreadId,omitempty"` // string | number | null
	ApprovalReviewerDeviceIDs    []string           `json:"approvalReviewerDeviceIds,omitempty"`
	RequireDeliveryRoute         *bool              `json:"requireDeliveryRoute,omitempty"`
	SuppressDelivery             *bool              `json:"suppressDelivery,omitempty"`
	DeliverToApprovalClientsOnly *bool              `json:"deliverToApprovalClientsOnly,omitempty"`
	TimeoutMs                    *int64             `json:"timeoutMs,omitempty" jsonschema:"minimum=1"`
	TwoPhase                     *bool              `json:"twoPhase,omitempty"`
}

// ExecApprovalResolveParams are the params of exec.approval.resolve.
type ExecApprovalResolveParams struct {
	ID                 string            `json:"id" jsonschema:"minLength=1"`
	Decision           string            `json:"decision" jsonschema:"minLength=1"`
	Reviewer           *ApprovalReviewer `json:"reviewer,omitempty"`
	GrantExpiresInDays *int64            `json:"grantExpiresInDays,omitempty" jsonschema:"minimum=1,maximum=3650"`
}

// ExecApprovalGetParams are the params of exec.approval.get.
type ExecApprovalGetParams struct {
	ID string `json:"id" jsonschema:"minLength=1"`
}

// ExecApprovalListParams are the params of exec.approval.list (the
// reference does not validate them: open).
type ExecApprovalListParams struct{}

// OpenParams marks the params as open.
func (ExecApprovalListParams) OpenParams() {}

// ExecApprovalWaitDecisionParams are the params of exec.approval.waitDecision.
// The reference reads only id (checked by the handler: "id is required");
// timeoutMs is a Pincer extension bounding the wait.
type ExecApprovalWaitDecisionParams struct {
	ID        string `json:"id,omitempty"`
	TimeoutMs *int64 `json:"timeoutMs,omitempty" jsonschema:"minimum=1"`
}

// OpenParams marks the params as open.
func (ExecApprovalWaitDecisionParams) OpenParams() {}

// ExecCommandAnalysis summarises a command for reviewers.
type ExecCommandAnalysis struct {
	CommandCount       int      `json:"commandCount"`
	NestedCommandCount int      `json:"nestedCommandCount"`
	RiskKinds          []string `json:"riskKinds"`
	WarningLines       []string `json:"warningLines"`
}

// ExecApprovalRequestPayload is the request object of an exec approval as
// reviewers see it (exec.approval.requested/resolved request, list entries).
// Absent values are null, as on the wire (spec §6.8).
type ExecApprovalRequestPayload struct {
	Command              string              `json:"command"`
	CommandPreview       *string             `json:"commandPreview,omitempty"`
	CommandArgv          []string            `json:"commandArgv,omitempty"`
	EnvKeys              []string            `json:"envKeys,omitempty"`
	SystemRunBinding     json.RawMessage     `json:"systemRunBinding"`
	SystemRunPlan        json.RawMessage     `json:"systemRunPlan"`
	Cwd                  *string             `json:"cwd"`
	NodeID               *string             `json:"nodeId"`
	Host                 *string             `json:"host"`
	Security             *string             `json:"security"`
	Ask                  *string             `json:"ask"`
	WarningText          *string             `json:"warningText"`
	Scope                json.RawMessage     `json:"scope"`
	CommandAnalysis      ExecCommandAnalysis `json:"commandAnalysis"`
	CommandSpans         []ExecCommandSpan   `json:"commandSpans,omitempty"`
	UnavailableDecisions []string            `json:"unavailableDecisions,omitempty"`
	AllowedDecisions     []string            `json:"allowedDecisions"`
	AgentID              *string             `json:"agentId"`
	ResolvedPath         *string             `json:"resolvedPath"`
	SessionKey           *string             `json:"sessionKey"`
	SessionID            *string             `json:"sessionId"`
	RunID                *string             `json:"runId"`
	ToolCallID           *string             `json:"toolCallId"`
	TurnSourceChannel    *string             `json:"turnSourceChannel"`
	TurnSourceTo         *string             `json:"turnSourceTo"`
	TurnSourceAccountID  *string             `json:"turnSourceAccountId"`
	TurnSourceThreadID   json.RawMessage     `json:"turnSourceThreadId"`
	CronExecutionSource  json.RawMessage     `json:"cronExecutionSource"`
	CronOperationBinding json.RawMessage     `json:"cronOperationBinding"`
}

// ExecApprovalRequestedEvent is the exec.approval.requested payload.
type ExecApprovalRequestedEvent struct {
	ApprovalKind string                     `json:"approvalKind"` // "exec"
	ID           string                     `json:"id"`
	Request      ExecApprovalRequestPayload `json:"request"`
	CreatedAtMs  int64                      `json:"createdAtMs"`
	ExpiresAtMs  int64                      `json:"expiresAtMs"`
}

// ExecApprovalResolvedEvent is the exec.approval.resolved payload.
type ExecApprovalResolvedEvent struct {
	ID         string                     `json:"id"`
	Decision   string                     `json:"decision"`
	ResolvedBy *string                    `json:"resolvedBy"`
	Ts         int64                      `json:"ts"`
	Request    ExecApprovalRequestPayload `json:"request"`
}

// ExecApprovalAccepted is the interim res of a two-phase exec.approval.request.
type ExecApprovalAccepted struct {
	Status        string `json:"status"` // "accepted"
	ID            string `json:"id"`
	DeliveryRoute string `json:"deliveryRoute"` // "approval-client"
	CreatedAtMs   int64  `json:"createdAtMs"`
	ExpiresAtMs   int64  `json:"expiresAtMs"`
}

// ExecApprovalDecisionResult is the final result of exec.approval.request and
// the result of exec.approval.waitDecision; decision is null when the
// approval expired or had no route.
type ExecApprovalDecisionResult struct {
	ID          string  `json:"id"`
	Decision    *string `json:"decision"`
	CreatedAtMs int64   `json:"createdAtMs"`
	ExpiresAtMs int64   `json:"expiresAtMs"`
}

// ExecApprovalGetResult is the result of exec.approval.get.
type ExecApprovalGetResult struct {
	ID               string   `json:"id"`
	CommandText      string   `json:"commandText"`
	CommandPreview   *string  `json:"commandPreview"`
	AllowedDecisions []string `json:"allowedDecisions"`
	Host             *string  `json:"host"`
	NodeID           *string  `json:"nodeId"`
	AgentID          *string  `json:"agentId"`
	ExpiresAtMs      int64    `json:"expiresAtMs"`
}

// ExecApprovalListEntry is one element of the exec.approval.list result (a
// bare array).
type ExecApprovalListEntry struct {
	ID           string                     `json:"id"`
	Request      ExecApprovalRequestPayload `json:"request"`
	CreatedAtMs  int64                      `json:"createdAtMs"`
	ExpiresAtMs  int64                      `json:"expiresAtMs"`
	ApprovalKind string                     `json:"approvalKind"` // "exec"
}
