package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
)

// finalCharge makes the admitted charge final and returns it: refunded exactly once when
// the upstream failed (out is not OutcomeOK), settled exactly once to the cost the upstream
// reported in X-Usage-Cost, else the admitted charge.
func (g *Gateway) finalCharge(rc *fasthttp.RequestCtx, st *reqState, idx int, out Outcome) model.Amount {
	charge := st.dec.Charge
	if out != OutcomeOK {
		if g.refund(st, idx) {
			charge = 0
		}
	} else if cost := rc.Response.Header.Peek(hUsageCost); cost != nil {
		charge = g.settle(st, idx, cost, charge)
	}
	return charge
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
func (g *Gateway) settle(st *reqState, idx int, raw []byte, charge model.Amount) model.Amount {
	route := g.metrics.routes[idx].name
	cost, err := model.ParseAmountBytes(raw)
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

// voidHold ends the hold of a call that did not start (API.md §8): the upstream failed (the
// price was refunded) or answered 4xx (the price stands). Exactly once: a Void of an ended
// hold changes nothing. It runs with its own deadline, as a refund does; a failure is logged
// and the hold ends at its expiry instead (its slots never outlive it).
func (g *Gateway) voidHold(st *reqState, idx int) {
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.RefundTimeout)
	defer cancel()
	if _, _, err := g.store.EndHold(ctx, st.call.HoldID, balance.Void, 0); err != nil && !errors.Is(err, balance.ErrHoldEnded) {
		g.log.Error("could not void the hold of a call that did not start; it ends at its expiry", "request_id", string(st.rid),
			"hold_id", st.call.HoldID, "route", g.metrics.routes[idx].name, "err", err)
	}
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
	hold := ""
	if req.Call != nil {
		hold = req.Call.HoldID // a call's admit may have opened its hold: void it too
	}
	g.bg.Add(1)
	go func() {
		defer func() { <-g.compSlots; g.bg.Done() }()
		wait := 100 * time.Millisecond
		for try := 0; try < 8; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), g.opts.RefundTimeout)
			_, _, err := g.store.Refund(ctx, &r)
			if err == nil && hold != "" {
				if _, _, err = g.store.EndHold(ctx, hold, balance.Void, 0); errors.Is(err, balance.ErrNotFound) || errors.Is(err, balance.ErrHoldEnded) {
					err = nil
				}
			}
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
