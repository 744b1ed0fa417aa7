package balance_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
)

// TestCloseAndDeleteMoveNegativeBalances: the update (close) and delete scripts move an own
// balance below zero up to the parent's billing account as it is — a debt, recorded with a
// negative amount — and a zero balance without a record.
func TestCloseAndDeleteMoveNegativeBalances(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := admMk(t, s, nil, "1")
		a := admMk(t, s, m, "0.25", admOwn(), admCredit("1"))
		b := admMk(t, s, m, "0.25", admOwn(), admCredit("1"))
		z := admMk(t, s, m, "", admOwn())
		for _, x := range []*admAcct{a, b} {
			if d := admDo(t, s, admReq(x, x, "", false, "0.75")); !d.Admitted || admBal(t, s, x) != admAmt("-0.5") {
				t.Fatalf("admit on %s: %+v, balance %v", x.ID, d, admBal(t, s, x))
			}
		}
		trID := newID("TR")
		if err := s.UpdateAccount(ctx, a.Account, balance.Change{Status: balance.StatusClosed, Retention: time.Hour, CloseTrID: trID}); err != nil {
			t.Fatal(err)
		}
		if got := admBal(t, s, m); got != admAmt("0.5") {
			t.Fatalf("main after closing a at -0.50: %v", got)
		}
		trs, err := s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: a.ID})
		if err != nil || len(trs) == 0 || trs[0].ID != trID || trs[0].Amount != admAmt("-0.5") || trs[0].Kind != balance.KindClose || trs[0].ToAfter != admAmt("0.5") {
			t.Fatalf("close record %+v %v", trs, err)
		}
		if _, err := s.DeleteAccount(ctx, m.Account, b.Account, false, "TRD"); err != nil {
			t.Fatal(err)
		}
		if got := admBal(t, s, m); got != 0 {
			t.Fatalf("main after deleting b at -0.50: %v", got)
		}
		trs, err = s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID})
		if err != nil || len(trs) == 0 || trs[0].From != b.ID || trs[0].Amount != admAmt("-0.5") || trs[0].Kind != balance.KindDelete || trs[0].ToAfter != 0 {
			t.Fatalf("delete record %+v %v", trs, err)
		}
		n := len(trs)
		if _, err := s.DeleteAccount(ctx, m.Account, z.Account, false, "TRZ"); err != nil {
			t.Fatal(err)
		}
		if trs, _ = s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID}); len(trs) != n || admBal(t, s, m) != 0 {
			t.Fatalf("deleting a zero balance recorded %d records (had %d), main %v", len(trs), n, admBal(t, s, m))
		}
	})
}
