// Package admin serves the account management API of API.md §4 (public listener, under
// /v1/Account/{auth_id}/…) and the operator API of §6 (operator listener, under /admin/v1/…)
// as fasthttp handlers.
//
// Contract:
//   - (*API).Public and (*API).Operator are fasthttp.RequestHandlers, safe for concurrent use.
//     They keep nothing of the *fasthttp.RequestCtx after they return. The gateway calls Public
//     as its fallback for every path that is not a proxied route; Operator serves the operator
//     listener's /admin/v1/ paths. Paths either does not know get 404 NOT_FOUND, but for a
//     public path under /v1/Account/{auth_id}/: 404 ROUTE_NOT_FOUND once the caller is
//     authenticated (401 before). A known path with a method it does not serve gets 405
//     METHOD_NOT_ALLOWED with Allow. The paths are
//     listed in router.go; POST /admin/v1/Account/{id}/Token/ (rotate any account's token,
//     main accounts included) extends API.md §6.
//   - Every answer carries X-Request-ID (wire.PickRequestID: the caller's when sane, else a
//     new one) and Cache-Control: no-store; every error has the body of API.md §3, written by
//     wire.WriteError from wire.ErrorFor (package policy/wire, shared with the gateway).
//   - Public credentials are read by wire.ReadCredentials (X-Auth-ID/X-Auth-Token, or HTTP
//     Basic when neither header is sent; a half pair is refused), the gateway's own rule, and
//     verified against the store's record (wire.Tokens) on every request; no cache. Unknown,
//     wrong, expired, closed or deleted → 401 INVALID_CREDENTIALS with WWW-Authenticate:
//     Basic realm="gateway". Accepted credentials stamp last_used. Operator requests need
//     Authorization: Bearer <Options.OperatorToken> (wire.BearerToken), compared in constant
//     time (401 with WWW-Authenticate: Bearer realm="gateway" otherwise); an empty
//     OperatorToken refuses every operator request.
//   - Failed authentications count against the client address in the listener's
//     AuthLimiter; an address over its limit gets 429 TOO_MANY_AUTH_FAILURES with
//     Retry-After before its credentials are looked at.
//   - Access: the path's {auth_id} must be the caller or below it; one that does not exist or
//     is out of reach gets the same 403 FORBIDDEN. A {sub_auth_id} that does not exist or is
//     out of the caller's reach is 403 FORBIDDEN as well; one the caller reaches but that is
//     not a direct child of {auth_id} is 404 NOT_FOUND.
//   - A caller that is not active (itself or an ancestor suspended) may read but not write:
//     writes get 403 ACCOUNT_SUSPENDED naming the suspended account.
//   - Bodies: JSON objects or application/x-www-form-urlencoded, at most Options.MaxBodyBytes
//     (413 beyond). Unknown and duplicate fields, wrong types and bad values are 400 naming
//     the field. Booleans and integers are also accepted as strings ("true", "1000"); money is
//     read exactly by model.Amount. An empty string for description, email or business_type
//     sets it to null.
//   - auth_token is in clear only in the answers that create or rotate it.
//   - credit_limit is set directly by the operator only: a tenant's create or update that
//     carries it is 403 FORBIDDEN (nothing written), and tenants move credit they hold with
//     POST /v1/Account/{auth_id}/CreditTransfer/.
//   - The operator's KYC decision (/Kyc/) applies to customer_use accounts only; for a
//     personal_use account it is 400 (field status).
//   - Phone numbers (API.md §9, numbers.go): for a tenant, a number that is malformed,
//     unknown or outside {auth_id}'s subtree is 403 FORBIDDEN alike; {number} may be written
//     with '+' or %2B. Moves and give-backs are writes, decided by one store script each.
//
// Rules: depth (a main account is depth 0; a new account at depth ≥ MaxDepth is 409
// max_depth) and the subaccounts permission (effective over the parent's chain, 403
// PERMISSION_DENIED naming the account with it off) are checked here; KYC (customer_use needs
// an email and starts pending; personal_use is not_required) and the enabled alias are read
// here. The store's scripts decide atomically what can race: closed is final (409
// account_closed), closing an account with open children (409 has_subaccounts), a status
// change or a create under a suspended ancestor (409 parent_suspended), max_subaccounts (409
// subaccount_limit), the one-way balance switch (409 shared_balance) and credit floors (402).
package admin

import (
	"context"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/policy/model"
	"github.com/tenantgw/gateway/policy/wire"
)

// Options configure the API. The settings among them hold what config produced (main maps
// config's defaults.* and limits.max_body_bytes to them). One left zero takes config's
// default (config.Default…), except TokenGrace, whose zero is a setting of its own.
type Options struct {
	Store         *balance.Store
	OperatorToken string // Bearer token for /admin/v1/; "" refuses every operator request
	// UpstreamTokens are the backends' own tokens by upstream name (API.md §6): a backend's
	// token opens the hold endpoints for its own routes' holds and nothing else.
	UpstreamTokens map[string]string

	RateLimit      int // rate_limit of new accounts, requests per second
	MaxSubaccounts int // max_subaccounts of new accounts
	MaxDepth       int // depth bound of a tree (main = depth 0)

	// TokenGrace is the grace of a rotated token when the rotation does not say; taken as
	// it is: 0 revokes the old token at once, as token_grace: 0 does.
	TokenGrace      time.Duration
	ClosedRetention time.Duration // how long a closed record stays readable

	MaxBodyBytes int // request body limit in bytes

	// Invalidate is called with an account's id after its token was rotated, its status
	// changed, or it was deleted, so that credential caches drop it. May be nil.
	Invalidate func(authID string)
	Logger     *slog.Logger     // may be nil (logs nothing)
	Now        func() time.Time // clock used to check token expiry; nil = time.Now

	// StoreTimeout bounds each request's store calls; default 5s.
	StoreTimeout time.Duration

	// AuthLimiter limits authentication failures on the management API (the public
	// listener's limiter, shared with the proxied routes); OperatorAuthLimiter on the
	// operator listener (the operator API, /metrics and /debug/pprof/). Nil: no limit.
	AuthLimiter, OperatorAuthLimiter AuthLimiter
}

// AuthLimiter is a listener's auth-failure limit, per client address;
// *gateway.AuthLimiter implements it.
type AuthLimiter interface {
	// Throttled reports whether the request's client may not authenticate now; when it
	// may not, Retry-After is set on the response.
	Throttled(rc *fasthttp.RequestCtx) bool
	// Failed counts a failed authentication of the request's client and reports whether it
	// is now over the limit; when it is, Retry-After is set on the response.
	Failed(rc *fasthttp.RequestCtx) bool
}

// API serves the management and operator endpoints. Create it with New.
type API struct {
	o        Options
	st       *balance.Store
	log      *slog.Logger
	now      func() time.Time
	opHash   [32]byte
	opTokSet bool
	upHashes []upstreamHash
}

// upstreamHash is a backend's token, hashed as the operator token is.
type upstreamHash struct {
	name string
	hash [32]byte
}

// New returns an API for o, an option left zero taking config's default (see Options).
func New(o Options) *API {
	o.RateLimit = config.Or(o.RateLimit, config.DefaultRateLimit)
	o.MaxSubaccounts = config.Or(o.MaxSubaccounts, config.DefaultMaxSubaccounts)
	o.MaxDepth = config.Or(o.MaxDepth, config.DefaultMaxDepth)
	o.ClosedRetention = config.Or(o.ClosedRetention, config.DefaultClosedRetention)
	o.MaxBodyBytes = config.Or(o.MaxBodyBytes, config.DefaultMaxBodyBytes)
	o.StoreTimeout = config.Or(o.StoreTimeout, 5*time.Second)
	a := &API{o: o, st: o.Store, log: o.Logger, now: o.Now}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if o.OperatorToken != "" {
		a.opHash = sha256Sum(o.OperatorToken)
		a.opTokSet = true
	}
	for name, tok := range o.UpstreamTokens {
		if tok != "" {
			a.upHashes = append(a.upHashes, upstreamHash{name: name, hash: sha256Sum(tok)})
		}
	}
	return a
}

// call is the state of one request.
type call struct {
	api    *API
	rc     *fasthttp.RequestCtx
	ctx    context.Context
	rid    []byte
	caller *model.Account // nil on the operator listener
	// operator is set on the operator listener (401s then ask for Bearer, not Basic).
	operator bool
	// upstream names the backend whose own token authenticated an operator-listener
	// request ("" for the operator token): it may use the hold endpoints for its own
	// routes' holds only (API.md §6).
	upstream string
}

func (a *API) begin(rc *fasthttp.RequestCtx, operator bool) (*call, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), a.o.StoreTimeout)
	c := &call{api: a, rc: rc, ctx: ctx, operator: operator}
	c.rid, _ = wire.PickRequestID(make([]byte, 0, 32), &rc.Request.Header)
	rc.Response.Header.SetBytesV(wire.HeaderRequestID, c.rid)
	rc.Response.Header.Set("Cache-Control", "no-store")
	return c, cancel
}

func (a *API) invalidate(ids ...string) {
	if a.o.Invalidate == nil {
		return
	}
	for _, id := range ids {
		a.o.Invalidate(id)
	}
}
