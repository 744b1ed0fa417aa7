package gateway

import (
	"errors"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
	"github.com/tenantgw/gateway/policy/wire"
)

// forward sends the admitted request to its route's upstream, leaving the upstream's answer
// in rc.Response. It answers OutcomeOK; OutcomeUpstream5xx when the upstream answered 5xx
// (its answer stands, with no error); or the upstream's failure (connect error, timeout,
// garbage) with the error to answer with instead.
func (g *Gateway) forward(rc *fasthttp.RequestCtx, st *reqState, idx int, route *policy.Route, caller, path *facts) (Outcome, *wire.APIError) {
	d := &st.dec
	up := g.ups[idx]
	g.prepareUpstream(&rc.Request, st, up, caller.id, path.id, d.BillingID, d.Charge)
	upStart := g.now()
	err := up.do(&rc.Request, &rc.Response)
	up.m.duration.Observe(g.now().Sub(upStart).Seconds())
	switch {
	case err != nil:
		out, apiErr := upstreamFailure(err)
		if out == OutcomeUpstreamTimeout {
			up.m.errors[upErrTimeout].Inc()
		} else {
			up.m.errors[upErrUnavailable].Inc()
		}
		g.log.Warn("upstream failed; refunding", "request_id", string(st.rid), "upstream", up.name,
			"route", route.Name, "outcome", out.String(), "err", err)
		return out, apiErr
	case rc.Response.StatusCode() >= 500:
		up.m.errors[upErr5xx].Inc()
		return OutcomeUpstream5xx, nil
	}
	return OutcomeOK, nil
}

// upstreamFailure is the outcome and answer of an upstream call that failed: a timeout
// (not one of connecting) is 504 UPSTREAM_TIMEOUT, anything else 502 UPSTREAM_UNAVAILABLE.
func upstreamFailure(err error) (Outcome, *wire.APIError) {
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
func (g *Gateway) prepareUpstream(req *fasthttp.Request, st *reqState, up *upstream, callerID, pathID, billingID string, charge model.Amount) {
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
	if st.req.Call != nil {
		h.Set(hCallHoldID, st.call.HoldID)
		h.SetBytesV(hCallMaxDur, strconv.AppendInt(st.num[:0], st.dec.Granted, 10))
	}
	h.SetHost(up.host)
	u := req.URI()
	u.SetScheme(up.scheme)
	u.SetHost(up.host)
}
