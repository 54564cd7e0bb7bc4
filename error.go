// Package likeness holds the domain types, the interfaces the other packages
// implement, and the single error type every layer returns.
package likeness

import (
	"errors"
	"fmt"
)

// Application error codes. The server maps each to an HTTP status and a
// WebSocket reply in one place; the codes are part of the public API.
const (
	EINVALID      = "invalid"            // the request or its content is malformed
	ETOOLARGE     = "too_large"          // the input exceeds a size limit
	ENOTFOUND     = "not_found"          // the resource does not exist (or is not visible)
	ECONFLICT     = "conflict"           // the resource already exists or is in use
	EUNAUTHORIZED = "unauthorized"       // missing or bad credentials
	EFORBIDDEN    = "forbidden"          // credentials are fine but not allowed here
	ERATELIMIT    = "rate_limited"       // too many requests
	EUNAVAILABLE  = "unavailable"        // overloaded or shutting down; try later
	EINTERNAL     = "internal"           // anything else; never shown in detail
	ENOFACE       = "no_face"            // no usable face in an image
	EMANYFACES    = "many_faces"         // more than one face where one is required
	EUNSUPPORTED  = "unsupported"        // a format or feature that is not supported
	ECONSENT      = "consent"            // no consent record for an enrollment
	EPRECONDITION = "precondition"       // a precondition (state, setting) does not hold
	EMETHOD       = "method_not_allowed" // the path exists, not with this method
)

// Error is the one error type of Likeness. Code and Message are safe to show
// to a client; Err is the underlying cause and is only ever logged.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements error. It includes the cause for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a client-safe formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with a client-safe message and a cause kept for logs.
func Wrap(err error, code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the client-safe message of the first *Error in err's
// chain, or a generic message for any other error.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "Internal error."
	}
}
