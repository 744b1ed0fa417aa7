package balance_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
)

// TestHeldMoneyStays: what open calls hold is not the account's to give away. A transfer, a
// credit transfer and an operator debit each stop at available = balance + credit_limit −
// held, so the call's settle, within its hold, still leaves the balance on its floor and
// not below it.
func TestHeldMoneyStays(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00", testkit.Credit("0.50"))
		r := testkit.NewAccount(t, s, m, "", testkit.Own())
		a := callReq(m, m, "0.01", testCallSpec)
		if d := admDo(t, s, a); !d.Admitted || d.Granted != 60 {
			t.Fatalf("call %+v", d)
		}
		// balance 0.99, held 0.60, credit 0.50: 0.89 available
		var ie *balance.InsufficientError
		tr := func(amount string) error {
			_, _, err := s.Transfer(ctx, m.Account, r.Account, testkit.Amt(amount), policy.NewTransferID(), "", balance.Idempotency{})
			return err
		}
		if err := tr("0.90"); !errors.As(err, &ie) || ie.AuthID != m.ID || ie.Available != testkit.Amt("0.89") {
			t.Fatalf("a transfer of held money: %v (%+v)", err, ie)
		}
		if err := tr("0.89"); err != nil {
			t.Fatal(err)
		}
		// balance 0.10, held 0.60: nothing left to give
		if _, _, err := s.CreditTransfer(ctx, m.Account, r.Account, testkit.Amt("0.01"), policy.NewTransferID(), "", balance.Idempotency{}); !errors.As(err, &ie) {
			t.Fatalf("a credit transfer of what held needs: %v", err)
		}
		if _, _, err := s.Credit(ctx, m.Account, -testkit.Amt("0.01"), policy.NewTransferID(), ""); !errors.As(err, &ie) || ie.Available != 0 {
			t.Fatalf("a debit of held money: %v (%+v)", err, ie)
		}
		if _, _, err := s.EndHold(ctx, a.Call.HoldID, balance.SettleDuration, 60); err != nil {
			t.Fatal(err)
		}
		mm := account(t, s, m)
		if mm.Balance != -testkit.Amt("0.50") || mm.Held != 0 || mm.CreditLimit != testkit.Amt("0.50") {
			t.Fatalf("after the settle: balance %v held %v credit %v; want on the floor -0.50", mm.Balance, mm.Held, mm.CreditLimit)
		}
	})
}
