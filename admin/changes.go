package admin

import (
	"strconv"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
)

// changeFor turns an update body into a store change for a. It checks what can be checked
// before the store (closed is final, KYC needs an email); the store's update script checks
// the rest atomically (closed again, parent_suspended, has_subaccounts, shared_balance).
func (c *call) changeFor(a *balance.Account, in *accountInput) (balance.Change, error) {
	ch := balance.Change{Set: map[string]string{}}
	if a.Status == balance.StatusClosed {
		return ch, balance.ErrAccountClosed
	}
	if in.name != nil {
		ch.Set["name"] = *in.name
	}
	for _, f := range []struct {
		key string
		t   optText
	}{{"desc", in.desc}, {"email", in.email}, {"btype", in.btype}} {
		switch {
		case !f.t.set:
		case f.t.v == nil:
			ch.Delete = append(ch.Delete, f.key)
		default:
			ch.Set[f.key] = *f.t.v
		}
	}
	mode, email := a.KYCMode, a.Email
	if in.kycMode != nil {
		mode = *in.kycMode
	}
	if in.email.set {
		email = in.email.v
	}
	if err := requireEmailForKYC(mode, email); err != nil {
		return ch, err
	}
	if in.kycMode != nil && *in.kycMode != a.KYCMode {
		ch.Set["kyc_mode"] = mode
		if mode == balance.KYCCustomer {
			ch.Set["kyc_status"] = balance.KYCPending
		} else {
			ch.Set["kyc_status"] = balance.KYCNotRequired
		}
	}
	for _, f := range []struct {
		key string
		v   *bool
	}{{"p_calls", in.calls}, {"p_sms", in.sms}, {"p_cdr", in.cdr}, {"p_sub", in.sub}} {
		if f.v != nil {
			ch.Set[f.key] = b01(*f.v)
		}
	}
	if in.rate != nil {
		ch.Set["rate"] = strconv.FormatInt(*in.rate, 10)
	}
	if in.maxSub != nil {
		ch.Set["max_sub"] = strconv.FormatInt(*in.maxSub, 10)
	}
	if in.credit != nil {
		ch.Set["credit"] = strconv.FormatInt(int64(*in.credit), 10)
	}
	if in.useParent != nil {
		own := !*in.useParent
		ch.WantOwn = &own
	}
	if in.status != nil && *in.status != a.Status {
		ch.Status = *in.status
		if ch.Status == balance.StatusClosed {
			ch.Retention = c.api.o.ClosedRetention
			ch.CloseTrID = policy.NewTransferID()
		}
	}
	return ch, nil
}

func emptyChange(ch balance.Change) bool {
	return len(ch.Set) == 0 && len(ch.Delete) == 0 && ch.Status == "" && ch.WantOwn == nil
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// applyUpdate applies an update body to a and returns the account as it now reads.
func (c *call) applyUpdate(a *balance.Account, in *accountInput) (*balance.Account, error) {
	ch, err := c.changeFor(a, in)
	if err != nil {
		return nil, err
	}
	if emptyChange(ch) {
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
func (c *call) newAccount(id string, in *accountInput) *balance.Account {
	a := &balance.Account{
		ID: id, Status: balance.StatusActive,
		Perms:     balance.Perms{Calls: true, SMS: true, CDR: true},
		RateLimit: c.api.o.RateLimit, KYCMode: balance.KYCPersonal, KYCStatus: balance.KYCNotRequired,
		MaxSub: c.api.o.MaxSubaccounts,
	}
	if in.name != nil {
		a.Name = *in.name
	}
	a.Desc, a.Email, a.BusinessType = in.desc.v, in.email.v, in.btype.v
	if in.status != nil {
		a.Status = *in.status
	}
	a.Perms = balance.Perms{Calls: orBool(in.calls, true), SMS: orBool(in.sms, true),
		CDR: orBool(in.cdr, true), Sub: orBool(in.sub, a.Perms.Sub)}
	if in.rate != nil {
		a.RateLimit = int(*in.rate)
	}
	if in.maxSub != nil {
		a.MaxSub = int(*in.maxSub)
	}
	if in.kycMode != nil && *in.kycMode == balance.KYCCustomer {
		a.KYCMode, a.KYCStatus = balance.KYCCustomer, balance.KYCPending
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
	if in.status != nil && *in.status == balance.StatusClosed {
		return policy.Invalid("status", "an account cannot be created closed")
	}
	mode := balance.KYCPersonal
	if in.kycMode != nil {
		mode = *in.kycMode
	}
	return requireEmailForKYC(mode, in.email.v)
}
