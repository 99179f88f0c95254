package protocol

import (
	"encoding/json"
	"fmt"
)

// Top-level error codes (error.code).
const (
	CodeInvalidRequest   = "INVALID_REQUEST"
	CodeUnavailable      = "UNAVAILABLE"
	CodeForbidden        = "FORBIDDEN"
	CodeNotPaired        = "NOT_PAIRED"
	CodeApprovalNotFound = "APPROVAL_NOT_FOUND"
)

// Connect-time detail codes (error.details.code), spec §1.3.
const (
	DetailAuthRequired                    = "AUTH_REQUIRED"
	DetailAuthUnauthorized                = "AUTH_UNAUTHORIZED"
	DetailAuthTokenMissing                = "AUTH_TOKEN_MISSING"
	DetailAuthTokenMismatch               = "AUTH_TOKEN_MISMATCH"
	DetailAuthTokenNotConfigured          = "AUTH_TOKEN_NOT_CONFIGURED"
	DetailAuthPasswordMissing             = "AUTH_PASSWORD_MISSING"
	DetailAuthPasswordMismatch            = "AUTH_PASSWORD_MISMATCH"
	DetailAuthPasswordNotConfigured       = "AUTH_PASSWORD_NOT_CONFIGURED"
	DetailAuthBootstrapTokenInvalid       = "AUTH_BOOTSTRAP_TOKEN_INVALID"
	DetailAuthDeviceTokenMismatch         = "AUTH_DEVICE_TOKEN_MISMATCH"
	DetailAuthScopeMismatch               = "AUTH_SCOPE_MISMATCH"
	DetailAuthRateLimited                 = "AUTH_RATE_LIMITED"
	DetailAuthTailscaleIdentityMissing    = "AUTH_TAILSCALE_IDENTITY_MISSING"
	DetailAuthTailscaleProxyMissing       = "AUTH_TAILSCALE_PROXY_MISSING"
	DetailAuthTailscaleWhoisFailed        = "AUTH_TAILSCALE_WHOIS_FAILED"
	DetailAuthTailscaleIdentityMismatch   = "AUTH_TAILSCALE_IDENTITY_MISMATCH"
	DetailAuthIdentityHeaderRequired      = "AUTH_IDENTITY_HEADER_REQUIRED"
	DetailAuthVerifiedUserRequired        = "AUTH_VERIFIED_USER_REQUIRED"
	DetailAuthenticatedProfileUnavailable = "AUTHENTICATED_PROFILE_UNAVAILABLE"
	DetailControlUIBuildMismatch          = "CONTROL_UI_BUILD_MISMATCH"
	DetailControlUIOriginNotAllowed       = "CONTROL_UI_ORIGIN_NOT_ALLOWED"
	DetailProtocolMismatch                = "PROTOCOL_MISMATCH"
	DetailControlUIDeviceIdentityRequired = "CONTROL_UI_DEVICE_IDENTITY_REQUIRED"
	DetailDeviceIdentityRequired          = "DEVICE_IDENTITY_REQUIRED"
	DetailDeviceAuthInvalid               = "DEVICE_AUTH_INVALID"
	DetailDeviceAuthDeviceIDMismatch      = "DEVICE_AUTH_DEVICE_ID_MISMATCH"
	DetailDeviceAuthSignatureExpired      = "DEVICE_AUTH_SIGNATURE_EXPIRED"
	DetailDeviceAuthNonceRequired         = "DEVICE_AUTH_NONCE_REQUIRED"
	DetailDeviceAuthNonceMismatch         = "DEVICE_AUTH_NONCE_MISMATCH"
	DetailDeviceAuthSignatureInvalid      = "DEVICE_AUTH_SIGNATURE_INVALID"
	DetailDeviceAuthPublicKeyInvalid      = "DEVICE_AUTH_PUBLIC_KEY_INVALID"
	DetailPairingRequired                 = "PAIRING_REQUIRED"
	DetailClientVersionMismatch           = "CLIENT_VERSION_MISMATCH"
)

// Method-level detail codes, spec §1.3.
const (
	DetailCronJobNotFound                  = "CRON_JOB_NOT_FOUND"
	DetailMissingScope                     = "MISSING_SCOPE"
	DetailMCPAppViewExpired                = "MCP_APP_VIEW_EXPIRED"
	DetailOutboundDeliveryQueued           = "OUTBOUND_DELIVERY_QUEUED"
	DetailUserPrefsLimitExceeded           = "USER_PREFS_LIMIT_EXCEEDED"
	DetailSessionCompanionBusy             = "SESSION_COMPANION_BUSY"
	DetailSkillProposalRevisionChanged     = "SKILL_PROPOSAL_REVISION_CHANGED"
	DetailProjectCloneFailed               = "PROJECT_CLONE_FAILED"
	DetailUnknownAgentID                   = "UNKNOWN_AGENT_ID"
	DetailWizardNotFound                   = "WIZARD_NOT_FOUND"
	DetailSetupAdmissionBusy               = "SETUP_ADMISSION_BUSY"
	DetailGithubPublicationSelectionReject = "GITHUB_PUBLICATION_SELECTION_REJECTED"
	DetailSessionWorkspaceRecoveryRequired = "SESSION_WORKSPACE_RECOVERY_REQUIRED"
	DetailTaskWorktreeSourceRequired       = "TASK_WORKTREE_SOURCE_REQUIRED"
	DetailPairingChanged                   = "PAIRING_CHANGED"
)

// ConnectErrorDetailCodes lists every connect-time detail code.
var ConnectErrorDetailCodes = []string{
	DetailAuthRequired, DetailAuthUnauthorized, DetailAuthTokenMissing, DetailAuthTokenMismatch,
	DetailAuthTokenNotConfigured, DetailAuthPasswordMissing, DetailAuthPasswordMismatch,
	DetailAuthPasswordNotConfigured, DetailAuthBootstrapTokenInvalid, DetailAuthDeviceTokenMismatch,
	DetailAuthScopeMismatch, DetailAuthRateLimited, DetailAuthTailscaleIdentityMissing,
	DetailAuthTailscaleProxyMissing, DetailAuthTailscaleWhoisFailed, DetailAuthTailscaleIdentityMismatch,
	DetailAuthIdentityHeaderRequired, DetailAuthVerifiedUserRequired, DetailAuthenticatedProfileUnavailable,
	DetailControlUIBuildMismatch, DetailControlUIOriginNotAllowed, DetailProtocolMismatch,
	DetailControlUIDeviceIdentityRequired, DetailDeviceIdentityRequired, DetailDeviceAuthInvalid,
	DetailDeviceAuthDeviceIDMismatch, DetailDeviceAuthSignatureExpired, DetailDeviceAuthNonceRequired,
	DetailDeviceAuthNonceMismatch, DetailDeviceAuthSignatureInvalid, DetailDeviceAuthPublicKeyInvalid,
	DetailPairingRequired, DetailClientVersionMismatch,
}

// ErrorShape is error in a res frame.
type ErrorShape struct {
	Code         string `json:"code" jsonschema:"minLength=1"`
	Message      string `json:"message" jsonschema:"minLength=1"`
	Details      any    `json:"details,omitempty"`
	Retryable    *bool  `json:"retryable,omitempty"`
	RetryAfterMs *int64 `json:"retryAfterMs,omitempty" jsonschema:"minimum=0"`
}

// Error is a protocol error that handlers return; it carries everything the
// res frame needs.
type Error struct {
	Code         string
	Message      string
	Details      any
	Retryable    bool
	RetryAfterMs int64
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// Shape converts the error to its wire form.
func (e *Error) Shape() *ErrorShape {
	s := &ErrorShape{Code: e.Code, Message: e.Message, Details: e.Details}
	if e.Retryable {
		t := true
		s.Retryable = &t
	}
	if e.RetryAfterMs > 0 {
		v := e.RetryAfterMs
		s.RetryAfterMs = &v
	}
	return s
}

// AsError turns a wire error back into an Error (clients use it).
func (s *ErrorShape) AsError() *Error {
	if s == nil {
		return nil
	}
	e := &Error{Code: s.Code, Message: s.Message, Details: s.Details}
	if s.Retryable != nil {
		e.Retryable = *s.Retryable
	}
	if s.RetryAfterMs != nil {
		e.RetryAfterMs = *s.RetryAfterMs
	}
	return e
}

// DetailCode returns details.code when details is an object carrying one.
func (e *Error) DetailCode() string {
	switch d := e.Details.(type) {
	case map[string]any:
		if c, ok := d["code"].(string); ok {
			return c
		}
	case MissingScopeDetails:
		return d.Code
	case json.RawMessage:
		var m struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(d, &m) == nil {
			return m.Code
		}
	}
	return ""
}

// Details is a free-form details object.
type Details = map[string]any

// Errorf builds an error with a code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidRequest is the common INVALID_REQUEST error.
func InvalidRequest(msg string) *Error { return &Error{Code: CodeInvalidRequest, Message: msg} }

// Unavailable is a retryable UNAVAILABLE error.
func Unavailable(msg string, retryAfterMs int64) *Error {
	return &Error{Code: CodeUnavailable, Message: msg, Retryable: true, RetryAfterMs: retryAfterMs}
}

// MissingScope is the FORBIDDEN error for a caller lacking scope.
func MissingScope(scope string) *Error {
	return &Error{
		Code:    CodeForbidden,
		Message: "missing scope: " + scope,
		Details: MissingScopeDetails{Code: DetailMissingScope, MissingScope: scope, RequiredScopes: []string{scope}},
	}
}

// MissingScopeDetails are the details of a FORBIDDEN missing-scope error.
type MissingScopeDetails struct {
	Code           string   `json:"code" jsonschema:"enum=MISSING_SCOPE"`
	MissingScope   string   `json:"missingScope" jsonschema:"minLength=1"`
	RequiredScopes []string `json:"requiredScopes" jsonschema:"minItems=1"`
}

// UnknownMethod is the error for a method the gateway does not have.
func UnknownMethod(m string) *Error { return InvalidRequest("unknown method: " + m) }

// InvalidParams formats a params validation failure the reference's way.
func InvalidParams(method, reason string) *Error {
	return InvalidRequest("invalid " + method + " params: " + reason)
}
