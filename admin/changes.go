package admin

import (
	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// changeFor turns an update body into a store change for a. It checks what can be checked
// before the store (closed is final, KYC needs an email); the store's update script checks
// the rest atomically (closed again, parent_suspended, has_subaccounts, shared_balance).
func (c *call) changeFor(a *model.Account, in *accountInput) (balance.Change, error) {
	var ch balance.Change
	if a.Status == model.StatusClosed {
		return ch, balance.ErrAccountClosed
	}
	ch.Name = in.name
	ch.Desc, ch.Email, ch.BusinessType = in.desc, in.email, in.btype
	mode, email := a.KYCMode, a.Email
	if in.kycMode != nil {
		mode = *in.kycMode
	}
	if in.email.Set {
		email = in.email.Value
	}
	if err := requireEmailForKYC(mode, email); err != nil {
		return ch, err
	}
	if in.kycMode != nil && *in.kycMode != a.KYCMode {
		status := model.KYCNotRequired
		if mode == model.KYCCustomer {
			status = model.KYCPending
		}
		ch.KYCMode, ch.KYCStatus = &mode, &status
	}
	for _, f := range []struct {
		p model.Permission
		v *bool
	}{{model.PermCalls, in.calls}, {model.PermSMS, in.sms}, {model.PermCDR, in.cdr}, {model.PermSub, in.sub}} {
		if f.v != nil {
			if ch.Perms == nil {
				ch.Perms = map[model.Permission]bool{}
			}
			ch.Perms[f.p] = *f.v
		}
	}
	if in.rate != nil {
		r := int(*in.rate)
		ch.RateLimit = &r
	}
	if in.maxSub != nil {
		m := int(*in.maxSub)
		ch.MaxSub = &m
	}
	if in.maxCalls != nil {
		m := int(*in.maxCalls)
		ch.MaxCalls = &m
	}
	if in.cps != nil {
		m := int(*in.cps)
		ch.CPS = &m
	}
	ch.CreditLimit = in.credit
	if in.useParent != nil {
		own := !*in.useParent
		ch.WantOwn = &own
	}
	if in.status != nil && *in.status != a.Status {
		ch.Status = *in.status
		if ch.Status == model.StatusClosed {
			ch.Retention = c.api.o.ClosedRetention
			ch.CloseTrID = policy.NewTransferID()
		}
	}
	return ch, nil
}

// applyUpdate applies an update body to a and returns the account as it now reads.
func (c *call) applyUpdate(a *model.Account, in *accountInput) (*model.Account, error) {
	ch, err := c.changeFor(a, in)
	if err != nil {
		return nil, err
	}
	if ch.Empty() {
		return a, nil
	}
	if err := c.api.st.UpdateAccount(c.ctx, a, ch); err != nil {
		return nil, err
	}
	if ch.Status != "" {
		c.api.invalidate(a.ID)
	}
	return c.api.st.AccountIn(c.ctx, a.Root, a.ID)
}

// newAccount returns a new account with id from a create body, defaults filled in; the
// caller sets its place in the tree (parent, root, depth, chain), currency and balance mode.
func (c *call) newAccount(id string, in *accountInput) *model.Account {
	a := &model.Account{
		ID: id, Status: model.StatusActive,
		Perms:     model.Perms{Calls: true, SMS: true, CDR: true},
		RateLimit: c.api.o.RateLimit, KYCMode: model.KYCPersonal, KYCStatus: model.KYCNotRequired,
		MaxSub: c.api.o.MaxSubaccounts,
	}
	if in.name != nil {
		a.Name = *in.name
	}
	a.Desc, a.Email, a.BusinessType = in.desc.Value, in.email.Value, in.btype.Value
	if in.status != nil {
		a.Status = *in.status
	}
	a.Perms = model.Perms{Calls: orBool(in.calls, true), SMS: orBool(in.sms, true),
		CDR: orBool(in.cdr, true), Sub: orBool(in.sub, a.Perms.Sub)}
	if in.rate != nil {
		a.RateLimit = int(*in.rate)
	}
	if in.maxSub != nil {
		a.MaxSub = int(*in.maxSub)
	}
	if in.maxCalls != nil {
		a.MaxCalls = int(*in.maxCalls)
	}
	if in.cps != nil {
		a.CPS = int(*in.cps)
	}
	if in.kycMode != nil && *in.kycMode == model.KYCCustomer {
		a.KYCMode, a.KYCStatus = model.KYCCustomer, model.KYCPending
	}
	if in.credit != nil {
		a.CreditLimit = *in.credit
	}
	return a
}

// validateNew checks a create body's own rules: name required, not created closed, KYC.
func validateNew(in *accountInput) error {
	if in.name == nil {
		return policy.Invalid("name", "required")
	}
	if in.status != nil && *in.status == model.StatusClosed {
		return policy.Invalid("status", "an account cannot be created closed")
	}
	mode := model.KYCPersonal
	if in.kycMode != nil {
		mode = *in.kycMode
	}
	return requireEmailForKYC(mode, in.email.Value)
}
