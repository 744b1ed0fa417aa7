// Package wire is what both listeners, the gateway's and the management API's, read and
// write on the wire: the error answer of API.md §3 (APIError), the one mapping from
// decisions to it (ErrorFor), the refusal table (refusals.go) and the error body and its
// writer (body.go).
//
// Everything here is safe for concurrent use. The table's rows and the *APIError values
// this package makes are never changed after they are made, except an *APIError a caller
// got fresh from ErrorFor, Refused or a row's Answer, whose Details it may add to.
package wire

import (
	"errors"
	"net/http"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
)

// APIError is an error as the wire shows it (API.md §3).
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// ErrorFor maps any error to its status, code, message and details: an *APIError (wrapped or
// not) answers itself; the decisions of policy and balance answer their row of the refusal
// table or their code of API.md §3. Errors it does not know are 500 INTERNAL_ERROR with a
// generic message (the cause is logged, never shown). The answer is new (its Details too)
// unless err holds an *APIError.
func ErrorFor(err error) *APIError {
	var api *APIError
	if errors.As(err, &api) {
		return api
	}
	var inv *policy.InvalidError
	if errors.As(err, &inv) {
		e := InvalidRequest.Saying(inv.Error(), nil)
		if inv.Field != "" {
			e.Details = map[string]any{"field": inv.Field}
		}
		return e
	}
	var perm *policy.PermissionError
	if errors.As(err, &perm) {
		return PermissionDenied.Saying(perm.Error(), map[string]any{"permission": perm.Permission, "auth_id": perm.AuthID})
	}
	var ins *balance.InsufficientError
	if errors.As(err, &ins) {
		return insufficient(ins.AuthID, ins.Required, ins.Available)
	}
	var sus *balance.SuspendedError
	if errors.As(err, &sus) {
		return conflict("parent_suspended", "an ancestor is suspended", map[string]any{"auth_id": sus.AuthID})
	}
	// One case a decision: the cases are alike by design, a table of sentinel → answer.
	switch {
	case errors.Is(err, policy.ErrInvalidCredentials):
		return InvalidCredentials.Answer(nil)
	case errors.Is(err, policy.ErrTooManyAuthFailures):
		return TooManyAuthFailures.Answer(nil)
	case errors.Is(err, policy.ErrForbidden):
		return Forbidden.Answer(nil)
	case errors.Is(err, policy.ErrKYCRequired):
		return KYCRequired.Answer(nil)
	case errors.Is(err, policy.ErrRouteNotFound):
		return RouteNotFound.Answer(nil)
	case errors.Is(err, policy.ErrResourceNotFound), errors.Is(err, balance.ErrNotFound), errors.Is(err, balance.ErrNoSuchNumber):
		return &APIError{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "no such resource"}
	case errors.Is(err, policy.ErrTooLarge):
		return PayloadTooLarge.Answer(nil)
	case errors.Is(err, balance.ErrUnavailable):
		return StoreUnavailable.Answer(nil)
	case errors.Is(err, balance.ErrInsufficientBalance):
		return InsufficientBalance.Answer(nil)
	case errors.Is(err, policy.ErrMaxDepth):
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
	case errors.Is(err, balance.ErrNumberTaken):
		return conflict("number_taken", "the number belongs to an account already", nil)
	case errors.Is(err, balance.ErrMainAccountNumber):
		return conflict("main_account_number", "a main account's number is removed by the operator only", nil)
	case errors.Is(err, balance.ErrIdempotencyReused):
		return conflict("idempotency_key_reused", err.Error(), nil)
	case errors.Is(err, balance.ErrHoldEnded):
		return conflict("hold_ended", "the hold has ended, and not by this request", nil)
	case errors.Is(err, balance.ErrBalanceRange):
		return InvalidRequest.Saying(err.Error(), map[string]any{"field": "amount"})
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
