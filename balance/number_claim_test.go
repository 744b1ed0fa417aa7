package balance_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

// claimsAgree fails the test unless every number of the tree of root is recorded in the
// tree's claims under the claim of its index entry, and the claims list no other number.
func claimsAgree(t *testing.T, s *balance.Store, root string) {
	t.Helper()
	ctx := context.Background()
	rdb := s.Client()
	nums, err := rdb.HGetAll(ctx, balance.NumsKey(root)).Result()
	if err != nil {
		t.Fatal(err)
	}
	claims, err := rdb.HGetAll(ctx, balance.NumClaimsKey(root)).Result()
	if err != nil {
		t.Fatal(err)
	}
	for n := range nums {
		idx, err := rdb.Get(ctx, balance.NumIndexKey(n)).Result()
		if err != nil {
			t.Fatalf("%s: no index entry: %v", n, err)
		}
		r, claim, _ := strings.Cut(idx, "|")
		if r != root || claim == "" || claims[n] != claim {
			t.Fatalf("%s: the index says %q, the tree %s records the claim %q", n, idx, root, claims[n])
		}
	}
	for n := range claims {
		if _, ok := nums[n]; !ok {
			t.Fatalf("the tree %s records a claim for %s, which it does not have", root, n)
		}
	}
}

// failAt runs op with a context under which its step'th store call fails, unsent, as if the
// connection broke (s needs stopHook).
func failAt(step int, op func(ctx context.Context) error) error {
	p := &stop{at: step, fail: io.ErrUnexpectedEOF}
	return op(context.WithValue(context.Background(), stopKey{}, p))
}

// addTo is AddNumber as an operation for stopAt and failAt.
func addTo(s *balance.Store, main, n string) func(context.Context) error {
	return func(ctx context.Context) error { _, err := s.AddNumber(ctx, main, n); return err }
}

// TestNumberClaimOrphaned: an add that fails in the store between its claim of the index
// entry and its tree's script keeps the claim (it cannot know whether the script ran). The
// number then reads as taken and has no owner; a remove leaves the entry while the claim is
// recent (the add might still be on its way) and clears it once the claim is older than the
// orphan bound, after which another tree can take the number.
func TestNumberClaimOrphaned(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		const run, orphan = 300 * time.Millisecond, 600 * time.Millisecond
		s.SetNumberClaimBounds(run, orphan)
		s.Client().AddHook(stopHook{})
		ctx := context.Background()
		a := testkit.NewAccount(t, s, nil, "")
		b := testkit.NewAccount(t, s, nil, "")
		n := newNumber()
		claimed := time.Now()
		if err := failAt(2, addTo(s, a.ID, n)); !errors.Is(err, balance.ErrUnavailable) {
			t.Fatalf("the add whose script failed: %v", err)
		}
		if root, err := s.NumberRoot(ctx, n); err != nil || root != a.ID {
			t.Fatalf("the failed add's claim: %q %v", root, err)
		}
		if got, err := s.LookupNumber(ctx, n); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("look-up: %+v %v", got, err)
		}
		if _, err := s.AddNumber(ctx, b.ID, n); !errors.Is(err, balance.ErrNumberTaken) {
			t.Fatalf("another tree took a claimed number: %v", err)
		}
		err := s.RemoveNumber(ctx, n)
		if time.Since(claimed) < orphan { // else the machine was too slow to see the entry stay
			if !errors.Is(err, balance.ErrNoSuchNumber) {
				t.Fatalf("remove of a recent claim: %v", err)
			}
			if root, err := s.NumberRoot(ctx, n); err != nil || root != a.ID {
				t.Fatalf("a remove cleared a recent claim: %q %v", root, err)
			}
			time.Sleep(orphan - time.Since(claimed) + 100*time.Millisecond)
			err = s.RemoveNumber(ctx, n)
		}
		if err != nil {
			t.Fatalf("remove of an orphaned claim: %v", err)
		}
		if _, err := s.NumberRoot(ctx, n); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("the orphaned claim stayed: %v", err)
		}
		if _, err := s.AddNumber(ctx, b.ID, n); err != nil {
			t.Fatalf("add after the orphan was cleared: %v", err)
		}
		numberLayout(t, s, b.ID, []string{b.ID})
		claimsAgree(t, s, a.ID)
		claimsAgree(t, s, b.ID)
	})
}

// TestNumberLateAddRefused: an add whose tree script comes after its claim was cleared as
// orphaned (older than the orphan bound) and the number went to another tree is refused
// (ErrUnavailable, it is older than the run bound) and leaves nothing behind: the number is
// in the other tree only, which the index names.
func TestNumberLateAddRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		const run, orphan = 200 * time.Millisecond, 400 * time.Millisecond
		s.SetNumberClaimBounds(run, orphan)
		s.Client().AddHook(stopHook{})
		ctx := context.Background()
		a := testkit.NewAccount(t, s, nil, "")
		b := testkit.NewAccount(t, s, nil, "")
		n := newNumber()
		resume := stopAt(2, addTo(s, a.ID, n)) // claimed, its script to come
		time.Sleep(orphan + 100*time.Millisecond)
		if err := s.RemoveNumber(ctx, n); err != nil {
			t.Fatalf("remove of the held add's orphaned claim: %v", err)
		}
		if _, err := s.AddNumber(ctx, b.ID, n); err != nil {
			t.Fatalf("add to b: %v", err)
		}
		if err := resume(); !errors.Is(err, balance.ErrUnavailable) {
			t.Fatalf("the late add: %v, want ErrUnavailable", err)
		}
		if own := numberLayout(t, s, a.ID, []string{a.ID}); own[n] != "" {
			t.Fatalf("the late add put %s in a too", n)
		}
		if own := numberLayout(t, s, b.ID, []string{b.ID}); own[n] != b.ID {
			t.Fatalf("b lost %s: %v", n, own)
		}
		claimsAgree(t, s, a.ID)
		claimsAgree(t, s, b.ID)
	})
}

// TestNumberEntriesBeforeClaims: index entries written before claims existed (the tree's id
// alone) and tree entries without a recorded claim keep working: the look-up finds the number,
// a remove takes it and its index entry, an index entry whose tree does not have the number is
// cleared at once, and a number in a tree with no index entry (left by the race claims
// fixed) is adopted by the claim of an add that finds it there, so that it can be removed.
func TestNumberEntriesBeforeClaims(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		rdb := s.Client()
		a := testkit.NewAccount(t, s, nil, "")
		b := testkit.NewAccount(t, s, nil, "")
		old := func(n string) { // n in a, as written before claims
			t.Helper()
			if _, err := s.AddNumber(ctx, a.ID, n); err != nil {
				t.Fatal(err)
			}
			if err := rdb.Set(ctx, balance.NumIndexKey(n), a.ID, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := rdb.HDel(ctx, balance.NumClaimsKey(a.ID), n).Err(); err != nil {
				t.Fatal(err)
			}
		}

		n1 := newNumber()
		old(n1)
		if got, err := s.LookupNumber(ctx, n1); err != nil || got.Root != a.ID || got.AuthID != a.ID {
			t.Fatalf("look-up: %+v %v", got, err)
		}
		numberLayout(t, s, a.ID, []string{a.ID})
		if _, err := s.AddNumber(ctx, b.ID, n1); !errors.Is(err, balance.ErrNumberTaken) {
			t.Fatalf("another tree took it: %v", err)
		}
		if err := s.RemoveNumber(ctx, n1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.NumberRoot(ctx, n1); !errors.Is(err, balance.ErrNoSuchNumber) {
			t.Fatalf("the index entry stayed: %v", err)
		}

		// an index entry of its own, the tree's entry without a claim
		n2 := newNumber()
		if _, err := s.AddNumber(ctx, a.ID, n2); err != nil {
			t.Fatal(err)
		}
		if err := rdb.HDel(ctx, balance.NumClaimsKey(a.ID), n2).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveNumber(ctx, n2); err != nil {
			t.Fatal(err)
		}

		// an old index entry whose tree does not have the number
		n3 := newNumber()
		if err := rdb.Set(ctx, balance.NumIndexKey(n3), a.ID, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveNumber(ctx, n3); err != nil {
			t.Fatalf("remove of an old orphaned entry: %v", err)
		}
		if _, err := s.AddNumber(ctx, b.ID, n3); err != nil {
			t.Fatal(err)
		}

		// a number in a with no index entry: an add to a finds it, adopts it, is refused
		n4 := newNumber()
		old(n4)
		if err := rdb.Del(ctx, balance.NumIndexKey(n4)).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddNumber(ctx, a.ID, n4); !errors.Is(err, balance.ErrNumberTaken) {
			t.Fatalf("add of a number the tree has: %v", err)
		}
		numberLayout(t, s, a.ID, []string{a.ID})
		claimsAgree(t, s, a.ID)
		if err := s.RemoveNumber(ctx, n4); err != nil {
			t.Fatal(err)
		}
		if own := numberLayout(t, s, a.ID, []string{a.ID}); own[n4] != "" || own[n1] != "" || own[n2] != "" {
			t.Fatalf("left in a: %v", own)
		}
		claimsAgree(t, s, a.ID)
		claimsAgree(t, s, b.ID)
	})
}
