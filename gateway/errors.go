package gateway

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/wire"
)

// Errors the gateway answers without details; built once from the refusal table
// (policy/wire), but for the two failures of an admitted request, which only the gateway
// answers.
var (
	errRouteNotFound       = wire.RouteNotFound.Answer(nil)
	errInvalidCredentials  = wire.InvalidCredentials.Answer(nil)
	errForbidden           = wire.Forbidden.Answer(nil)
	errStoreUnavailable    = wire.StoreUnavailable.Answer(nil)
	errTooLarge            = wire.PayloadTooLarge.Answer(nil)
	errInternal            = wire.ErrorFor(nil)
	errAuthThrottled       = wire.TooManyAuthFailures.Answer(nil)
	errUpstreamUnavailable = &wire.APIError{Status: http.StatusBadGateway, Code: "UPSTREAM_UNAVAILABLE", Message: "the upstream could not be reached or answered garbage; nothing was charged"}
	errUpstreamTimeout     = &wire.APIError{Status: http.StatusGatewayTimeout, Code: "UPSTREAM_TIMEOUT", Message: "the upstream did not answer in time; nothing was charged"}
)

// refusal maps an admit refusal to its outcome and answer (the refusal table's row of
// d.Reason, naming the account at fault, see wire.Refused), after what the refusal asks of
// the gateway itself: a refused credential or a vanished account leaves the cache, a 401
// counts against the auth-failure limit, a rate limit sets Retry-After and RateLimit.
func (g *Gateway) refusal(rc *fasthttp.RequestCtx, route *policy.Route, caller, path *facts, d *balance.Decision) (Outcome, *wire.APIError) {
	if _, ok := wire.ForReason(d.Reason); !ok {
		return OutcomeError, errInternal
	}
	switch d.Reason {
	case balance.ReasonCredentials:
		// The store knows better than the cache (rotated or closed elsewhere).
		g.Invalidate(caller.id)
		return g.authFailed(rc, g.client(rc))
	case balance.ReasonGone:
		g.Invalidate(d.AuthID)
		return OutcomeForbidden, errForbidden
	case balance.ReasonCPS:
		setRetryAfter(rc, d.Reset)
	case balance.ReasonRateLimited:
		setRetryAfter(rc, d.Reset)
		var buf [64]byte
		tmp := &reqState{num: buf[:0]}
		setRateLimit(&rc.Response.Header, tmp, d.Limit, 0, d.Reset)
	}
	return outcomeOf(d.Reason), wire.Refused(d, route.Permission.String(), path.currency)
}
