package admin

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// holdJSON is the hold object of API.md §8.
type holdJSON struct {
	HoldID         string       `json:"hold_id"`
	AuthID         string       `json:"auth_id"`
	BillingAuthID  string       `json:"billing_auth_id"`
	Route          string       `json:"route"`
	Status         string       `json:"status"`
	GrantedSeconds int64        `json:"granted_seconds"`
	Held           model.Amount `json:"held"`
	Charged        model.Amount `json:"charged"`
	CreatedAt      string       `json:"created_at"`
	ExpiresAt      string       `json:"expires_at"`
	EndedAt        *string      `json:"ended_at"`
	Final          bool         `json:"final"`
}

func holdView(h *balance.Hold) holdJSON {
	return holdJSON{HoldID: h.ID, AuthID: h.AuthID, BillingAuthID: h.BillingID, Route: h.Route, Status: h.Status,
		GrantedSeconds: h.Granted, Held: h.Held, Charged: h.Charged, CreatedAt: formatMicros(h.Created),
		ExpiresAt: formatMicros(h.Expires), EndedAt: optMicros(h.Ended), Final: h.Final}
}

// maxSettleSeconds bounds a Settle's duration (a week): beyond any call's max_duration.
const maxSettleSeconds = 7 * 24 * 3600

// holdEndpoint serves the backend's side of a call (API.md §8): read, Extend, Settle, Void.
// The operator token reaches every hold; a backend's own token only the holds opened on its
// own routes (another's hold is 403 FORBIDDEN, as is an unknown one, so that a backend
// cannot probe for holds).
func (c *call) holdEndpoint(r route) {
	h, err := c.api.st.Hold(c.ctx, r.id)
	if c.upstream != "" && (errors.Is(err, balance.ErrNotFound) || err == nil && h.Upstream != c.upstream) {
		err = policy.ErrForbidden
	}
	if errors.Is(err, balance.ErrNotFound) {
		err = notFound()
	}
	if err != nil {
		c.fail(err)
		return
	}
	switch r.kind {
	case rHold:
		c.reply(http.StatusOK, holdView(h))
		return
	case rHoldExtend:
		b := c.readFields("answered_seconds")
		if b == nil {
			return
		}
		if _, err := optInt(b, "answered_seconds", 0, maxSettleSeconds); err != nil {
			c.fail(err)
			return
		}
		h, err = c.api.st.ExtendHold(c.ctx, r.id)
	case rHoldSettle:
		b := c.readFields("duration", "cost")
		if b == nil {
			return
		}
		op, v, perr := settleBody(b)
		if perr != nil {
			c.fail(perr)
			return
		}
		h, _, err = c.api.st.EndHold(c.ctx, r.id, op, v)
	case rHoldVoid:
		if c.readFields() == nil {
			return
		}
		h, _, err = c.api.st.EndHold(c.ctx, r.id, balance.Void, 0)
	}
	if err != nil {
		if errors.Is(err, balance.ErrBalanceRange) {
			err = policy.Invalid("duration", "the cost of this duration is out of range")
		}
		c.fail(err)
		return
	}
	c.reply(http.StatusOK, holdView(h))
}

// settleBody reads a Settle: exactly one of duration (whole seconds, 0 = never answered)
// and cost (an amount, not negative).
func settleBody(b *body) (balance.HoldOp, int64, error) {
	d, err := optInt(b, "duration", 0, maxSettleSeconds)
	if err != nil {
		return 0, 0, err
	}
	_, hasCost := b.m["cost"]
	switch {
	case d != nil && hasCost:
		return 0, 0, policy.Invalid("cost", "give duration or cost, not both")
	case d != nil:
		return balance.SettleDuration, *d, nil
	case !hasCost:
		return 0, 0, policy.Invalid("duration", "required (or cost)")
	}
	v, err := parseAmount("cost", b.m["cost"])
	if err != nil {
		return 0, 0, err
	}
	if v < 0 {
		return 0, 0, policy.Invalid("cost", "must not be negative")
	}
	return balance.SettleCost, int64(v), nil
}

// listHolds answers the open holds of a's subtree, newest first, paged (API.md §8);
// status, when given, must be open.
func (c *call) listHolds(a *model.Account) {
	q := c.rc.QueryArgs()
	if q.Has("status") && string(q.Peek("status")) != balance.HoldOpen {
		c.fail(policy.Invalid("status", "must be open"))
		return
	}
	var args fasthttp.Args
	q.CopyTo(&args)
	args.Del("status")
	p, err := parsePage(&args)
	if err != nil {
		c.fail(err)
		return
	}
	p.extra = url.Values{"status": {balance.HoldOpen}}
	holds, total, err := c.api.st.OpenHolds(c.ctx, a.Root, a.ID, p.offset, p.limit)
	if err != nil {
		c.fail(err)
		return
	}
	out := listJSON{Meta: p.meta("/v1/Account/"+a.ID+"/Hold/", total), Objects: []any{}}
	for _, h := range holds {
		out.Objects = append(out.Objects, holdView(h))
	}
	c.reply(http.StatusOK, out)
}
