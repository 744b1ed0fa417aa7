package admin

import (
	"errors"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// pathAccount loads the {auth_id} of a public path and applies the access rule: an id that
// is malformed, unknown or out of the caller's reach is policy.ErrForbidden alike.
func (c *call) pathAccount(id string) (*model.Account, error) {
	if !policy.ValidID([]byte(id)) {
		return nil, policy.ErrForbidden
	}
	if id == c.caller.ID {
		return c.caller, nil
	}
	a, err := c.api.st.Account(c.ctx, id)
	if errors.Is(err, balance.ErrNotFound) {
		return nil, policy.ErrForbidden
	}
	if err != nil {
		return nil, err
	}
	if a.Root != c.caller.Root || !policy.Reaches(c.caller.ID, a.ID, a.Chain) {
		return nil, policy.ErrForbidden
	}
	return a, nil
}

// childAccount loads {sub_auth_id}: 403 FORBIDDEN when it is unknown or out of the caller's
// reach (as for {auth_id}), 404 NOT_FOUND when the caller reaches it but it is not a direct
// child of parent.
func (c *call) childAccount(parent *model.Account, id string) (*model.Account, error) {
	a, err := c.pathAccount(id)
	if err != nil {
		return nil, err
	}
	if a.Parent != parent.ID {
		return nil, notFound()
	}
	return a, nil
}

// anyAccount loads an account for the operator: unknown is 404.
func (c *call) anyAccount(id string) (*model.Account, error) {
	if !policy.ValidID([]byte(id)) {
		return nil, notFound()
	}
	a, err := c.api.st.Account(c.ctx, id)
	if errors.Is(err, balance.ErrNotFound) {
		return nil, notFound()
	}
	return a, err
}

// ancestors returns the records of a's chain, parent first. Records that have gone (a
// closed ancestor whose retention ended) are left out.
func (c *call) ancestors(a *model.Account) ([]*model.Account, error) {
	return c.api.st.Accounts(c.ctx, a.Root, a.Chain)
}

// requireWritable refuses writes by a caller that is not active: 403 ACCOUNT_SUSPENDED
// naming the caller or its suspended ancestor. The operator (no caller) always may write.
func (c *call) requireWritable() error {
	if c.caller == nil {
		return nil
	}
	if c.caller.Status != model.StatusActive {
		return suspendedError(c.caller.ID)
	}
	anc, err := c.ancestors(c.caller)
	if err != nil {
		return err
	}
	for _, p := range anc {
		if p.Status != model.StatusActive {
			return suspendedError(p.ID)
		}
	}
	return nil
}
