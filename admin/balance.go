package admin

import (
	"net/http"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// maxReference bounds the reference of a credit or transfer, in characters.
const maxReference = 255

type balanceJSON struct {
	AuthID           string       `json:"auth_id"`
	BillingAuthID    string       `json:"billing_auth_id"`
	Balance          model.Amount `json:"balance"`
	Held             model.Amount `json:"held"`
	CreditLimit      model.Amount `json:"credit_limit"`
	Available        model.Amount `json:"available"`
	Currency         string       `json:"currency"`
	UseParentBalance bool         `json:"use_parent_balance"`
}

// readBalance answers the balance of the account that pays for a: a itself when it has an
// own balance, else the nearest ancestor that has one.
func (c *call) readBalance(a *model.Account) {
	bill := a
	if !a.Own {
		anc, err := c.ancestors(a)
		if err != nil {
			c.fail(err)
			return
		}
		for _, p := range anc {
			if p.Own {
				bill = p
				break
			}
		}
	}
	out := balanceJSON{AuthID: a.ID, BillingAuthID: bill.ID, Currency: a.Currency, UseParentBalance: !a.Own}
	if bill.Own {
		out.Balance, out.Held, out.CreditLimit = bill.Balance, bill.Held, bill.CreditLimit
		out.Available = bill.Balance + bill.CreditLimit - bill.Held
	}
	c.reply(http.StatusOK, out)
}

// transferJSON is the transfer object of API.md §4. For a credit, from and
// from_balance_after are null (the money comes from the operator).
type transferJSON struct {
	TransferID       string        `json:"transfer_id"`
	From             *string       `json:"from"`
	To               string        `json:"to"`
	Amount           model.Amount  `json:"amount"`
	Currency         string        `json:"currency"`
	Reference        *string       `json:"reference"`
	Kind             string        `json:"kind"`
	CreatedAt        string        `json:"created_at"`
	FromBalanceAfter *model.Amount `json:"from_balance_after"`
	ToBalanceAfter   model.Amount  `json:"to_balance_after"`
}

// credit adds money to a's own balance (negative takes it away, never below
// -credit_limit): 201 with the transfer of kind credit; 402 and nothing moved otherwise.
func (c *call) credit(a *model.Account) {
	b := c.readFields("amount", "reference")
	if b == nil {
		return
	}
	amt, err := movementAmount(b)
	if err != nil {
		c.fail(err)
		return
	}
	reference, err := readReference(b)
	if err != nil {
		c.fail(err)
		return
	}
	idem, err := c.idempotency("credit:" + a.ID)
	if err != nil {
		c.fail(err)
		return
	}
	tr, replay, err := c.api.st.CreditIdem(c.ctx, a, amt, policy.NewTransferID(), reference, idem)
	if err != nil {
		c.failMoney(err, a.Currency)
		return
	}
	c.replied(tr, replay)
}
