package gateway

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
	"github.com/tenantgw/gateway/policy/wire"
)

// requestID picks the request's X-Request-ID (wire.PickRequestID: the client's if sane,
// else a new random one) and the internal id that keys the refund marker
// (balance.AppendMarkerID: always new, so a client reusing ids cannot make two requests
// share a refund; a counter, so markers share hashes; the log names it refund_key).
func (g *Gateway) requestID(rc *fasthttp.RequestCtx, st *reqState) {
	st.rid, _ = wire.PickRequestID(st.rid[:0], &rc.Request.Header)
	st.mid = balance.AppendMarkerID(st.mid[:0])
	rc.Response.Header.SetBytesV(hRequestID, st.rid)
}

// answer finishes the answer of a forwarded request: the error body when the upstream
// failed (apiErr), else the upstream's answer without hop-by-hop and gateway-owned headers;
// then X-Request-ID, X-Charge (the final charge) and the RateLimit headers.
func (g *Gateway) answer(rc *fasthttp.RequestCtx, st *reqState, apiErr *wire.APIError, charge model.Amount) {
	if apiErr != nil {
		rc.Response.Reset()
		rc.Response.Header.SetBytesV(hRequestID, st.rid)
		g.writeError(rc, st, apiErr)
	} else {
		stripResponse(&rc.Response.Header)
		rc.Response.Header.SetBytesV(hRequestID, st.rid)
	}
	g.responseHeaders(&rc.Response.Header, st, charge, &st.dec)
	if st.req.Call != nil {
		rc.Response.Header.Set(hCallHoldID, st.call.HoldID)
		rc.Response.Header.SetBytesV(hCallMaxDur, strconv.AppendInt(st.num[:0], st.dec.Granted, 10))
	}
}

// refuse answers a matched request that was not forwarded: nothing was charged.
func (g *Gateway) refuse(rc *fasthttp.RequestCtx, st *reqState, e *wire.APIError) {
	g.writeError(rc, st, e)
	rc.Response.Header.Set(hCharge, "0.00")
}

// refuseUnrouted answers a request refused before routing (nothing was charged).
func (g *Gateway) refuseUnrouted(rc *fasthttp.RequestCtx, e *wire.APIError, refusal int, reason string) {
	st := g.acquire()
	g.requestID(rc, st)
	g.writeError(rc, st, e)
	g.metrics.refused(refusal)
	g.logRefusal(rc, st, "", reason)
	g.release(st)
}

// logRefusal writes the DEBUG line of a refusal: request id, route, reason and status;
// never credentials. Nothing is formatted unless DEBUG is enabled.
func (g *Gateway) logRefusal(rc *fasthttp.RequestCtx, st *reqState, route, reason string) {
	if !g.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	g.log.LogAttrs(context.Background(), slog.LevelDebug, "request refused",
		slog.String("request_id", string(st.rid)), slog.String("route", route),
		slog.String("reason", reason), slog.Int("status", rc.Response.StatusCode()))
}

// responseHeaders sets X-Charge and the RateLimit headers of the tightest limit.
func (g *Gateway) responseHeaders(h *fasthttp.ResponseHeader, st *reqState, charge model.Amount, d *balance.Decision) {
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

// setRetryAfter sets Retry-After to wait, in whole seconds rounded up (at least 1).
func setRetryAfter(rc *fasthttp.RequestCtx, wait time.Duration) {
	secs := int64((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	var b [20]byte
	rc.Response.Header.SetBytesV(hRetryAfter, strconv.AppendInt(b[:0], secs, 10))
}

// writeError answers with the API's error body.
func (g *Gateway) writeError(rc *fasthttp.RequestCtx, st *reqState, e *wire.APIError) {
	st.body = wire.WriteError(rc, e, st.rid, wire.BasicChallenge, st.body)
}

// serverError answers errors fasthttp meets before the handler (body too large, bad
// request line) with the API's error body (serverErrorFor, shared with ErrorHandler).
func (g *Gateway) serverError(rc *fasthttp.RequestCtx, err error) {
	st := g.acquire()
	defer g.release(st)
	g.requestID(rc, st)
	e := serverErrorFor(err)
	g.writeError(rc, st, e)
	if e == errTooLarge {
		g.metrics.refused(refusalTooLarge)
		g.logRefusal(rc, st, "", ReasonPayloadTooLarge)
		return
	}
	g.metrics.refused(refusalInvalidRequest)
	g.logRefusal(rc, st, "", ReasonInvalidRequest)
}
