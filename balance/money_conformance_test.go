package balance_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
)

func TestMoneyConformance(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		t.Run("transfer both ways", func(t *testing.T) {
			m := mainAcct(t, s)
			c := subAcct(t, s, m, true)
			if _, _, err := s.Credit(ctx, m, 10_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			tr, replay, err := s.Transfer(ctx, m, c, 4_000_000, newID("TR"), "ref", balance.Idempotency{})
			if err != nil || replay || tr.From != m.ID || tr.To != c.ID || tr.Amount != 4_000_000 || tr.FromAfter != 6_000_000 || tr.ToAfter != 4_000_000 || tr.Kind != "transfer" || tr.Reference != "ref" {
				t.Fatalf("transfer: %+v %v %v", tr, replay, err)
			}
			tr, _, err = s.Transfer(ctx, m, c, -1_500_000, newID("TR"), "", balance.Idempotency{})
			if err != nil || tr.From != c.ID || tr.To != m.ID || tr.Amount != 1_500_000 {
				t.Fatalf("pull: %+v %v", tr, err)
			}
			var ie *balance.InsufficientError
			if _, _, err := s.Transfer(ctx, m, c, -2_500_001, newID("TR"), "", balance.Idempotency{}); !errors.As(err, &ie) || ie.AuthID != c.ID || ie.Available != 2_500_000 {
				t.Fatalf("pull too much: %v", err)
			}
			if _, _, err := s.Transfer(ctx, m, c, 7_500_001, newID("TR"), "", balance.Idempotency{}); !errors.As(err, &ie) || ie.AuthID != m.ID {
				t.Fatalf("push too much: %v", err)
			}
			if a, b := get(t, s, m.ID).Balance, get(t, s, c.ID).Balance; a != 7_500_000 || b != 2_500_000 {
				t.Fatalf("balances %d %d", a, b)
			}
			shared := subAcct(t, s, m, false)
			var se *balance.SharedError
			if _, _, err := s.Transfer(ctx, m, shared, 1, newID("TR"), "", balance.Idempotency{}); !errors.As(err, &se) || se.AuthID != shared.ID {
				t.Fatalf("to shared: %v", err)
			}
			// not a direct child
			g := subAcct(t, s, c, true)
			if _, _, err := s.Transfer(ctx, m, g, 1, newID("TR"), "", balance.Idempotency{}); !errors.Is(err, balance.ErrNotFound) {
				t.Fatalf("to grandchild: %v", err)
			}
		})
		t.Run("idempotency", func(t *testing.T) {
			m := mainAcct(t, s)
			c := subAcct(t, s, m, true)
			if _, _, err := s.Credit(ctx, m, 10_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			idem := balance.Idempotency{Scope: m.ID + ":transfer", Key: "k1", Body: []byte(`{"to":"x","amount":"1"}`)}
			var wg sync.WaitGroup
			ids := make([]string, 16)
			replays := make([]bool, 16)
			for i := range ids {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					tr, replay, err := s.Transfer(ctx, m, c, 1_000_000, newID("TR"), "", idem)
					if err != nil {
						t.Error(err)
						return
					}
					ids[i], replays[i] = tr.ID, replay
				}(i)
			}
			wg.Wait()
			first := 0
			for i := range ids {
				if ids[i] != ids[0] {
					t.Fatalf("different answers: %v", ids)
				}
				if !replays[i] {
					first++
				}
			}
			if first != 1 {
				t.Fatalf("%d requests moved money", first)
			}
			if b := get(t, s, c.ID).Balance; b != 1_000_000 {
				t.Fatalf("child got %d", b)
			}
			idem.Body = []byte(`{"to":"x","amount":"2"}`)
			if _, _, err := s.Transfer(ctx, m, c, 2_000_000, newID("TR"), "", idem); !errors.Is(err, balance.ErrIdempotencyReused) {
				t.Fatalf("reuse: %v", err)
			}
			ci := balance.Idempotency{Scope: "op:" + m.ID, Key: "c1", Body: []byte("5")}
			tr1, r1, err1 := s.CreditIdem(ctx, m, 5_000_000, newID("TR"), "", ci)
			tr2, r2, err2 := s.CreditIdem(ctx, m, 5_000_000, newID("TR"), "", ci)
			if err1 != nil || err2 != nil || r1 || !r2 || tr1.ID != tr2.ID {
				t.Fatalf("credit replay: %v %v %v %v", err1, err2, r1, r2)
			}
			if b := get(t, s, m.ID).Balance; b != 14_000_000 {
				t.Fatalf("main balance %d", b)
			}
		})
		t.Run("ledger", func(t *testing.T) {
			m := mainAcct(t, s)
			c1 := subAcct(t, s, m, true)
			c2 := subAcct(t, s, m, true)
			if _, _, err := s.Credit(ctx, m, 10_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 5; i++ {
				for _, c := range []*model.Account{c1, c2} {
					if _, _, err := s.Transfer(ctx, m, c, 100_000, newID("TR"), "", balance.Idempotency{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			all, err := s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID})
			if err != nil || len(all) != 11 || all[10].Kind != "credit" {
				t.Fatalf("ledger: %d %v", len(all), err)
			}
			for i := 1; i < len(all); i++ {
				if all[i].Created.After(all[i-1].Created) {
					t.Fatal("not newest first")
				}
			}
			only, _ := s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID, Other: c1.ID})
			if len(only) != 5 {
				t.Fatalf("filtered: %d", len(only))
			}
			window, _ := s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID, Start: all[9].Created, End: all[0].Created})
			if len(window) != 9 || window[8].ID != all[9].ID || window[0].ID != all[1].ID {
				t.Fatalf("window [first transfer, newest): %d records", len(window))
			}
		})
	})
}

// TestResentMoneyScriptMovesOnce: a credit or transfer script sent twice with the same
// transfer id (a resend after a lost answer) moves money once.
func TestResentMoneyScriptMovesOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := mainAcct(t, s)
		c := subAcct(t, s, m, true)
		tr1, r1, err1 := s.CreditIdem(ctx, m, 5_000_000, "TR_RESENT_CREDIT", "", balance.Idempotency{})
		tr2, r2, err2 := s.CreditIdem(ctx, m, 5_000_000, "TR_RESENT_CREDIT", "", balance.Idempotency{})
		if err1 != nil || err2 != nil || r1 || !r2 || tr1.ID != tr2.ID {
			t.Fatalf("resent credit: %v %v %v %v", err1, err2, r1, r2)
		}
		for i := 0; i < 2; i++ {
			if _, _, err := s.Transfer(ctx, m, c, 1_000_000, "TR_RESENT_TRANSFER", "", balance.Idempotency{}); err != nil {
				t.Fatal(err)
			}
		}
		if a, b := get(t, s, m.ID).Balance, get(t, s, c.ID).Balance; a != 4_000_000 || b != 1_000_000 {
			t.Fatalf("balances after resends: %d %d", a, b)
		}
	})
}
