package balance_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestCloseAndDeleteReturnCredit: closing or deleting a subaccount gives its credit_limit
// back, with its balance, to the parent's billing account (a record of kind
// credit_transfer), so the credit in a tree stays what the operator gave it.
func TestCloseAndDeleteReturnCredit(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1", testkit.Credit("5"))
		r := testkit.NewAccount(t, s, m, "", testkit.Own(), testkit.Credit("2"))        // a reseller
		c := testkit.NewAccount(t, s, r, "", testkit.Own(), testkit.Credit("0.5"))      // its customer, cascade-deleted with it
		sh := testkit.NewAccount(t, s, r, "", testkit.Credit("0.25"))                   // shared balance: its credit returns too
		x := testkit.NewAccount(t, s, m, "", testkit.Own(), testkit.Credit("1.000001")) // closed below
		sum := func() model.Amount {
			var n model.Amount
			for _, id := range []string{m.ID, r.ID, c.ID, sh.ID, x.ID} {
				if a, err := s.Account(ctx, id); err == nil {
					n += a.CreditLimit
				}
			}
			return n
		}
		if got, want := sum(), testkit.Amt("8.750001"); got != want {
			t.Fatalf("credit in the tree %v, want %v", got, want)
		}
		tr := newID("TR")
		if err := s.UpdateAccount(ctx, x.Account, balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: tr}); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, m.ID).CreditLimit; got != testkit.Amt("6.000001") {
			t.Fatalf("main's credit after closing x: %v", got)
		}
		if got := get(t, s, x.ID).CreditLimit; got != 0 {
			t.Fatalf("closed x keeps credit %v", got)
		}
		trs, err := s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: x.ID})
		if ct := ofKind(trs, balance.KindCreditTransfer); err != nil || ct == nil || ct.From != x.ID || ct.To != m.ID ||
			ct.Amount != testkit.Amt("1.000001") || ct.FromAfter != 0 || ct.ToAfter != testkit.Amt("6.000001") {
			t.Fatalf("close's credit record %+v %v", ct, err)
		}
		if _, err := s.DeleteAccount(ctx, m.Account, r.Account, true, "TRDEL"); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, m.ID).CreditLimit; got != testkit.Amt("8.750001") {
			t.Fatalf("main's credit after the cascade: %v", got)
		}
		if got := sum(); got != testkit.Amt("8.750001") {
			t.Fatalf("credit in the tree after close and delete %v", got)
		}
		trs, err = s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID})
		var returned model.Amount
		for _, tr := range trs {
			if tr.Kind == balance.KindCreditTransfer {
				returned += tr.Amount
			}
		}
		if err != nil || returned != testkit.Amt("3.750001") {
			t.Fatalf("credit records to the main add up to %v (%v)", returned, err)
		}
	})
}
