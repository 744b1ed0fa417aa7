package gateway

import (
	"context"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
	"github.com/tenantgw/gateway/policy/wire"
)

// admit runs the request's admit: one atomic step in the store (batched with the other
// admits in flight) that checks the chain and debits the charge into st.dec. It answers
// OutcomeOK and no error when the request is admitted, else the refusal or store failure to
// answer with (nothing charged).
func (g *Gateway) admit(rc *fasthttp.RequestCtx, st *reqState, idx int, route *policy.Route, caller, path *facts, pos int) (Outcome, *wire.APIError) {
	st.hex = st.hash.AppendHex(st.hex[:0])
	var cid []byte
	if route.CallerID != "" {
		var apiErr *wire.APIError
		if cid, apiErr = callerID(rc, st, route); apiErr != nil {
			return OutcomeInvalidRequest, apiErr
		}
	}
	st.req = balance.AdmitRequest{Keys: path.keys, CallerPos: pos, TokenHash: st.hex,
		Permission: route.Permission, KYC: route.KYC, Price: route.Price, Route: route.Name, RequestID: st.mid, CallerID: cid,
		PathPays: path.own}
	if spec := g.calls[idx]; spec != nil { // a call route opens a hold (API.md §8)
		st.call = balance.CallRequest{HoldID: policy.NewHoldID(), Spec: spec}
		st.req.Call = &st.call
	}
	if err := g.store.Admit(context.Background(), &st.req, &st.dec); err != nil {
		out, apiErr := g.storeFailure(st, err)
		if balance.MaybeRan(err) {
			// The script may have run (its answer was lost, or came back garbled): undo
			// whatever it charged, so that a refused request costs nothing.
			g.compensate(&st.req)
		}
		return out, apiErr
	}
	if !st.dec.Admitted {
		if st.dec.Reason == balance.ReasonNumberNotOwned {
			return OutcomeNumberNotOwned, wire.NumberNotOwnedAnswer(string(cid), route.CallerID)
		}
		return g.refusal(rc, route, caller, path, &st.dec)
	}
	return OutcomeOK, nil
}

// callerID reads the number of the route's caller-ID field from the request body (into
// st.cid, without decoding the rest of the body): a body without it, with it twice, not a
// string, not E.164, or malformed is 400 INVALID_REQUEST naming the field.
func callerID(rc *fasthttp.RequestCtx, st *reqState, route *policy.Route) ([]byte, *wire.APIError) {
	v, err := bodyField(rc.PostBody(), route.CallerID, st.cid[:0])
	st.cid = v
	if err == nil && !model.ValidNumber(v) {
		err = errNotANumber
	}
	if err != nil {
		return nil, wire.InvalidRequest.Saying(route.CallerID+": "+err.Error(), map[string]any{"field": route.CallerID})
	}
	return v, nil
}

var errNotANumber = errors.New("must be a phone number in E.164 form ('+' and 8 to 15 digits)")

// storeFailure logs a failed store call and answers its error: 503 STORE_UNAVAILABLE when
// the store cannot be reached, 500 otherwise.
func (g *Gateway) storeFailure(st *reqState, err error) (Outcome, *wire.APIError) {
	if errors.Is(err, balance.ErrUnavailable) {
		g.log.Warn("store unavailable; request refused, nothing charged", "request_id", string(st.rid), "err", err)
		return OutcomeStoreUnavailable, errStoreUnavailable
	}
	g.log.Error("store", "request_id", string(st.rid), "err", err)
	return OutcomeError, errInternal
}
