package admin

import (
	"net/http"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// defaultCurrency is the currency of a main account created without one.
const defaultCurrency = "USD"

// createMain creates a main account: 201 with the token in clear. Main accounts have their
// own balance (starting at zero) and every permission on, subaccounts included.
func (c *call) createMain() {
	in, err := c.accountBody(mainCreateFields)
	if err == nil {
		err = validateNew(in)
	}
	if err != nil {
		c.fail(err)
		return
	}
	a, tok, err := c.insert(policy.NewMainID, in, func(a *model.Account) {
		a.Root, a.Own, a.Perms.Sub = a.ID, true, true
		a.Currency = defaultCurrency
		if in.currency != nil {
			a.Currency = *in.currency
		}
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.reply(http.StatusCreated, accountView(a, nil, tok))
}

// listMains answers the page of main accounts, newest first.
func (c *call) listMains() {
	p, err := parsePage(c.rc.QueryArgs())
	if err != nil {
		c.fail(err)
		return
	}
	ids, err := c.api.st.Mains(c.ctx)
	if err != nil {
		c.fail(err)
		return
	}
	mains, err := c.api.st.MainAccounts(c.ctx, ids)
	if err != nil {
		c.fail(err)
		return
	}
	if gone := missing(ids, mains); len(gone) > 0 {
		_ = c.api.st.ForgetMains(c.ctx, gone) // best effort
	}
	mains = p.filter(mains)
	out := listJSON{Meta: p.meta("/admin/v1/Account/", len(mains)), Objects: []any{}}
	for _, m := range p.window(mains) {
		out.Objects = append(out.Objects, accountView(m, nil, ""))
	}
	c.reply(http.StatusOK, out)
}

// setKYC records the operator's KYC decision on a customer_use account: 200 with the
// object. A personal_use account has no KYC of its own (400).
func (c *call) setKYC(a *model.Account) {
	b := c.readFields("status")
	if b == nil {
		return
	}
	s, err := b.requiredString("status")
	if err != nil {
		c.fail(err)
		return
	}
	switch s {
	case model.KYCVerified, model.KYCFailed, model.KYCPending:
	default:
		c.fail(policy.Invalid("status", "must be verified, failed or pending"))
		return
	}
	if a.Status == model.StatusClosed {
		c.fail(balance.ErrAccountClosed)
		return
	}
	if a.KYCMode != model.KYCCustomer {
		c.fail(policy.Invalid("status", "the account's kyc_mode is personal_use; KYC applies to customer_use accounts"))
		return
	}
	if err := c.api.st.UpdateAccount(c.ctx, a, balance.Change{KYCStatus: &s}); err != nil {
		c.fail(err)
		return
	}
	if a, err = c.api.st.AccountIn(c.ctx, a.Root, a.ID); err != nil {
		c.fail(err)
		return
	}
	c.readAccount(a)
}
