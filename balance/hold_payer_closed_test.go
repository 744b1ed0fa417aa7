package balance_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// TestHoldOutlivesItsPayer: an account with its own balance opens a call and is then closed
// or deleted while the call is open (allowed; README "Calls"). Its balance goes up to the
// parent at once; the settle that comes later charges the parent (the nearest open own
// balance above it), takes the hold's held off the closed record, frees the slots, and the
// books close: credits = own balances + everything charged.
func TestHoldOutlivesItsPayer(t *testing.T) {
	for _, end := range []string{"close", "delete"} {
		t.Run(end, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, s *balance.Store) {
				ctx := context.Background()
				m := testkit.NewAccount(t, s, nil, "1.00")
				c := testkit.NewAccount(t, s, m, "1.00", testkit.Own())
				req := callReq(c, c, "0.01", testCallSpec)
				if d := admDo(t, s, req); !d.Admitted || d.BillingID != c.ID {
					t.Fatalf("call %+v", d)
				}
				if got := account(t, s, c); got.Held != testkit.Amt("0.60") || got.Balance != testkit.Amt("0.99") {
					t.Fatalf("after the admit: balance %v held %v, want 0.99 and 0.60", got.Balance, got.Held)
				}
				switch end {
				case "close":
					if err := s.UpdateAccount(ctx, c.Account, balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: policy.NewTransferID()}); err != nil {
						t.Fatal(err)
					}
				case "delete":
					if _, err := s.DeleteAccount(ctx, m.Account, c.Account, false, newID("TR")); err != nil {
						t.Fatal(err)
					}
				}
				if got := testkit.Balance(t, s, m); got != testkit.Amt("1.99") {
					t.Fatalf("main after the %s: %v, want 1.99", end, got)
				}
				h, replay, err := s.EndHold(ctx, req.Call.HoldID, balance.SettleDuration, 20)
				if err != nil || replay || h.Status != balance.HoldSettled || h.Charged != testkit.Amt("0.20") {
					t.Fatalf("settle: %+v %v %v", h, replay, err)
				}
				if got := testkit.Balance(t, s, m); got != testkit.Amt("1.79") {
					t.Errorf("main after the settle: %v, want 1.79 (the call's 0.20 charged to it)", got)
				}
				if got := account(t, s, m); got.Held != 0 || got.ActiveCalls != 0 {
					t.Errorf("main: held %v, %d active calls", got.Held, got.ActiveCalls)
				}
				if end == "close" {
					if got := account(t, s, c); got.Held != 0 || got.Balance != 0 || got.ActiveCalls != 0 {
						t.Errorf("closed account: balance %v held %v, %d active calls", got.Balance, got.Held, got.ActiveCalls)
					}
				}
				// credits 2.00 = own balances 1.79 (+ 0 on a closed record) + charged 0.01 + 0.20
				if got := testkit.Balance(t, s, m) + req.Price + h.Charged; got != testkit.Amt("2.00") {
					t.Errorf("own balances + charged = %v, want the 2.00 credited", got)
				}
			})
		})
	}
}
