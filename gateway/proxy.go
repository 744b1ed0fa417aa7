package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
)

// Header names.
const (
	hAuthID       = "X-Auth-ID"
	hAuthToken    = "X-Auth-Token"
	hAuthz        = "Authorization"
	hRequestID    = "X-Request-ID"
	hForwardedFor = "X-Forwarded-For"
	hForwarded    = "Forwarded"
	hAccountID    = "X-Account-ID"
	hCallerID     = "X-Caller-ID"
	hBillingID    = "X-Billing-Account-ID"
	hCharge       = "X-Charge"
	hUsageCost    = "X-Usage-Cost" // from the upstream: what the request really cost (settlement)
	hRLPolicy     = "RateLimit-Policy"
	hRL           = "RateLimit"
	hRetryAfter   = "Retry-After"
	hWWWAuth      = "WWW-Authenticate"
	wwwAuthValue  = `Basic realm="gateway"`
	jsonType      = "application/json"
	rlPolicyStart = `"acct";q=`
)

// reqState is the per-request scratch space, pooled; nothing in it outlives the handler.
type reqState struct {
	req   balance.AdmitRequest
	dec   balance.Decision
	basic []byte // Basic credentials, decoded
	hash  policy.TokenHash
	hex   []byte // the token hash in hex, for the admit script
	rid   []byte // X-Request-ID answered and forwarded
	mid   []byte // internal request id: the refund marker's key
	num   []byte // formatting scratch
	body  []byte // error body scratch

	peer netip.Addr // the connection's other end
	xff  []byte     // X-Forwarded-For forwarded
}

func newReqState() *reqState {
	return &reqState{basic: make([]byte, 0, 128), hex: make([]byte, 0, 64), rid: make([]byte, 0, 64),
		mid: make([]byte, 0, 32), num: make([]byte, 0, 64), body: make([]byte, 0, 512), xff: make([]byte, 0, 64)}
}

func (g *Gateway) acquire() *reqState { return g.pool.Get().(*reqState) }

func (g *Gateway) release(st *reqState) {
	st.req = balance.AdmitRequest{}
	st.dec = balance.Decision{}
	st.peer = netip.Addr{}
	g.pool.Put(st)
}

// ServeFastHTTP is the handler of the public listener.
func (g *Gateway) ServeFastHTTP(ctx *fasthttp.RequestCtx) {
	if e := inbound(&ctx.Request); e != nil {
		g.refuseUnrouted(ctx, e, refusalInvalidRequest, ReasonInvalidRequest)
		return
	}
	idx, pathID, ok := g.routes.Match(ctx.Method(), ctx.Path())
	if !ok {
		if g.fallback != nil {
			g.fallback(ctx)
			return
		}
		g.refuseUnrouted(ctx, errRouteNotFound, refusalRouteNotFound, ReasonRouteNotFound)
		return
	}
	g.inflight.Add(1)
	g.metrics.inflight.Inc()
	defer func() {
		g.metrics.inflight.Dec()
		g.inflight.Add(-1)
	}()
	start := g.now()
	st := g.acquire()
	out := g.proxy(ctx, st, idx, pathID)
	if r := refusalReason[out]; r != "" {
		g.logRefusal(ctx, st, g.metrics.routes[idx].name, r)
	}
	g.release(st)
	g.metrics.observe(idx, out, g.now().Sub(start))
}

// refuseUnrouted answers a request refused before routing (nothing was charged).
func (g *Gateway) refuseUnrouted(ctx *fasthttp.RequestCtx, e *policy.APIError, refusal int, reason string) {
	st := g.acquire()
	g.requestID(ctx, st)
	g.writeError(ctx, st, e)
	g.metrics.refused(refusal)
	g.logRefusal(ctx, st, "", reason)
	g.release(st)
}

// logRefusal writes the DEBUG line of a refusal: request id, route, reason and status;
// never credentials. Nothing is formatted unless DEBUG is enabled.
func (g *Gateway) logRefusal(ctx *fasthttp.RequestCtx, st *reqState, route, reason string) {
	if !g.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	g.log.LogAttrs(context.Background(), slog.LevelDebug, "request refused",
		slog.String("request_id", string(st.rid)), slog.String("route", route),
		slog.String("reason", reason), slog.Int("status", ctx.Response.StatusCode()))
}

// requestID picks the request's X-Request-ID (the client's if sane, else a new one) and
// the internal id that keys the refund marker (always new, so a client reusing ids cannot
// make two requests share a refund).
func (g *Gateway) requestID(ctx *fasthttp.RequestCtx, st *reqState) {
	st.mid = policy.AppendRequestID(st.mid[:0])
	if rid := ctx.Request.Header.Peek(hRequestID); policy.SaneRequestID(rid) {
		st.rid = append(st.rid[:0], rid...)
	} else {
		st.rid = append(st.rid[:0], st.mid...)
	}
	ctx.Response.Header.SetBytesV(hRequestID, st.rid)
}

// credentials reads the caller's credentials: X-Auth-ID with X-Auth-Token when X-Auth-ID
// is present, else HTTP Basic. ok is false when they are missing or cannot be an id and a
// token (no store lookup is made for those). The slices alias the request or st.basic.
func (st *reqState) credentials(h *fasthttp.RequestHeader) (id, tok []byte, ok bool) {
	if id = h.Peek(hAuthID); len(id) > 0 {
		tok = h.Peek(hAuthToken)
	} else {
		a := h.Peek(hAuthz)
		if len(a) == 0 {
			return nil, nil, false
		}
		if id, tok, st.basic, ok = policy.ParseBasic(a, st.basic); !ok {
			return nil, nil, false
		}
	}
	return id, tok, policy.ValidID(id) && policy.ValidToken(tok)
}

// client is the address the auth-failure limit counts a request against (AuthLimiter.Client).
func (g *Gateway) client(ctx *fasthttp.RequestCtx) netip.Addr { return g.limiter.Client(ctx) }

// trusted reports whether a is one of limits.trusted_proxies.
func (g *Gateway) trusted(a netip.Addr) bool { return g.limiter.isTrusted(a) }

// authenticate finds the caller and verifies its token: from the cache when it can. It
// answers (nil, nil) for credentials that are wrong.
func (g *Gateway) authenticate(ctx context.Context, st *reqState, id, tok []byte) (*facts, error) {
	st.hash = policy.HashToken(tok)
	f, err := g.cache.get(ctx, id, false)
	if err != nil || f == nil {
		return nil, err
	}
	now := g.now()
	if f.verify(st.hash, now.UnixMicro()) {
		return f, nil
	}
	// Perhaps rotated through another instance: re-read at most once per RefreshAfter.
	if now.UnixNano()-f.loaded < int64(g.opts.RefreshAfter) {
		return nil, nil
	}
	if f, err = g.cache.get(ctx, id, true); err != nil || f == nil {
		return nil, err
	}
	if f.verify(st.hash, now.UnixMicro()) {
		return f, nil
	}
	return nil, nil
}

// resolve authenticates the caller and applies the access rule; it answers the caller's and
// the path account's facts and the caller's position in the path account's chain, or the
// error to answer with.
func (g *Gateway) resolve(ctx *fasthttp.RequestCtx, st *reqState, pathID []byte) (caller, path *facts, pos int, out Outcome, apiErr *policy.APIError) {
	st.peer = clientAddr(ctx)
	addr := g.client(ctx)
	if g.auth != nil {
		if wait := g.auth.blocked(addr, g.now()); wait > 0 {
			return nil, nil, 0, OutcomeAuthThrottled, g.throttled(ctx, wait)
		}
	}
	id, tok, ok := st.credentials(&ctx.Request.Header)
	bg := context.Background()
	if ok {
		var err error
		caller, err = g.authenticate(bg, st, id, tok)
		if err != nil {
			out, apiErr = g.storeFailure(st, err)
			return nil, nil, 0, out, apiErr
		}
	}
	if caller == nil {
		out, apiErr = g.authFailed(ctx, addr)
		return nil, nil, 0, out, apiErr
	}
	path = caller
	if !bytes.Equal(pathID, id) {
		if !policy.ValidID(pathID) {
			// Not even shaped like an id: refused as an unknown account is.
			return nil, nil, 0, OutcomeForbidden, errForbidden
		}
		var err error
		path, err = g.cache.get(bg, pathID, false)
		if err != nil {
			out, apiErr = g.storeFailure(st, err)
			return nil, nil, 0, out, apiErr
		}
	}
	if path == nil || path.root != caller.root {
		return nil, nil, 0, OutcomeForbidden, errForbidden
	}
	if pos = path.position(caller.id); pos < 0 {
		return nil, nil, 0, OutcomeForbidden, errForbidden
	}
	return caller, path, pos, OutcomeOK, nil
}

func (g *Gateway) storeFailure(st *reqState, err error) (Outcome, *policy.APIError) {
	if errors.Is(err, balance.ErrUnavailable) {
		g.log.Warn("store unavailable; request refused, nothing charged", "request_id", string(st.rid), "err", err)
		return OutcomeStoreUnavailable, errStoreUnavailable
	}
	g.log.Error("store", "request_id", string(st.rid), "err", err)
	return OutcomeError, errInternal
}

// compensate makes "503 STORE_UNAVAILABLE: nothing was charged" true when the admit call
// failed after it was sent: the script may have run and debited even though its answer was
// lost (a read timeout, a connection reset, a failover). The refund script is keyed by the
// request id and returns a charge only if an admitted marker exists, so calling it when the
// admit never ran is harmless. It runs in the background (the client is not kept waiting),
// retries for a while, and Close waits for it. At most maxCompensations run at once; beyond
// that (a long outage under heavy load) the request id is logged for reconciliation instead.
func (g *Gateway) compensate(req *balance.AdmitRequest) {
	select {
	case g.compSlots <- struct{}{}:
	default:
		g.log.Error("too many lost admit answers to check now; reconcile this request id by hand",
			"request_id", string(req.RequestID), "route", req.Route)
		return
	}
	r := balance.AdmitRequest{Keys: req.Keys, RequestID: append([]byte(nil), req.RequestID...), Route: req.Route}
	g.bg.Add(1)
	go func() {
		defer func() { <-g.compSlots; g.bg.Done() }()
		wait := 100 * time.Millisecond
		for try := 0; try < 8; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), g.opts.RefundTimeout)
			_, _, err := g.store.Refund(ctx, &r)
			cancel()
			if err == nil {
				return
			}
			time.Sleep(wait)
			wait *= 2
		}
		g.log.Error("could not check a failed admit for a charge; reconcile this request id by hand",
			"request_id", string(r.RequestID), "route", r.Route)
	}()
}

func (g *Gateway) authFailed(ctx *fasthttp.RequestCtx, addr netip.Addr) (Outcome, *policy.APIError) {
	if g.auth != nil {
		if wait := g.auth.fail(addr, g.now()); wait > 0 {
			return OutcomeAuthThrottled, g.throttled(ctx, wait)
		}
	}
	return OutcomeInvalidCredentials, errInvalidCredentials
}

func (g *Gateway) throttled(ctx *fasthttp.RequestCtx, wait time.Duration) *policy.APIError {
	setRetryAfter(ctx, wait)
	return errAuthThrottled
}

func setRetryAfter(ctx *fasthttp.RequestCtx, wait time.Duration) {
	secs := int64((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	var b [20]byte
	ctx.Response.Header.SetBytesV(hRetryAfter, strconv.AppendInt(b[:0], secs, 10))
}

// proxy runs one matched request to its end and reports the outcome.
func (g *Gateway) proxy(ctx *fasthttp.RequestCtx, st *reqState, idx int, pathID []byte) Outcome {
	g.requestID(ctx, st)
	route := g.routes.Route(idx)
	caller, path, pos, out, apiErr := g.resolve(ctx, st, pathID)
	if apiErr != nil {
		g.refuse(ctx, st, apiErr)
		return out
	}
	// Admit: one atomic step in the store (batched with the other admits in flight).
	st.hex = st.hash.AppendHex(st.hex[:0])
	st.req = balance.AdmitRequest{Keys: path.keys, CallerPos: pos, TokenHash: st.hex,
		Permission: route.Permission, KYC: route.KYC, Price: route.Price, Route: route.Name, RequestID: st.mid}
	if err := g.store.Admit(context.Background(), &st.req, &st.dec); err != nil {
		out, apiErr = g.storeFailure(st, err)
		if balance.MaybeRan(err) {
			// The script may have run (its answer was lost, or came back garbled): undo
			// whatever it charged, so that a refused request costs nothing.
			g.compensate(&st.req)
		}
		g.refuse(ctx, st, apiErr)
		return out
	}
	d := &st.dec
	if !d.Admitted {
		out, apiErr = g.refusal(ctx, route, caller, path, d)
		g.refuse(ctx, st, apiErr)
		return out
	}
	g.metrics.admitted(idx, d.Charge)
	// Forward.
	up := g.ups[idx]
	g.prepareUpstream(&ctx.Request, st, up, caller.id, path.id, d.BillingID, d.Charge)
	upStart := g.now()
	err := up.do(&ctx.Request, &ctx.Response)
	up.m.duration.Observe(g.now().Sub(upStart).Seconds())
	charge := d.Charge
	out = OutcomeOK
	switch {
	case err != nil:
		out, apiErr = upstreamFailure(err)
		if out == OutcomeUpstreamTimeout {
			up.m.errors[upErrTimeout].Inc()
		} else {
			up.m.errors[upErrUnavailable].Inc()
		}
		g.log.Warn("upstream failed; refunding", "request_id", string(st.rid), "upstream", up.name,
			"route", route.Name, "outcome", out.String(), "err", err)
	case ctx.Response.StatusCode() >= 500:
		out = OutcomeUpstream5xx
		up.m.errors[upErr5xx].Inc()
	}
	if out != OutcomeOK {
		if g.refund(st, idx) {
			charge = 0
		}
	} else if cost := ctx.Response.Header.Peek(hUsageCost); cost != nil {
		charge = g.settle(st, idx, cost, charge)
	}
	if apiErr != nil {
		ctx.Response.Reset()
		ctx.Response.Header.SetBytesV(hRequestID, st.rid)
		g.writeError(ctx, st, apiErr)
	} else {
		stripResponse(&ctx.Response.Header)
		ctx.Response.Header.SetBytesV(hRequestID, st.rid)
	}
	g.responseHeaders(&ctx.Response.Header, st, charge, d)
	return out
}

// refuse answers a matched request that was not forwarded: nothing was charged.
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, st *reqState, e *policy.APIError) {
	g.writeError(ctx, st, e)
	ctx.Response.Header.Set(hCharge, "0.00")
}

// refund returns the request's charge exactly once; it reports whether it did. It runs
// with its own deadline, so neither the client going away nor a shutdown cuts it short.
func (g *Gateway) refund(st *reqState, idx int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.RefundTimeout)
	defer cancel()
	amount, ok, err := g.store.Refund(ctx, &st.req)
	if err != nil {
		g.log.Error("refund failed; the charge stands", "request_id", string(st.rid),
			"refund_key", string(st.mid), "route", g.metrics.routes[idx].name, "err", err)
		return false
	}
	if ok {
		g.metrics.refundedCharge(idx, amount)
	}
	return ok
}

// settle makes the request's charge the cost the upstream reported in X-Usage-Cost,
// exactly once, and returns the final charge. A cost that is not a valid non-negative
// amount is ignored (the admitted charge stands) and logged: it is the upstream's bug, not
// the client's.
func (g *Gateway) settle(st *reqState, idx int, raw []byte, charge balance.Amount) balance.Amount {
	route := g.metrics.routes[idx].name
	cost, err := balance.ParseAmountBytes(raw)
	if err != nil || cost < 0 {
		g.log.Warn("upstream sent a bad X-Usage-Cost; the admitted charge stands", "route", route,
			"request_id", string(st.rid), "value", string(raw))
		return charge
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.RefundTimeout)
	defer cancel()
	final, ok, err := g.store.Settle(ctx, &st.req, cost)
	if err != nil {
		g.log.Error("settlement failed; the admitted charge stands", "request_id", string(st.rid),
			"refund_key", string(st.mid), "route", route, "err", err)
		return charge
	}
	if !ok {
		return charge
	}
	g.metrics.settled(idx, charge, final)
	return final
}

func upstreamFailure(err error) (Outcome, *policy.APIError) {
	var ne net.Error
	var op *net.OpError
	isDial := errors.As(err, &op) && op.Op == "dial"
	if !isDial && (errors.Is(err, fasthttp.ErrTimeout) || (errors.As(err, &ne) && ne.Timeout())) {
		return OutcomeUpstreamTimeout, errUpstreamTimeout
	}
	return OutcomeUpstreamUnavailable, errUpstreamUnavailable
}

// prepareUpstream turns the client's request into the upstream's, in place: credentials,
// hop-by-hop headers (those named in Connection too), Forwarded and client-sent trusted
// headers go; the trusted headers and X-Forwarded-For are set; the request line names
// HTTP/1.1, the gateway's own version. Path (already in normal form, see normalPath), query
// and body stay as they are.
func (g *Gateway) prepareUpstream(req *fasthttp.Request, st *reqState, up *upstream, callerID, pathID, billingID string, charge balance.Amount) {
	h := &req.Header
	st.xff = g.appendForwardedFor(st.xff[:0], h, st.peer)
	stripRequest(h)
	if len(st.xff) > 0 {
		h.SetBytesV(hForwardedFor, st.xff)
	}
	if !h.IsHTTP11() {
		h.SetProtocol("HTTP/1.1")
	}
	h.Set(hAccountID, pathID)
	h.Set(hCallerID, callerID)
	h.Set(hBillingID, billingID)
	st.num = charge.AppendTo(st.num[:0])
	h.SetBytesV(hCharge, st.num)
	h.SetBytesV(hRequestID, st.rid)
	h.SetHost(up.host)
	u := req.URI()
	u.SetScheme(up.scheme)
	u.SetHost(up.host)
}

// responseHeaders sets X-Charge and the RateLimit headers of the tightest limit.
func (g *Gateway) responseHeaders(h *fasthttp.ResponseHeader, st *reqState, charge balance.Amount, d *balance.Decision) {
	st.num = charge.AppendTo(st.num[:0])
	h.SetBytesV(hCharge, st.num)
	if d.Limit > 0 {
		setRateLimit(h, st, d.Limit, d.Remaining, d.Reset)
	}
}

func setRateLimit(h *fasthttp.ResponseHeader, st *reqState, limit, remaining int, reset time.Duration) {
	b := append(st.num[:0], rlPolicyStart...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, ";w=1"...)
	h.SetBytesV(hRLPolicy, b)
	b = append(b[:0], `"acct";r=`...)
	b = strconv.AppendInt(b, int64(remaining), 10)
	b = append(b, ";t="...)
	secs := int64((reset + time.Second - 1) / time.Second)
	b = strconv.AppendInt(b, secs, 10)
	h.SetBytesV(hRL, b)
	st.num = b
}

// writeError answers with the API's error body.
func (g *Gateway) writeError(ctx *fasthttp.RequestCtx, st *reqState, e *policy.APIError) {
	ctx.SetStatusCode(e.Status)
	ctx.Response.Header.SetContentType(jsonType)
	if e.Status == http.StatusUnauthorized {
		ctx.Response.Header.Set(hWWWAuth, wwwAuthValue)
	}
	st.body = policy.AppendErrorBody(st.body[:0], e, st.rid)
	ctx.Response.SetBody(st.body)
}

// serverError answers errors fasthttp meets before the handler (body too large, bad
// request line) with the API's error body (serverErrorFor, shared with ErrorHandler).
func (g *Gateway) serverError(ctx *fasthttp.RequestCtx, err error) {
	st := g.acquire()
	defer g.release(st)
	g.requestID(ctx, st)
	e := serverErrorFor(err)
	g.writeError(ctx, st, e)
	if e == errTooLarge {
		g.metrics.refused(refusalTooLarge)
		g.logRefusal(ctx, st, "", ReasonPayloadTooLarge)
		return
	}
	g.metrics.refused(refusalInvalidRequest)
	g.logRefusal(ctx, st, "", ReasonInvalidRequest)
}
