package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// maxGrace bounds grace_seconds of a rotation: 30 days.
const maxGrace = 30 * 24 * 3600

// view renders a with its ancestors read from the store.
func (c *call) view(a *model.Account, token string) (accountJSON, error) {
	anc, err := c.ancestors(a)
	if err != nil {
		return accountJSON{}, err
	}
	return accountView(a, anc, token), nil
}

// readAccount answers 200 with the account object.
func (c *call) readAccount(a *model.Account) {
	v, err := c.view(a, "")
	if err != nil {
		c.fail(err)
		return
	}
	c.reply(http.StatusOK, v)
}

// listChildren answers the page of parent's direct children, newest first.
func (c *call) listChildren(parent *model.Account) {
	p, err := parsePage(c.rc.QueryArgs())
	if err != nil {
		c.fail(err)
		return
	}
	ids, err := c.api.st.Children(c.ctx, parent.Root, parent.ID)
	if err != nil {
		c.fail(err)
		return
	}
	kids, err := c.api.st.Accounts(c.ctx, parent.Root, ids)
	if err != nil {
		c.fail(err)
		return
	}
	if gone := missing(ids, kids); len(gone) > 0 {
		_ = c.api.st.ForgetChildren(c.ctx, parent.Root, parent, gone) // best effort
	}
	anc, err := c.ancestors(parent)
	if err != nil {
		c.fail(err)
		return
	}
	chain := append([]*model.Account{parent}, anc...)
	kids = p.filter(kids)
	out := listJSON{Meta: p.meta("/v1/Account/"+parent.ID+"/Subaccount/", len(kids)), Objects: []any{}}
	for _, k := range p.window(kids) {
		out.Objects = append(out.Objects, accountView(k, chain, ""))
	}
	c.reply(http.StatusOK, out)
}

// createChild creates a subaccount under parent: 201 with the token in clear. A body with
// credit_limit is 403 FORBIDDEN: credit comes from the parent by a credit transfer.
func (c *call) createChild(parent *model.Account) {
	if err := c.requireWritable(); err != nil {
		c.fail(err)
		return
	}
	in, err := c.accountBody(publicFields)
	if err == nil && in.credit != nil {
		err = creditLimitForbidden(parent.ID)
	}
	if err == nil {
		err = validateNew(in)
	}
	if err != nil {
		c.fail(err)
		return
	}
	anc, err := c.ancestors(parent)
	if err != nil {
		c.fail(err)
		return
	}
	chain := append([]*model.Account{parent}, anc...)
	for _, p := range chain {
		if !p.Perms.Sub {
			c.fail(&policy.PermissionError{Permission: "subaccounts", AuthID: p.ID})
			return
		}
	}
	if parent.Depth+1 >= c.api.o.MaxDepth {
		c.fail(policy.ErrMaxDepth)
		return
	}
	a, tok, err := c.insert(policy.NewSubID, in, func(a *model.Account) {
		a.Parent, a.Root, a.Depth = parent.ID, parent.Root, parent.Depth+1
		a.Chain = append([]string{parent.ID}, parent.Chain...)
		a.Currency = parent.Currency
		a.Own = in.useParent != nil && !*in.useParent
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.reply(http.StatusCreated, accountView(a, chain, tok))
}

// insert creates an account from in with a fresh id, fill setting what depends on its place
// in the tree, and retries with a new id should one be taken (twice at most: ids are 103
// random bits). It returns the record and the auth_token in clear.
func (c *call) insert(newID func() string, in *accountInput, fill func(*model.Account)) (*model.Account, string, error) {
	tok := policy.NewToken()
	for try := 0; ; try++ {
		a := c.newAccount(newID(), in)
		fill(a)
		a.Tok = policy.HashToken([]byte(tok)).Hex()
		err := c.api.st.CreateAccount(c.ctx, a)
		if err == nil {
			return a, tok, nil
		}
		if !errors.Is(err, balance.ErrExists) || try == 2 {
			return nil, "", err
		}
	}
}

// accountBody reads a body of account fields.
func (c *call) accountBody(fields []string) (*accountInput, error) {
	b, err := readBody(c.rc, c.api.o.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return parseAccountInput(b, fields)
}

// updateAccount applies a partial update: 200 with the whole object. Only the operator (no
// caller) sets credit_limit; a tenant's body with it is 403 FORBIDDEN and changes nothing.
func (c *call) updateAccount(a *model.Account, fields []string) {
	if err := c.requireWritable(); err != nil {
		c.fail(err)
		return
	}
	in, err := c.accountBody(fields)
	if err == nil && in.credit != nil && c.caller != nil {
		err = creditLimitForbidden(a.Parent)
	}
	if err != nil {
		c.fail(err)
		return
	}
	if a, err = c.applyUpdate(a, in); err != nil {
		c.fail(err)
		return
	}
	c.readAccount(a)
}

// deleteChild deletes sub (a direct child of parent), with its subtree if cascade is given
// in the query or the body: 204.
func (c *call) deleteChild(parent, sub *model.Account) {
	b := c.writeFields("cascade")
	if b == nil {
		return
	}
	cascade := false
	if q := c.rc.QueryArgs(); q.Has("cascade") {
		var err error
		if cascade, err = parseBool("cascade", stringRaw(string(q.Peek("cascade")))); err != nil {
			c.fail(err)
			return
		}
	}
	if raw, ok := b.m["cascade"]; ok {
		v, err := parseBool("cascade", raw)
		if err != nil {
			c.fail(err)
			return
		}
		cascade = cascade || v
	}
	ids, err := c.api.st.DeleteAccount(c.ctx, parent, sub, cascade, policy.NewTransferID())
	if err != nil {
		c.fail(err)
		return
	}
	c.api.invalidate(ids...)
	c.noContent()
}

type rotateJSON struct {
	AuthID                 string  `json:"auth_id"`
	AuthToken              string  `json:"auth_token"`
	PreviousTokenExpiresAt *string `json:"previous_token_expires_at"`
}

// rotate gives a a new token; the old one lives for grace_seconds (default TokenGrace): 201.
func (c *call) rotate(a *model.Account) {
	b := c.writeFields("grace_seconds")
	if b == nil {
		return
	}
	grace := c.api.o.TokenGrace
	if raw, ok := b.m["grace_seconds"]; ok {
		n, err := parseInt("grace_seconds", raw, 0, maxGrace)
		if err != nil {
			c.fail(err)
			return
		}
		grace = time.Duration(n) * time.Second
	}
	if a.Status == model.StatusClosed {
		c.fail(balance.ErrAccountClosed)
		return
	}
	tok := policy.NewToken()
	exp, err := c.api.st.RotateToken(c.ctx, a, policy.HashToken([]byte(tok)).Hex(), grace)
	if err != nil {
		c.fail(err)
		return
	}
	c.api.invalidate(a.ID)
	out := rotateJSON{AuthID: a.ID, AuthToken: tok}
	if !exp.IsZero() {
		s := exp.UTC().Format(timeLayout)
		out.PreviousTokenExpiresAt = &s
	}
	c.reply(http.StatusCreated, out)
}
