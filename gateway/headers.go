package gateway

import "github.com/tenantgw/gateway/policy/wire"

// Header names.
const (
	hAuthID       = wire.HeaderAuthID
	hAuthToken    = wire.HeaderAuthToken
	hAuthz        = wire.HeaderAuthorization
	hRequestID    = wire.HeaderRequestID
	hForwardedFor = "X-Forwarded-For"
	hForwarded    = "Forwarded"
	hAccountID    = "X-Account-ID"
	hCallerID     = "X-Caller-ID"
	hBillingID    = "X-Billing-Account-ID"
	hCharge       = "X-Charge"
	hUsageCost    = "X-Usage-Cost"        // from the upstream: what the request really cost (settlement)
	hCallHoldID   = "X-Call-Hold-ID"      // a call route's hold, to the upstream and the client (API.md §8)
	hCallMaxDur   = "X-Call-Max-Duration" // the seconds the hold grants
	hRLPolicy     = "RateLimit-Policy"
	hRL           = "RateLimit"
	hRetryAfter   = "Retry-After"
	rlPolicyStart = `"acct";q=`
)
