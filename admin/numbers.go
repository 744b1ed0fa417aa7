package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// Phone numbers (API.md §9). Tenants list, read, move within their subtree and give back
// numbers; the operator adds them to a main account's inventory, looks up who owns one and
// removes them. For a tenant, a number that is malformed, unknown, in another tree or out
// of reach is the same 403 FORBIDDEN, as for accounts; the store's scripts check ownership
// and reach again in the move itself, so a move racing another or a close decides once.

// numberJSON is the number object of API.md §9.
type numberJSON struct {
	Number     string `json:"number"`
	AuthID     string `json:"auth_id"`
	RootAuthID string `json:"root_auth_id"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

func numberView(n *balance.Number) numberJSON {
	return numberJSON{Number: n.Number, AuthID: n.AuthID, RootAuthID: n.Root,
		CreatedAt: n.Created.UTC().Format(timeLayout), UpdatedAt: n.Updated.UTC().Format(timeLayout)}
}

// tenantNumberErr maps what the store says of a number or of the account it should go to
// to what a tenant may learn: not there and out of reach look alike (403).
func tenantNumberErr(err error) error {
	if errors.Is(err, balance.ErrNoSuchNumber) || errors.Is(err, balance.ErrNotFound) {
		return policy.ErrForbidden
	}
	return err
}

// reachableNumber reads number for a caller at target: it must be owned by target or an
// account below it.
func (c *call) reachableNumber(target *model.Account, number string) (*balance.Number, error) {
	if !model.ValidNumber([]byte(number)) {
		return nil, policy.ErrForbidden
	}
	n, err := c.api.st.NumberIn(c.ctx, target.Root, number)
	if err != nil {
		return nil, tenantNumberErr(err)
	}
	if n.AuthID == target.ID {
		return n, nil
	}
	owner, err := c.api.st.AccountIn(c.ctx, target.Root, n.AuthID)
	if err != nil {
		return nil, tenantNumberErr(err)
	}
	if !policy.Reaches(target.ID, owner.ID, owner.Chain) {
		return nil, policy.ErrForbidden
	}
	return n, nil
}

// listNumbers answers the numbers target owns (include_subaccounts=true: its subtree's), in
// the numbers' order, paged by limit and offset.
func (c *call) listNumbers(target *model.Account) {
	q := c.rc.QueryArgs()
	p, err := parsePage(q)
	if err != nil {
		c.fail(err)
		return
	}
	ids := []string{target.ID}
	if q.Has("include_subaccounts") {
		sub, err := parseBool("include_subaccounts", stringRaw(string(q.Peek("include_subaccounts"))))
		if err != nil {
			c.fail(err)
			return
		}
		if sub {
			if ids, err = c.api.st.Subtree(c.ctx, target.Root, target.ID); err != nil {
				c.fail(err)
				return
			}
			p.extra = map[string][]string{"include_subaccounts": {"true"}}
		}
	}
	nums, err := c.api.st.NumbersOf(c.ctx, target.Root, ids)
	if err != nil {
		c.fail(err)
		return
	}
	out := listJSON{Meta: p.meta("/v1/Account/"+target.ID+"/Number/", len(nums)), Objects: []any{}}
	if p.offset < len(nums) {
		for _, n := range nums[p.offset:min(p.offset+p.limit, len(nums))] {
			out.Objects = append(out.Objects, numberView(n))
		}
	}
	c.reply(http.StatusOK, out)
}

// readNumber answers one number owned by target or below it.
func (c *call) readNumber(target *model.Account, number string) {
	n, err := c.reachableNumber(target, number)
	if err != nil {
		c.fail(err)
		return
	}
	c.reply(http.StatusOK, numberView(n))
}

// moveNumber gives a number owned by target or below it to the account of the body's
// auth_id, which must be target or below it: 200 with the number.
func (c *call) moveNumber(target *model.Account, number string) {
	b := c.writeFields("auth_id")
	if b == nil {
		return
	}
	dest, err := b.requiredString("auth_id")
	if err == nil && !policy.ValidID([]byte(dest)) {
		err = policy.Invalid("auth_id", "must be an account id")
	}
	if err != nil {
		c.fail(err)
		return
	}
	if !model.ValidNumber([]byte(number)) {
		c.fail(policy.ErrForbidden)
		return
	}
	n, err := c.api.st.MoveNumber(c.ctx, target.Root, target.ID, number, dest)
	if err != nil {
		c.fail(tenantNumberErr(err))
		return
	}
	c.reply(http.StatusOK, numberView(n))
}

// giveBackNumber gives a number owned by target or below it to its owner's parent: 204. A
// main account's number is the operator's to remove (409 main_account_number).
func (c *call) giveBackNumber(target *model.Account, number string) {
	if b := c.writeFields(); b == nil {
		return
	}
	if !model.ValidNumber([]byte(number)) {
		c.fail(policy.ErrForbidden)
		return
	}
	if _, err := c.api.st.MoveNumber(c.ctx, target.Root, target.ID, number, ""); err != nil {
		c.fail(tenantNumberErr(err))
		return
	}
	c.noContent()
}

// addNumber adds the body's number to the inventory of the main account a: 201.
func (c *call) addNumber(a *model.Account) {
	b := c.readFields("number")
	if b == nil {
		return
	}
	number, err := b.requiredString("number")
	if err == nil && !model.ValidNumber([]byte(number)) {
		err = policy.Invalid("number", "must be an E.164 number: '+' and 8 to 15 digits")
	}
	if err == nil && !a.IsMain() {
		err = policy.Invalid("auth_id", "numbers are added to main accounts; a main account moves them to its subaccounts")
	}
	if err != nil {
		c.fail(err)
		return
	}
	n, err := c.api.st.AddNumber(c.ctx, a.ID, number)
	if err != nil {
		c.fail(err)
		return
	}
	c.reply(http.StatusCreated, numberView(n))
}

// operatorNumber looks a number up (GET: 200, 404 when nobody has it) or removes it from the
// platform (DELETE: 204).
func (c *call) operatorNumber(number string) {
	if !model.ValidNumber([]byte(number)) {
		c.fail(policy.Invalid("number", "must be an E.164 number: '+' and 8 to 15 digits ("+strconv.Quote(number)+")"))
		return
	}
	if c.rc.IsDelete() {
		if err := c.api.st.RemoveNumber(c.ctx, number); err != nil {
			c.fail(err)
			return
		}
		c.noContent()
		return
	}
	n, err := c.api.st.LookupNumber(c.ctx, number)
	if err != nil {
		c.fail(err)
		return
	}
	c.reply(http.StatusOK, numberView(n))
}
