package gateway

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
)

// Errors the gateway answers without details; built once.
var (
	errRouteNotFound       = policy.ErrorFor(policy.ErrRouteNotFound)
	errInvalidCredentials  = policy.ErrorFor(policy.ErrInvalidCredentials)
	errForbidden           = policy.ErrorFor(policy.ErrForbidden)
	errStoreUnavailable    = policy.ErrorFor(balance.ErrUnavailable)
	errTooLarge            = policy.ErrorFor(policy.ErrTooLarge)
	errInternal            = policy.ErrorFor(nil)
	errAuthThrottled       = policy.ErrorFor(policy.ErrTooManyAuthFailures)
	errUpstreamUnavailable = &policy.APIError{Status: http.StatusBadGateway, Code: "UPSTREAM_UNAVAILABLE", Message: "the upstream could not be reached or answered garbage; nothing was charged"}
	errUpstreamTimeout     = &policy.APIError{Status: http.StatusGatewayTimeout, Code: "UPSTREAM_TIMEOUT", Message: "the upstream did not answer in time; nothing was charged"}
)

// refusal maps an admit refusal to its answer (API.md §3), naming the account at fault.
func (g *Gateway) refusal(ctx *fasthttp.RequestCtx, route *policy.Route, caller, path *facts, d *balance.Decision) (Outcome, *policy.APIError) {
	switch d.Reason {
	case balance.ReasonCredentials:
		// The store knows better than the cache (rotated or closed elsewhere).
		g.Invalidate(caller.id)
		return g.authFailed(ctx, g.client(ctx))
	case balance.ReasonGone:
		g.Invalidate(d.AuthID)
		return OutcomeForbidden, errForbidden
	case balance.ReasonSuspended:
		return OutcomeSuspended, &policy.APIError{Status: http.StatusForbidden, Code: "ACCOUNT_SUSPENDED",
			Message: "the account or an ancestor is suspended", Details: map[string]any{"auth_id": d.AuthID}}
	case balance.ReasonPermission:
		return OutcomePermissionDenied, policy.ErrorFor(&policy.PermissionError{Permission: route.Permission.String(), AuthID: d.AuthID})
	case balance.ReasonKYC:
		return OutcomeKYCRequired, &policy.APIError{Status: http.StatusForbidden, Code: "KYC_REQUIRED",
			Message: "KYC verification required", Details: map[string]any{"auth_id": d.AuthID}}
	case balance.ReasonRateLimited:
		setRetryAfter(ctx, d.Reset)
		st := &ctx.Response.Header
		var buf [64]byte
		tmp := &reqState{num: buf[:0]}
		setRateLimit(st, tmp, d.Limit, 0, d.Reset)
		return OutcomeRateLimited, &policy.APIError{Status: http.StatusTooManyRequests, Code: "RATE_LIMITED",
			Message: "over a rate limit in the chain", Details: map[string]any{"auth_id": d.AuthID, "limit": d.Limit}}
	case balance.ReasonInsufficient:
		return OutcomeInsufficientBalance, &policy.APIError{Status: http.StatusPaymentRequired, Code: "INSUFFICIENT_BALANCE",
			Message: "balance too low for this request", Details: map[string]any{"auth_id": d.AuthID,
				"required": d.Price.String(), "available": d.Available.String(), "currency": path.currency}}
	}
	return OutcomeError, errInternal
}
