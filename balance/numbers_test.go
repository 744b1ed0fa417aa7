package balance_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

var numSeq atomic.Int64

// newNumber answers a number no other test of the process uses.
func newNumber() string { return fmt.Sprintf("+1555%07d", numSeq.Add(1)) }

// ownersOf checks the number layout of the tree of root over the accounts ids (the owners'
// lists agree with the tree's map: every listed number names the list's account as its
// owner, and is listed once) and answers number → owner.
func ownersOf(t *testing.T, s *balance.Store, root string, ids []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, id := range ids {
		ns, err := s.NumbersOf(ctx, root, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if n.AuthID != id {
				t.Fatalf("%s is listed under %s but owned by %s", n.Number, id, n.AuthID)
			}
			if prev, dup := out[n.Number]; dup {
				t.Fatalf("%s is listed under %s and %s", n.Number, prev, id)
			}
			out[n.Number] = id
		}
	}
	return out
}

func TestNumbersInventoryAndMoves(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "")
		r := testkit.NewAccount(t, s, m, "")
		c := testkit.NewAccount(t, s, r, "")
		sib := testkit.NewAccount(t, s, m, "")
		other := testkit.NewAccount(t, s, nil, "")
		n1, n2 := newNumber(), newNumber()

		got, err := s.AddNumber(ctx, m.ID, n1)
		if err != nil || got.AuthID != m.ID || got.Root != m.ID || got.Created.IsZero() {
			t.Fatalf("add: %+v %v", got, err)
		}
		if _, err := s.AddNumber(ctx, m.ID, n1); !errors.Is(err, balance.ErrNumberTaken) {
			t.Fatalf("add again: %v", err)
		}
		if _, err := s.AddNumber(ctx, other.ID, n1); !errors.Is(err, balance.ErrNumberTaken) {
			t.Fatalf("add to another tree: %v", err)
		}
		if _, err := s.AddNumber(ctx, r.ID, n2); !errors.Is(err, balance.ErrNotFound) {
			t.Fatalf("add to a subaccount: %v", err)
		}
		if _, err := s.NumberRoot(ctx, n2); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("a refused add left its claim: %v", err)
		}
		if _, err := s.AddNumber(ctx, m.ID, n2); err != nil {
			t.Fatal(err)
		}

		// moves: within the scope only
		if got, err = s.MoveNumber(ctx, m.Root, m.ID, n1, c.ID); err != nil || got.AuthID != c.ID {
			t.Fatalf("move to c: %+v %v", got, err)
		}
		if _, err := s.MoveNumber(ctx, m.Root, sib.ID, n1, sib.ID); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("a sibling moved c's number: %v", err)
		}
		if _, err := s.MoveNumber(ctx, m.Root, r.ID, n1, sib.ID); !errors.Is(err, balance.ErrNotFound) {
			t.Fatalf("r gave a number out of its subtree: %v", err)
		}
		if _, err := s.MoveNumber(ctx, m.Root, r.ID, n2, r.ID); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("r took its parent's number: %v", err)
		}
		if _, err := s.MoveNumber(ctx, other.Root, other.ID, n1, other.ID); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("another tree moved it: %v", err)
		}
		// give back: to the owner's parent, also from the owner itself
		if got, err = s.MoveNumber(ctx, m.Root, c.ID, n1, ""); err != nil || got.AuthID != r.ID {
			t.Fatalf("give back from c: %+v %v", got, err)
		}
		if got, err = s.MoveNumber(ctx, m.Root, m.ID, n1, ""); err != nil || got.AuthID != m.ID {
			t.Fatalf("give back from r: %+v %v", got, err)
		}
		if _, err := s.MoveNumber(ctx, m.Root, m.ID, n1, ""); !errors.Is(err, balance.ErrMainAccountNumber) {
			t.Fatalf("give back a main account's number: %v", err)
		}
		if got, err := s.LookupNumber(ctx, n1); err != nil || got.AuthID != m.ID || !got.Updated.After(got.Created) && !got.Updated.Equal(got.Created) {
			t.Fatalf("lookup: %+v %v", got, err)
		}
		if own := ownersOf(t, s, m.Root, []string{m.ID, r.ID, c.ID, sib.ID}); len(own) != 2 || own[n1] != m.ID || own[n2] != m.ID {
			t.Fatalf("owners %v", own)
		}

		// a closed account takes no number
		if _, err := s.MoveNumber(ctx, m.Root, m.ID, n2, sib.ID); err != nil {
			t.Fatal(err)
		}
		closeAccount(t, s, sib.Account)
		if own := ownersOf(t, s, m.Root, []string{m.ID, sib.ID}); own[n2] != m.ID {
			t.Fatalf("closing sib left its number with it: %v", own)
		}
		if _, err := s.MoveNumber(ctx, m.Root, m.ID, n2, sib.ID); !errors.Is(err, balance.ErrAccountClosed) {
			t.Fatalf("move to a closed account: %v", err)
		}

		// remove
		if err := s.RemoveNumber(ctx, n1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupNumber(ctx, n1); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("lookup after remove: %v", err)
		}
		if err := s.RemoveNumber(ctx, n1); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("remove again: %v", err)
		}
		if _, err := s.AddNumber(ctx, other.ID, n1); err != nil {
			t.Fatalf("a removed number is free again: %v", err)
		}
		if own := ownersOf(t, s, m.Root, []string{m.ID, r.ID, c.ID, sib.ID}); len(own) != 1 {
			t.Fatalf("owners after remove %v", own)
		}
	})
}

func closeAccount(t *testing.T, s *balance.Store, a *model.Account) {
	t.Helper()
	if err := s.UpdateAccount(context.Background(), a, balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: newID("TR")}); err != nil {
		t.Fatal(err)
	}
}

// TestNumbersStayInTheTree: closing, deleting and cascade-deleting accounts gives their
// numbers to the parent ({auth_id} for a cascade) in the same step; the count in the tree
// never changes.
func TestNumbersStayInTheTree(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "")
		r := testkit.NewAccount(t, s, m, "", testkit.Own())
		c1 := testkit.NewAccount(t, s, r, "")
		c2 := testkit.NewAccount(t, s, r, "")
		x := testkit.NewAccount(t, s, m, "")
		y := testkit.NewAccount(t, s, m, "")
		all := []string{m.ID, r.ID, c1.ID, c2.ID, x.ID, y.ID}
		give := map[string]*testkit.Account{}
		for _, a := range []*testkit.Account{m, r, c1, c1, c2, c2, c2, x, y, y} {
			n := newNumber()
			if _, err := s.AddNumber(ctx, m.ID, n); err != nil {
				t.Fatal(err)
			}
			if _, err := s.MoveNumber(ctx, m.Root, m.ID, n, a.ID); err != nil {
				t.Fatal(err)
			}
			give[n] = a
		}
		count := func(want map[string]string) {
			t.Helper()
			own := ownersOf(t, s, m.Root, all)
			if len(own) != len(give) {
				t.Fatalf("%d numbers in the tree, want %d: %v", len(own), len(give), own)
			}
			for n, id := range want {
				if own[n] != id {
					t.Fatalf("%s owned by %s, want %s", n, own[n], id)
				}
			}
		}
		count(nil)
		want := map[string]string{}
		closeAccount(t, s, c2.Account) // c2's three go to r
		for n, a := range give {
			if a == c2 {
				want[n] = r.ID
			}
		}
		count(want)
		if _, err := s.DeleteAccount(ctx, m.Account, x.Account, false, "TRX"); err != nil { // x's one to m
			t.Fatal(err)
		}
		if _, err := s.DeleteAccount(ctx, m.Account, r.Account, true, "TRR"); err != nil { // r, c1, c2's to m
			t.Fatal(err)
		}
		for n, a := range give {
			want[n] = m.ID
			if a == y {
				want[n] = y.ID
			}
		}
		count(want)
	})
}

// TestNumberMovesRace: moves of one number racing each other leave exactly one owner, and
// a close racing moves into the account that closes loses no number.
func TestNumberMovesRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "")
		a := testkit.NewAccount(t, s, m, "")
		b := testkit.NewAccount(t, s, m, "")
		n := newNumber()
		if _, err := s.AddNumber(ctx, m.ID, n); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, to := range []string{a.ID, b.ID, m.ID, a.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 25 {
					if _, err := s.MoveNumber(ctx, m.Root, m.ID, n, to); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if own := ownersOf(t, s, m.Root, []string{m.ID, a.ID, b.ID}); len(own) != 1 {
			t.Fatalf("owners after racing moves: %v", own)
		}

		// close racing moves into the closing account
		for round := range 8 {
			x := testkit.NewAccount(t, s, m, "")
			nums := []string{newNumber(), newNumber(), newNumber()}
			for _, k := range nums {
				if _, err := s.AddNumber(ctx, m.ID, k); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for _, k := range nums {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.MoveNumber(ctx, m.Root, m.ID, k, x.ID); err != nil && !errors.Is(err, balance.ErrAccountClosed) {
						t.Error(err)
					}
				}()
			}
			closeAccount(t, s, x.Account)
			wg.Wait()
			own := ownersOf(t, s, m.Root, []string{m.ID, a.ID, b.ID, x.ID})
			for _, k := range nums {
				if own[k] != m.ID {
					t.Fatalf("round %d: %s owned by %q after the close", round, k, own[k])
				}
			}
		}
	})
}
