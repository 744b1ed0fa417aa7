package balance_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestCloseAndDeleteMoveNegativeBalances: the update (close) and delete scripts move an own
// balance below zero up to the parent's billing account as it is — a debt, recorded with a
// negative amount — and a zero balance without a record.
func TestCloseAndDeleteMoveNegativeBalances(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1")
		a := testkit.NewAccount(t, s, m, "0.25", testkit.Own(), testkit.Credit("1"))
		b := testkit.NewAccount(t, s, m, "0.25", testkit.Own(), testkit.Credit("1"))
		z := testkit.NewAccount(t, s, m, "", testkit.Own())
		for _, x := range []*testkit.Account{a, b} {
			if d := admDo(t, s, admReq(x, x, model.PermNone, false, "0.75")); !d.Admitted || testkit.Balance(t, s, x) != testkit.Amt("-0.5") {
				t.Fatalf("admit on %s: %+v, balance %v", x.ID, d, testkit.Balance(t, s, x))
			}
		}
		trID := newID("TR")
		if err := s.UpdateAccount(ctx, a.Account, balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: trID}); err != nil {
			t.Fatal(err)
		}
		if got := testkit.Balance(t, s, m); got != testkit.Amt("0.5") {
			t.Fatalf("main after closing a at -0.50: %v", got)
		}
		trs, err := s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: a.ID})
		if cl := ofKind(trs, balance.KindClose); err != nil || cl == nil || cl.ID != trID || cl.Amount != testkit.Amt("-0.5") || cl.ToAfter != testkit.Amt("0.5") {
			t.Fatalf("close record %+v %v", cl, err)
		}
		if _, err := s.DeleteAccount(ctx, m.Account, b.Account, false, "TRD"); err != nil {
			t.Fatal(err)
		}
		if got := testkit.Balance(t, s, m); got != 0 {
			t.Fatalf("main after deleting b at -0.50: %v", got)
		}
		trs, err = s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID})
		if dl := ofKind(trs, balance.KindDelete); err != nil || dl == nil || dl.From != b.ID || dl.Amount != testkit.Amt("-0.5") || dl.ToAfter != 0 {
			t.Fatalf("delete record %+v %v", dl, err)
		}
		n := len(trs)
		if _, err := s.DeleteAccount(ctx, m.Account, z.Account, false, "TRZ"); err != nil {
			t.Fatal(err)
		}
		if trs, _ = s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID}); len(trs) != n || testkit.Balance(t, s, m) != 0 {
			t.Fatalf("deleting a zero balance recorded %d records (had %d), main %v", len(trs), n, testkit.Balance(t, s, m))
		}
	})
}

// ofKind returns the newest record of kind in trs (newest first), or nil.
func ofKind(trs []*balance.Transfer, kind string) *balance.Transfer {
	for _, tr := range trs {
		if tr.Kind == kind {
			return tr
		}
	}
	return nil
}
