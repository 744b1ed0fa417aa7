package balance_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
)

// setCredit sets a's credit_limit directly, as the operator does.
func setCredit(t *testing.T, s *balance.Store, a *model.Account, credit model.Amount) {
	t.Helper()
	if err := s.UpdateAccount(context.Background(), a, balance.Change{CreditLimit: &credit}); err != nil {
		t.Fatal(err)
	}
}

// limits reads the balance and credit_limit of each account.
func limits(t *testing.T, s *balance.Store, accts ...*model.Account) []model.Amount {
	t.Helper()
	var out []model.Amount
	for _, a := range accts {
		r := get(t, s, a.ID)
		out = append(out, r.Balance, r.CreditLimit)
	}
	return out
}

func sameAmounts(a, b []model.Amount) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCreditTransfer: a credit transfer moves credit_limit (never money) between a parent
// and a direct child, both ways, all or nothing: the giver keeps a credit_limit >= 0 and a
// balance above its new floor.
func TestCreditTransfer(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		t.Run("both ways", func(t *testing.T) {
			m := mainAcct(t, s)
			c := subAcct(t, s, m, true)
			setCredit(t, s, m, 10_000_000)
			if _, _, err := s.Credit(ctx, m, 3_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			tr, replay, err := s.CreditTransfer(ctx, m, c, 4_000_000, newID("TR"), "ref", balance.Idempotency{})
			if err != nil || replay || tr.Kind != balance.KindCreditTransfer || tr.From != m.ID || tr.To != c.ID || tr.Amount != 4_000_000 ||
				tr.FromAfter != 6_000_000 || tr.ToAfter != 4_000_000 || tr.Reference != "ref" || tr.Currency != "USD" {
				t.Fatalf("push: %+v %v %v", tr, replay, err)
			}
			tr, _, err = s.CreditTransfer(ctx, m, c, -1_500_000, newID("TR"), "", balance.Idempotency{})
			if err != nil || tr.From != c.ID || tr.To != m.ID || tr.Amount != 1_500_000 || tr.FromAfter != 2_500_000 || tr.ToAfter != 7_500_000 {
				t.Fatalf("pull: %+v %v", tr, err)
			}
			// Balances never move; the credit does.
			if got := limits(t, s, m, c); !sameAmounts(got, []model.Amount{3_000_000, 7_500_000, 0, 2_500_000}) {
				t.Fatalf("after push and pull: %v", got)
			}
			all, err := s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: c.ID})
			if err != nil || len(all) != 2 || all[0].Kind != balance.KindCreditTransfer || all[1].Kind != balance.KindCreditTransfer {
				t.Fatalf("child's ledger: %v %v", all, err)
			}
		})
		t.Run("floors", func(t *testing.T) {
			m := mainAcct(t, s)
			c := subAcct(t, s, m, true)
			setCredit(t, s, m, 5_000_000)
			if _, _, err := s.CreditTransfer(ctx, m, c, 3_000_000, newID("TR"), "", balance.Idempotency{}); err != nil {
				t.Fatal(err)
			}
			// The child spends on credit: balance -2.00 with a credit_limit of 3.00.
			if _, _, err := s.Credit(ctx, c, -2_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			// The main is in debt too: -1.00 of its 2.00.
			if _, _, err := s.Credit(ctx, m, -1_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			before := limits(t, s, m, c)
			var ie *balance.InsufficientError
			// A pull that would leave the child's balance below its new floor: it can give 1.00.
			if _, _, err := s.CreditTransfer(ctx, m, c, -1_000_001, newID("TR"), "", balance.Idempotency{}); !errors.As(err, &ie) ||
				ie.AuthID != c.ID || ie.Required != 1_000_001 || ie.Available != 1_000_000 {
				t.Fatalf("pull beyond the child's floor: %v", err)
			}
			// A push beyond what the main holds: 2.00 of credit, 1.00 of it used.
			if _, _, err := s.CreditTransfer(ctx, m, c, 1_000_001, newID("TR"), "", balance.Idempotency{}); !errors.As(err, &ie) ||
				ie.AuthID != m.ID || ie.Available != 1_000_000 {
				t.Fatalf("push beyond the main's credit: %v", err)
			}
			if got := limits(t, s, m, c); !sameAmounts(got, before) {
				t.Fatalf("refusals changed %v to %v", before, got)
			}
			// Exactly to the floor is allowed, on both sides.
			if _, _, err := s.CreditTransfer(ctx, m, c, -1_000_000, newID("TR"), "", balance.Idempotency{}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.CreditTransfer(ctx, m, c, 2_000_000, newID("TR"), "", balance.Idempotency{}); err != nil {
				t.Fatal(err)
			}
			if got := limits(t, s, m, c); !sameAmounts(got, []model.Amount{-1_000_000, 1_000_000, -2_000_000, 4_000_000}) {
				t.Fatalf("at the floors: %v", got)
			}
			// A giver with no credit has nothing to give, whatever its balance.
			if _, _, err := s.Credit(ctx, c, 9_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.CreditTransfer(ctx, m, c, -4_000_001, newID("TR"), "", balance.Idempotency{}); !errors.As(err, &ie) || ie.Available != 4_000_000 {
				t.Fatalf("pull more credit than the child has: %v", err)
			}
		})
		t.Run("who may take part", func(t *testing.T) {
			m := mainAcct(t, s)
			setCredit(t, s, m, 5_000_000)
			c := subAcct(t, s, m, true)
			shared := subAcct(t, s, m, false)
			var se *balance.SharedError
			if _, _, err := s.CreditTransfer(ctx, m, shared, 1, newID("TR"), "", balance.Idempotency{}); !errors.As(err, &se) || se.AuthID != shared.ID {
				t.Fatalf("to a shared balance: %v", err)
			}
			g := subAcct(t, s, c, true)
			if _, _, err := s.CreditTransfer(ctx, m, g, 1, newID("TR"), "", balance.Idempotency{}); !errors.Is(err, balance.ErrNotFound) {
				t.Fatalf("to a grandchild: %v", err)
			}
			m2 := mainAcct(t, s)
			setCredit(t, s, m2, 5_000_000)
			c2 := subAcct(t, s, m2, true)
			if err := s.UpdateAccount(ctx, c2, balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: newID("TR")}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.CreditTransfer(ctx, m2, c2, 1, newID("TR"), "", balance.Idempotency{}); !errors.Is(err, balance.ErrAccountClosed) {
				t.Fatalf("to a closed child: %v", err)
			}
			if got := limits(t, s, m, shared, m2); !sameAmounts(got, []model.Amount{0, 5_000_000, 0, 0, 0, 5_000_000}) {
				t.Fatalf("refusals changed credit: %v", got)
			}
		})
		t.Run("idempotency and resends", func(t *testing.T) {
			m := mainAcct(t, s)
			c := subAcct(t, s, m, true)
			setCredit(t, s, m, 10_000_000)
			idem := balance.Idempotency{Scope: m.ID + ":credit_transfer", Key: "k{1}", Body: []byte(`{"amount":"1"}`)}
			var wg sync.WaitGroup
			var moved atomic.Int32
			ids := make([]string, 16)
			for i := range ids {
				wg.Go(func() {
					tr, replay, err := s.CreditTransfer(ctx, m, c, 1_000_000, newID("TR"), "", idem)
					if err != nil {
						t.Error(err)
						return
					}
					ids[i] = tr.ID
					if !replay {
						moved.Add(1)
					}
				})
			}
			wg.Wait()
			for _, id := range ids {
				if id != ids[0] {
					t.Fatalf("different answers: %v", ids)
				}
			}
			if moved.Load() != 1 || get(t, s, c.ID).CreditLimit != 1_000_000 {
				t.Fatalf("%d credit transfers moved, child has %v", moved.Load(), get(t, s, c.ID).CreditLimit)
			}
			idem.Body = []byte(`{"amount":"2"}`)
			if _, _, err := s.CreditTransfer(ctx, m, c, 2_000_000, newID("TR"), "", idem); !errors.Is(err, balance.ErrIdempotencyReused) {
				t.Fatalf("reuse: %v", err)
			}
			// The script sent twice with one transfer id (a resend after a lost answer) moves once.
			for range 2 {
				if _, _, err := s.CreditTransfer(ctx, m, c, 1_000_000, "TR_RESENT_CREDIT_TRANSFER", "", balance.Idempotency{}); err != nil {
					t.Fatal(err)
				}
			}
			if got := limits(t, s, m, c); !sameAmounts(got, []model.Amount{0, 8_000_000, 0, 2_000_000}) {
				t.Fatalf("after replays and resends: %v", got)
			}
		})
		t.Run("concurrent movements keep the credit of the tree", func(t *testing.T) {
			m := mainAcct(t, s)
			setCredit(t, s, m, 20_000_000)
			if _, _, err := s.Credit(ctx, m, 10_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			kids := []*model.Account{subAcct(t, s, m, true), subAcct(t, s, m, true)}
			var wg sync.WaitGroup
			var ok atomic.Int32
			for w := range 8 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 13))
					for range 60 {
						c := kids[rng.IntN(2)]
						amt := model.Amount(rng.IntN(4_000_000) + 1)
						if rng.IntN(2) == 0 {
							amt = -amt
						}
						var err error
						switch rng.IntN(3) {
						case 0:
							_, _, err = s.CreditTransfer(ctx, m, c, amt, newID("TR"), "", balance.Idempotency{})
						case 1:
							_, _, err = s.Transfer(ctx, m, c, amt, newID("TR"), "", balance.Idempotency{})
						default: // spend (or be paid) on the child's own balance, within its floor
							_, _, err = s.Credit(ctx, c, -amt, newID("TR"), "")
						}
						if err == nil {
							ok.Add(1)
						} else if !errors.Is(err, balance.ErrInsufficientBalance) {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			var credit model.Amount
			for _, a := range append([]*model.Account{m}, kids...) {
				r := get(t, s, a.ID)
				credit += r.CreditLimit
				if r.CreditLimit < 0 || r.Balance < -r.CreditLimit {
					t.Errorf("%s: balance %v, credit_limit %v", a.ID, r.Balance, r.CreditLimit)
				}
			}
			if credit != 20_000_000 {
				t.Fatalf("the tree's credit is %v, the operator gave 20.00", credit)
			}
			if ok.Load() < 50 {
				t.Fatalf("only %d movements went through: the test means little", ok.Load())
			}
		})
	})
}
