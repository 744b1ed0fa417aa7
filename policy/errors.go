package policy

import "errors"

// Decisions of policy. They say nothing of HTTP: policy/wire maps them, and balance's
// sentinel errors, to the answers of API.md §3 (wire.ErrorFor). (A list shaped like
// balance's on purpose: each package declares the decisions it makes.)
var (
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrForbidden          = errors.New("forbidden")
	ErrMaxDepth           = errors.New("maximum depth of the account tree reached")
	ErrRouteNotFound      = errors.New("no route")
	ErrResourceNotFound   = errors.New("not found")
	ErrTooLarge           = errors.New("body too large")
	ErrKYCRequired        = errors.New("KYC verification required")
)

// ErrTooManyAuthFailures: the client address failed authentication too often (429
// TOO_MANY_AUTH_FAILURES; the caller sets Retry-After).
var ErrTooManyAuthFailures = errors.New("too many failed authentication attempts")

// InvalidError is a bad request naming the field at fault (400 INVALID_REQUEST).
type InvalidError struct {
	Field   string // "" when the body as a whole is at fault
	Message string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Invalid returns an *InvalidError.
func Invalid(field, msg string) error { return &InvalidError{Field: field, Message: msg} }

// PermissionError names the permission flag that is off and the account that lacks it (403
// PERMISSION_DENIED).
type PermissionError struct{ Permission, AuthID string }

func (e *PermissionError) Error() string { return "permission " + e.Permission + " is off" }
