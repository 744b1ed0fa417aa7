package wire

import (
	"net/http"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// Refusal is one row of the refusal table: a reason to answer a request without doing it
// (nothing is charged), as the wire and the metrics show it.
type Refusal struct {
	// Label is the refusal's metric label value, snake_case: the reason of
	// gateway_refusals_total and, for the store's refusals, the outcome of
	// gateway_requests_total.
	Label   string
	Status  int    // HTTP status
	Code    string // error code (API.md §3)
	Message string // error message; PERMISSION_DENIED's names the flag when it is known (policy.PermissionError)
}

// Refusals is the refusal table of the admit script, keyed by the store's reason: row r is
// the answer to balance.Reason r, the code the script answers. balance/lua/admit.lua names
// these codes at its top, after the rows' Label in capitals (TestAdmitLuaCodes pins them to this table).
// Row 0, balance.Admitted, is no refusal and empty. A new refusal of the script is a
// balance.Reason, its row here and its Lua constant; everything else (the answer, the
// gateway's outcome and metric labels) follows from the row.
var Refusals = [...]Refusal{
	balance.ReasonCredentials:  {"invalid_credentials", http.StatusUnauthorized, "INVALID_CREDENTIALS", "missing, unknown or wrong credentials"},
	balance.ReasonGone:         {"forbidden", http.StatusForbidden, "FORBIDDEN", "not allowed for these credentials"},
	balance.ReasonSuspended:    {"suspended", http.StatusForbidden, "ACCOUNT_SUSPENDED", "the account or an ancestor is suspended"},
	balance.ReasonPermission:   {"permission_denied", http.StatusForbidden, "PERMISSION_DENIED", "a permission flag in the chain is off"},
	balance.ReasonKYC:          {"kyc_required", http.StatusForbidden, "KYC_REQUIRED", "KYC verification required"},
	balance.ReasonRateLimited:  {"rate_limited", http.StatusTooManyRequests, "RATE_LIMITED", "over a rate limit in the chain"},
	balance.ReasonInsufficient: {"insufficient_balance", http.StatusPaymentRequired, "INSUFFICIENT_BALANCE", "balance too low for this request"},
	// The request was given up (answered 503) and checked for a charge before its admit ran
	// (see balance.ReasonWithdrawn): answered as the 503 it already was.
	balance.ReasonWithdrawn: {"withdrawn", http.StatusServiceUnavailable, "STORE_UNAVAILABLE", "the store cannot be reached; nothing was charged"},
	// The route's caller-ID field names a number the path account does not own (API.md §9).
	balance.ReasonNumberNotOwned: {"number_not_owned", http.StatusForbidden, "NUMBER_NOT_OWNED", "the path account does not own this number"},
	// A call route's own refusals (API.md §8; balance/lua/call.lua).
	balance.ReasonCPS:         {"cps_limited", http.StatusTooManyRequests, "CPS_LIMITED", "over calls_per_second in the chain"},
	balance.ReasonConcurrency: {"concurrency_limited", http.StatusTooManyRequests, "CONCURRENCY_LIMITED", "an account in the chain has max_concurrent_calls calls open"},
}

// The rows of Refusals by name, for answers made without the store (the listeners decide
// some of the same refusals themselves: bad credentials, the access rule).
var (
	InvalidCredentials  = &Refusals[balance.ReasonCredentials]
	Forbidden           = &Refusals[balance.ReasonGone]
	Suspended           = &Refusals[balance.ReasonSuspended]
	PermissionDenied    = &Refusals[balance.ReasonPermission]
	KYCRequired         = &Refusals[balance.ReasonKYC]
	RateLimited         = &Refusals[balance.ReasonRateLimited]
	InsufficientBalance = &Refusals[balance.ReasonInsufficient]
	NumberNotOwned      = &Refusals[balance.ReasonNumberNotOwned]
)

// Refusals decided before, or instead of, the admit script.
var (
	TooManyAuthFailures = &Refusal{"too_many_auth_failures", http.StatusTooManyRequests, "TOO_MANY_AUTH_FAILURES",
		"too many failed authentication attempts from this address"}
	StoreUnavailable = &Refusal{"store_unavailable", http.StatusServiceUnavailable, "STORE_UNAVAILABLE",
		"the store cannot be reached; nothing was charged"}
	RouteNotFound   = &Refusal{"route_not_found", http.StatusNotFound, "ROUTE_NOT_FOUND", "no route for this method and path"}
	PayloadTooLarge = &Refusal{"payload_too_large", http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE",
		"request body over the configured limit"}
	// InvalidRequest is a request that cannot be read or acted on: malformed HTTP, a header
	// too large (431), one not received in time (408), a path not in normal form, a bad
	// field (details.field). Its answers say which in their own message (Saying).
	InvalidRequest = &Refusal{"invalid_request", http.StatusBadRequest, "INVALID_REQUEST", "malformed HTTP request"}
)

// ForReason answers the row of the store's reason r; ok is false when r is no refusal the
// table knows (balance.Admitted, or a code newer than this table).
func ForReason(r balance.Reason) (row *Refusal, ok bool) {
	if r == balance.Admitted || int(r) >= len(Refusals) {
		return nil, false
	}
	return &Refusals[r], true
}

// NumberNotOwnedAnswer is 403 NUMBER_NOT_OWNED naming the number and the route's caller-ID
// field it came in (the store's decision knows neither: Refused answers the row bare).
func NumberNotOwnedAnswer(number, field string) *APIError {
	return NumberNotOwned.Answer(map[string]any{"number": number, "field": field})
}

// Answer is the row's answer with details (nil for none): a new *APIError.
func (r *Refusal) Answer(details map[string]any) *APIError {
	return &APIError{Status: r.Status, Code: r.Code, Message: r.Message, Details: details}
}

// Saying is the row's answer with its own message and details: a new *APIError.
func (r *Refusal) Saying(message string, details map[string]any) *APIError {
	return &APIError{Status: r.Status, Code: r.Code, Message: message, Details: details}
}

// Refused is the answer to an admit the store refused (d.Admitted is false): the row of
// d.Reason with the details API.md §3 gives it. Every refusal that names an account names it
// in details.auth_id (INVALID_CREDENTIALS and FORBIDDEN name none: nobody can probe for
// accounts); PERMISSION_DENIED adds the route's permission (the message names it too),
// RATE_LIMITED the limit, INSUFFICIENT_BALANCE what was required, what was available and the
// path account's currency. A reason the table does not know is 500 INTERNAL_ERROR.
func Refused(d *balance.Decision, permission, currency string) *APIError {
	row, ok := ForReason(d.Reason)
	if !ok {
		return ErrorFor(nil)
	}
	switch d.Reason {
	case balance.ReasonCredentials, balance.ReasonGone, balance.ReasonNumberNotOwned:
		return row.Answer(nil)
	case balance.ReasonPermission:
		return ErrorFor(&policy.PermissionError{Permission: permission, AuthID: d.AuthID})
	case balance.ReasonRateLimited, balance.ReasonCPS:
		return row.Answer(map[string]any{"auth_id": d.AuthID, "limit": d.Limit})
	case balance.ReasonConcurrency:
		return row.Answer(map[string]any{"auth_id": d.AuthID, "limit": d.Limit, "active": d.Remaining})
	case balance.ReasonInsufficient:
		e := insufficient(d.AuthID, d.Price, d.Available)
		e.Details["currency"] = currency
		return e
	}
	return row.Answer(map[string]any{"auth_id": d.AuthID})
}

// insufficient is the 402 INSUFFICIENT_BALANCE naming the account that cannot pay, what was
// required and what it has (balance + credit_limit). Callers that know the currency add it.
func insufficient(authID string, required, available model.Amount) *APIError {
	return InsufficientBalance.Answer(map[string]any{"auth_id": authID, "required": required.String(), "available": available.String()})
}
