package commands

import (
	"context"
	"errors"
	"fmt"
)

// Node-side error codes used by this package.
const (
	CodeInvalidRequest      = "INVALID_REQUEST"
	CodeUnavailable         = "UNAVAILABLE"
	CodeTimeout             = "TIMEOUT"
	CodeSystemRunDenied     = "SYSTEM_RUN_DENIED"
	CodeLocationUnavailable = "LOCATION_UNAVAILABLE"
	CodeCameraUnavailable   = "CAMERA_UNAVAILABLE"
	CodeScreenUnavailable   = "SCREEN_UNAVAILABLE"
	CodeCanvasUnavailable   = "CANVAS_UNAVAILABLE"
	CodePayloadTooLarge     = "PAYLOAD_TOO_LARGE"
)

// Error is a node-side failure. Code is an upper-snake prefix such as
// "INVALID_REQUEST" or "LOCATION_UNAVAILABLE"; Message is human readable.
type Error struct{ Code, Message string }

// Error renders "CODE: message", the form the gateway shows operators.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error {
	return newError(CodeInvalidRequest, format, args...)
}

// asError maps any handler error onto an *Error: an *Error (possibly
// wrapped) is kept, a context deadline becomes TIMEOUT and anything else is
// reported as UNAVAILABLE.
func asError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeTimeout, Message: err.Error()}
	}
	return &Error{Code: CodeUnavailable, Message: err.Error()}
}
