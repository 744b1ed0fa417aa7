package gateway

import "github.com/valyala/fasthttp"

// ServeFastHTTP is the handler of the public listener. It takes the steps of the README's
// "How it works": checks no route may skip, the route table (no route: the management API),
// then proxy — credentials and the access rule, admit, forward, refund or settle, answer.
func (g *Gateway) ServeFastHTTP(rc *fasthttp.RequestCtx) {
	if e := inbound(&rc.Request); e != nil {
		g.refuseUnrouted(rc, e, refusalInvalidRequest, ReasonInvalidRequest)
		return
	}
	idx, pathID, ok := g.routes.Match(rc.Method(), rc.Path())
	if !ok {
		if g.fallback != nil {
			g.fallback(rc)
			return
		}
		g.refuseUnrouted(rc, errRouteNotFound, refusalRouteNotFound, ReasonRouteNotFound)
		return
	}
	if !proxyPath(rc.URI()) {
		g.refuseUnrouted(rc, errPathNotNormal, refusalInvalidRequest, ReasonInvalidRequest)
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
	out := g.proxy(rc, st, idx, pathID)
	if r := refusalReason[out]; r != "" {
		g.logRefusal(rc, st, g.metrics.routes[idx].name, r)
	}
	g.release(st)
	g.metrics.observe(idx, out, g.now().Sub(start))
}

// proxy runs one matched request to its end and reports the outcome.
func (g *Gateway) proxy(rc *fasthttp.RequestCtx, st *reqState, idx int, pathID []byte) Outcome {
	g.requestID(rc, st)
	route := g.routes.Route(idx)
	// Credentials (from the account cache) and the access rule.
	caller, path, pos, out, apiErr := g.resolve(rc, st, pathID)
	if apiErr != nil {
		g.refuse(rc, st, apiErr)
		return out
	}
	// Admit: one atomic step in the store (batched with the other admits in flight).
	if out, apiErr = g.admit(rc, st, idx, route, caller, path, pos); apiErr != nil {
		g.refuse(rc, st, apiErr)
		return out
	}
	g.metrics.admitted(idx, st.dec.Charge)
	// Forward to the upstream.
	out, apiErr = g.forward(rc, st, idx, route, caller, path)
	// Upstream failed: refund exactly once; X-Usage-Cost: settle exactly once.
	charge := g.finalCharge(rc, st, idx, out)
	// A call that did not start (the upstream failed or refused it) ends its hold.
	if st.req.Call != nil && (out != OutcomeOK || rc.Response.StatusCode() >= 400) {
		g.voidHold(st, idx)
	}
	g.answer(rc, st, apiErr, charge)
	return out
}
