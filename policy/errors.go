package policy

import (
	"errors"
	"net/http"

	"github.com/tenantgw/gateway/balance"
)

// Decisions of policy. balance's sentinel errors are decisions too; ErrorFor maps both.
var (
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrForbidden          = errors.New("forbidden")
	ErrMaxDepth           = errors.New("maximum depth of the account tree reached")
	ErrRouteNotFound      = errors.New("no route")
	ErrResourceNotFound   = errors.New("not found")
	ErrTooLarge           = errors.New("body too large")
	ErrKYCRequired        = errors.New("KYC verification required")
	ErrIdempotencyReused  = balance.ErrIdempotencyReused
)

// ErrTooManyAuthFailures: the client address failed authentication too often (429
// TOO_MANY_AUTH_FAILURES; the caller sets Retry-After).
var ErrTooManyAuthFailures = errors.New("too many failed authentication attempts")

// InvalidError is a 400 naming the field at fault.
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

// PermissionError is a 403 PERMISSION_DENIED naming the flag and the account that lacks it.
type PermissionError struct{ Permission, AuthID string }

func (e *PermissionError) Error() string { return "permission " + e.Permission + " is off" }

// APIError is an error as the wire shows it (API.md §3).
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// ErrorFor maps any error to its status, code, message and details. Errors it does not know
// are 500 INTERNAL_ERROR with a generic message (the cause is logged, never shown).
func ErrorFor(err error) *APIError {
	var api *APIError
	if errors.As(err, &api) {
		return api
	}
	var inv *InvalidError
	if errors.As(err, &inv) {
		e := &APIError{Status: http.StatusBadRequest, Code: "INVALID_REQUEST", Message: inv.Error()}
		if inv.Field != "" {
			e.Details = map[string]any{"field": inv.Field}
		}
		return e
	}
	var perm *PermissionError
	if errors.As(err, &perm) {
		return &APIError{Status: http.StatusForbidden, Code: "PERMISSION_DENIED", Message: perm.Error(),
			Details: map[string]any{"permission": perm.Permission, "auth_id": perm.AuthID}}
	}
	var ins *balance.InsufficientError
	if errors.As(err, &ins) {
		return &APIError{Status: http.StatusPaymentRequired, Code: "INSUFFICIENT_BALANCE", Message: "balance too low for this request",
			Details: map[string]any{"auth_id": ins.AuthID, "required": ins.Required.String(), "available": ins.Available.String()}}
	}
	var sus *balance.SuspendedError
	if errors.As(err, &sus) {
		return conflict("parent_suspended", "an ancestor is suspended", map[string]any{"auth_id": sus.AuthID})
	}
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return &APIError{Status: http.StatusUnauthorized, Code: "INVALID_CREDENTIALS", Message: "missing, unknown or wrong credentials"}
	case errors.Is(err, ErrTooManyAuthFailures):
		return &APIError{Status: http.StatusTooManyRequests, Code: "TOO_MANY_AUTH_FAILURES", Message: "too many failed authentication attempts from this address"}
	case errors.Is(err, ErrForbidden):
		return &APIError{Status: http.StatusForbidden, Code: "FORBIDDEN", Message: "not allowed for these credentials"}
	case errors.Is(err, ErrKYCRequired):
		return &APIError{Status: http.StatusForbidden, Code: "KYC_REQUIRED", Message: "KYC verification required"}
	case errors.Is(err, ErrRouteNotFound):
		return &APIError{Status: http.StatusNotFound, Code: "ROUTE_NOT_FOUND", Message: "no route for this method and path"}
	case errors.Is(err, ErrResourceNotFound), errors.Is(err, balance.ErrNotFound):
		return &APIError{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "no such resource"}
	case errors.Is(err, ErrTooLarge):
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "PAYLOAD_TOO_LARGE", Message: "request body over the configured limit"}
	case errors.Is(err, balance.ErrUnavailable):
		return &APIError{Status: http.StatusServiceUnavailable, Code: "STORE_UNAVAILABLE", Message: "the store cannot be reached; nothing was charged"}
	case errors.Is(err, balance.ErrInsufficientBalance):
		return &APIError{Status: http.StatusPaymentRequired, Code: "INSUFFICIENT_BALANCE", Message: "balance too low for this request"}
	case errors.Is(err, ErrMaxDepth):
		return conflict("max_depth", err.Error(), nil)
	case errors.Is(err, balance.ErrAccountClosed):
		return conflict("account_closed", "the account is closed", nil)
	case errors.Is(err, balance.ErrHasSubaccounts):
		return conflict("has_subaccounts", "the account has subaccounts", nil)
	case errors.Is(err, balance.ErrSubaccountLimit):
		return conflict("subaccount_limit", "the parent has reached max_subaccounts", nil)
	case errors.Is(err, balance.ErrParentSuspended):
		return conflict("parent_suspended", "an ancestor is suspended", nil)
	case errors.Is(err, balance.ErrBalanceNotZero):
		return conflict("balance_not_zero", "a main account closes only with a zero balance: credit or debit it to 0.00 first", nil)
	case errors.Is(err, balance.ErrSharedBalance):
		return conflict("shared_balance", "the account has no own balance", nil)
	case errors.Is(err, ErrIdempotencyReused):
		return conflict("idempotency_key_reused", err.Error(), nil)
	case errors.Is(err, balance.ErrBalanceRange):
		return &APIError{Status: http.StatusBadRequest, Code: "INVALID_REQUEST", Message: err.Error(), Details: map[string]any{"field": "amount"}}
	}
	return &APIError{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: "internal error"}
}

func conflict(reason, msg string, details map[string]any) *APIError {
	if details == nil {
		details = map[string]any{}
	}
	details["reason"] = reason
	return &APIError{Status: http.StatusConflict, Code: "CONFLICT", Message: msg, Details: details}
}
