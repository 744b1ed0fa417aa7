package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
	"github.com/tenantgw/gateway/policy/wire"
)

// The money endpoints of API.md §4: transfers and credit transfers between a parent and a
// direct child, the ledger of transfers, and usage per route and day. Operator credits are
// in balance.go.
//
// Choices where API.md is silent:
//   - A transfer record shows the real direction with a positive amount: a pull of -5.00
//     from a child is recorded (and answered) as from = child, to = parent, amount = 5.00.
//     So does a credit transfer's.
//   - `to` that is unknown or outside the caller's reach is 403 FORBIDDEN (no probing); one
//     the caller reaches that is not a direct child of {auth_id} is 400 naming `to`.
//   - An optional `currency` in a transfer body must equal the tree's currency (400 else).
//   - A credit transfer the giver cannot cover is 402 INSUFFICIENT_BALANCE naming the giver:
//     details.available is the credit it can give, its credit_limit less its debt.
//   - Idempotency-Key: 1 to 255 printable ASCII characters, scoped to {auth_id} and the
//     operation, kept 48 hours. The same key with the same method, path and body answers the
//     first answer (with `Idempotent-Replayed: true`) and moves nothing; with a different
//     request it is 409 idempotency_key_reused. Refusals are not remembered: a refused
//     request can be retried with the same key.

const maxIdemKey = 255

// idempotency reads the Idempotency-Key header for an operation on scope.
func (c *call) idempotency(scope string) (balance.Idempotency, error) {
	k := c.rc.Request.Header.Peek("Idempotency-Key")
	if k == nil {
		return balance.Idempotency{}, nil
	}
	if len(k) == 0 || len(k) > maxIdemKey {
		return balance.Idempotency{}, policy.Invalid("Idempotency-Key", "must be 1 to 255 characters")
	}
	for _, ch := range k {
		if ch < 0x21 || ch > 0x7e {
			return balance.Idempotency{}, policy.Invalid("Idempotency-Key", "must be printable ASCII without spaces")
		}
	}
	req := make([]byte, 0, len(c.rc.Method())+len(c.rc.Path())+len(c.rc.PostBody())+2)
	req = append(req, c.rc.Method()...)
	req = append(req, ' ')
	req = append(req, c.rc.Path()...)
	req = append(req, '\n')
	req = append(req, c.rc.PostBody()...)
	return balance.Idempotency{Scope: scope, Key: string(k), Body: req}, nil
}

// replied answers a money movement: 201 with the record; a replay says so in a header.
func (c *call) replied(tr *balance.Transfer, replay bool) {
	if replay {
		c.rc.Response.Header.Set("Idempotent-Replayed", "true")
	}
	c.reply(http.StatusCreated, transferView(tr))
}

// transferView renders a ledger record. For a credit, from and from_balance_after are null.
func transferView(tr *balance.Transfer) transferJSON {
	v := transferJSON{TransferID: tr.ID, To: tr.To, Amount: tr.Amount, Currency: tr.Currency,
		Kind: tr.Kind, CreatedAt: tr.Created.UTC().Format(timeLayout), ToBalanceAfter: tr.ToAfter}
	if tr.From != "" {
		from, after := tr.From, tr.FromAfter
		v.From, v.FromBalanceAfter = &from, &after
	}
	if tr.Reference != "" {
		ref := tr.Reference
		v.Reference = &ref
	}
	return v
}

// movementOp is an operation that moves something between {auth_id} and a direct child,
// with the body {"to", "amount", "reference", "currency"}.
type movementOp struct {
	scope string // the operation, in the scope of an Idempotency-Key
	run   func(st *balance.Store, ctx context.Context, parent, child *model.Account, amount model.Amount,
		trID, reference string, idem balance.Idempotency) (*balance.Transfer, bool, error)
	short string // the message of a 402: what the giver lacks
}

var (
	moneyTransfer = movementOp{scope: "transfer", run: (*balance.Store).Transfer,
		short: "balance too low for this request"}
	creditTransferOp = movementOp{scope: "credit_transfer", run: (*balance.Store).CreditTransfer,
		short: "credit too low for this request: the giver can give its credit_limit less its debt"}
)

// transfer moves money between from ({auth_id}) and a direct child.
func (c *call) transfer(from *model.Account) { c.move(from, moneyTransfer) }

// creditTransfer moves credit_limit between from ({auth_id}) and a direct child: the only
// way a tenant extends credit (API.md §3), so every unit of credit in a tree was granted by
// the operator.
func (c *call) creditTransfer(from *model.Account) { c.move(from, creditTransferOp) }

// move runs op between from ({auth_id}) and the direct child the body names.
func (c *call) move(from *model.Account, op movementOp) {
	b := c.writeFields("to", "amount", "reference", "currency")
	if b == nil {
		return
	}
	to, err := b.requiredString("to")
	if err != nil {
		c.fail(err)
		return
	}
	if !policy.ValidID([]byte(to)) {
		c.fail(policy.Invalid("to", "must be an auth_id"))
		return
	}
	amt, err := movementAmount(b)
	if err != nil {
		c.fail(err)
		return
	}
	if raw, ok := b.m["currency"]; ok {
		if cur, _ := jsonString(raw); cur != from.Currency {
			c.fail(policy.Invalid("currency", "must be "+from.Currency+", the currency of this account tree"))
			return
		}
	}
	reference, err := readReference(b)
	if err != nil {
		c.fail(err)
		return
	}
	child, err := c.pathAccount(to)
	if err != nil {
		c.fail(err)
		return
	}
	if child.Parent != from.ID {
		c.fail(policy.Invalid("to", "must be a direct subaccount of "+from.ID))
		return
	}
	idem, err := c.idempotency(from.ID + ":" + op.scope)
	if err != nil {
		c.fail(err)
		return
	}
	tr, replay, err := op.run(c.api.st, c.ctx, from, child, amt, policy.NewTransferID(), reference, idem)
	if err != nil {
		e := moneyError(err, from.Currency)
		if e.Code == wire.InsufficientBalance.Code {
			e.Message = op.short
		}
		c.fail(e)
		return
	}
	c.replied(tr, replay)
}

// readReference reads the optional reference of a credit or a transfer: "" when absent or
// null.
func readReference(b *body) (string, error) {
	ref, err := nullableText(b, "reference", textRule{max: maxReference})
	if err != nil || ref.Value == nil {
		return "", err
	}
	return *ref.Value, nil
}

// movementAmount reads the required, non-zero "amount" of a credit or a transfer.
func movementAmount(b *body) (model.Amount, error) {
	raw, ok := b.m["amount"]
	if !ok {
		return 0, policy.Invalid("amount", "required")
	}
	amt, err := parseAmount("amount", raw)
	if err == nil && amt == 0 {
		err = policy.Invalid("amount", "must not be zero")
	}
	return amt, err
}

// failMoney answers a refused money movement, adding the currency to a 402's details.
func (c *call) failMoney(err error, currency string) { c.fail(moneyError(err, currency)) }

// moneyError is the answer to a refused money movement: a 402's details carry the
// currency, a shared_balance conflict's the account without an own balance.
func moneyError(err error, currency string) *wire.APIError {
	e := wire.ErrorFor(err)
	if e.Code == wire.InsufficientBalance.Code && e.Details != nil {
		e.Details["currency"] = currency
	}
	var se *balance.SharedError
	if errors.As(err, &se) {
		e.Details["auth_id"] = se.AuthID
	}
	return e
}

// listTransfers answers the ledger records where a is a side, newest first.
func (c *call) listTransfers(a *model.Account) {
	q := c.rc.QueryArgs()
	p := page{limit: defaultLimit}
	var err error
	if q.Has("limit") {
		if p.limit, err = parseQueryInt("limit", q.Peek("limit"), 1, maxLimit); err != nil {
			c.fail(err)
			return
		}
	}
	if q.Has("offset") {
		if p.offset, err = parseQueryInt("offset", q.Peek("offset"), 0, 1<<31-1); err != nil {
			c.fail(err)
			return
		}
	}
	lq := balance.LedgerQuery{Root: a.Root, ID: a.ID}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"start", &lq.Start}, {"end", &lq.End}} {
		if !q.Has(t.name) {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, string(q.Peek(t.name)))
		if err != nil {
			c.fail(policy.Invalid(t.name, "must be an RFC 3339 time, e.g. 2026-11-22T00:00:00Z"))
			return
		}
		*t.dst = v
	}
	if q.Has("subaccount") {
		lq.Other = string(q.Peek("subaccount"))
		if !policy.ValidID([]byte(lq.Other)) {
			c.fail(policy.Invalid("subaccount", "must be an auth_id"))
			return
		}
	}
	p.extra = url.Values{}
	for _, k := range []string{"start", "end", "subaccount"} {
		if q.Has(k) {
			p.extra.Set(k, string(q.Peek(k)))
		}
	}
	recs, err := c.api.st.Ledger(c.ctx, lq)
	if err != nil {
		c.fail(err)
		return
	}
	out := listJSON{Meta: p.meta("/v1/Account/"+a.ID+"/Transfer/", len(recs)), Objects: []any{}}
	lo, hi := p.offset, p.offset+p.limit
	for i := lo; i < hi && i < len(recs); i++ {
		out.Objects = append(out.Objects, transferView(recs[i]))
	}
	c.reply(http.StatusOK, out)
}

type usageRow struct {
	Date    string       `json:"date"`
	Route   string       `json:"route"`
	Count   int64        `json:"count"`
	Charged model.Amount `json:"charged"`
}

type usageJSON struct {
	AuthID             string     `json:"auth_id"`
	Start              *string    `json:"start"`
	End                *string    `json:"end"`
	IncludeSubaccounts bool       `json:"include_subaccounts"`
	Currency           string     `json:"currency"`
	Objects            []usageRow `json:"objects"`
}

// usage answers a's usage per route and day (UTC dates, start and end inclusive), with
// include_subaccounts=true summed over the whole subtree, the usage of deleted descendants
// included (folded into a's or a descendant's counters by the delete); without it, a's own
// usage only. Counts and charges are net of refunds and settlements. Days older than
// limits.usage_retention were compacted into their months: a row dated "YYYY-MM" (before that
// month's days), included when the month overlaps start..end.
func (c *call) usage(a *model.Account) {
	q := c.rc.QueryArgs()
	out := usageJSON{AuthID: a.ID, Currency: a.Currency, Objects: []usageRow{}}
	var start, end string
	for _, d := range []struct {
		name string
		dst  *string
		out  **string
	}{{"start", &start, &out.Start}, {"end", &end, &out.End}} {
		if !q.Has(d.name) {
			continue
		}
		v := string(q.Peek(d.name))
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			c.fail(policy.Invalid(d.name, "must be a date, e.g. 2026-11-22"))
			return
		}
		*d.dst, *d.out = v, &v
	}
	if q.Has("include_subaccounts") {
		v, err := strconv.ParseBool(string(q.Peek("include_subaccounts")))
		if err != nil {
			c.fail(policy.Invalid("include_subaccounts", "must be true or false"))
			return
		}
		out.IncludeSubaccounts = v
	}
	var rows []balance.Usage
	var err error
	if out.IncludeSubaccounts {
		rows, err = c.api.st.SubtreeUsage(c.ctx, a.Root, a.ID, start, end)
	} else {
		rows, err = c.api.st.UsageOf(c.ctx, a.Root, []string{a.ID}, start, end)
	}
	if err != nil {
		c.fail(err)
		return
	}
	for _, r := range rows {
		out.Objects = append(out.Objects, usageRow{Date: r.Date, Route: r.Route, Count: r.Count, Charged: r.Charged})
	}
	c.reply(http.StatusOK, out)
}
