package balance_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// numberLayout reads the whole number layout of the tree of root and fails the test unless
// its three parts agree: every number of the tree's hash is listed exactly once, in its
// owner's list, and nowhere else among the accounts ids; its owner exists and is not closed;
// the index names this tree for it. It answers number → owner.
func numberLayout(t *testing.T, s *balance.Store, root string, ids []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	rdb := s.Client()
	nums, err := rdb.HGetAll(ctx, balance.NumsKey(root)).Result()
	if err != nil {
		t.Fatal(err)
	}
	owners := make(map[string]string, len(nums))
	for n, v := range nums {
		owner, _, _ := strings.Cut(v, "|")
		if owner == "" || strings.Count(v, "|") != 2 {
			t.Fatalf("%s: malformed entry %q", n, v)
		}
		owners[n] = owner
		if _, err := rdb.ZScore(ctx, balance.OwnedKey(root, owner), n).Result(); err != nil {
			t.Fatalf("%s is %s's in the tree's hash but not in its list: %v", n, owner, err)
		}
		st, err := rdb.HGet(ctx, balance.AccountKey(root, owner), "status").Result()
		if err != nil || st == string(model.StatusClosed) {
			t.Fatalf("%s is owned by %s, which is gone or closed (%q, %v)", n, owner, st, err)
		}
		if idx, err := rdb.Get(ctx, balance.NumIndexKey(n)).Result(); err != nil || indexRoot(idx) != root {
			t.Fatalf("%s: the index says %q (%v), want %s", n, idx, err, root)
		}
	}
	listed := map[string]string{}
	for _, id := range ids {
		ns, err := rdb.ZRange(ctx, balance.OwnedKey(root, id), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if prev, dup := listed[n]; dup {
				t.Fatalf("%s is listed under %s and %s", n, prev, id)
			}
			listed[n] = id
			if owners[n] != id {
				t.Fatalf("%s is listed under %s but the tree's hash says %q", n, id, owners[n])
			}
		}
	}
	return owners
}

// indexRoot is the tree an index entry names: its value up to the first '|' (what comes
// after it is the entry's claim, keys.go).
func indexRoot(v string) string {
	root, _, _ := strings.Cut(v, "|")
	return root
}

// race runs fs at once (they start together) and waits for them.
func race(fs ...func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f()
		}()
	}
	close(start)
	wg.Wait()
}

// moveOK fails the test when a move that cannot be refused was refused.
func moveOK(t *testing.T, s *balance.Store, root, scope, n, dest string) {
	if _, err := s.MoveNumber(context.Background(), root, scope, n, dest); err != nil {
		t.Errorf("move %s by %s to %q: %v", n, scope, dest, err)
	}
}

// moveMaybe fails the test when a move fails for another reason than those allowed (it lost
// a race that took the number out of its scope or closed its destination).
func moveMaybe(t *testing.T, s *balance.Store, root, scope, n, dest string, allowed ...error) {
	_, err := s.MoveNumber(context.Background(), root, scope, n, dest)
	for _, a := range allowed {
		if errors.Is(err, a) {
			return
		}
	}
	if err != nil {
		t.Errorf("move %s by %s to %q: %v", n, scope, dest, err)
	}
}

// TestNumberConcurrentMovesOneOwner: round after round, moves of one number started at the
// same instant leave it with exactly one owner, listed once, in the tree's hash, its
// owner's list and the index alike. Two moves by the main account end with one of their
// destinations; a move by the main account to b racing a give-back by the owner c and a
// move by c's parent a to itself always ends with b (whatever runs first, the others find
// the number out of their reach afterwards, or hand it on before b takes it).
func TestNumberConcurrentMovesOneOwner(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "")
		a := testkit.NewAccount(t, s, m, "")
		b := testkit.NewAccount(t, s, m, "")
		c := testkit.NewAccount(t, s, a, "")
		ids := []string{m.ID, a.ID, b.ID, c.ID}
		n, other := newNumber(), newNumber()
		for _, k := range []string{n, other} {
			if _, err := s.AddNumber(ctx, m.ID, k); err != nil {
				t.Fatal(err)
			}
		}
		moveOK(t, s, m.Root, m.ID, other, a.ID) // a bystander, which must not move
		dests := []string{m.ID, a.ID, b.ID, c.ID}
		for round := range 40 {
			d1, d2 := dests[round%4], dests[(round+1+round/4)%4]
			race(func() { moveOK(t, s, m.Root, m.ID, n, d1) }, func() { moveOK(t, s, m.Root, m.ID, n, d2) })
			own := numberLayout(t, s, m.Root, ids)
			if len(own) != 2 || own[other] != a.ID || own[n] != d1 && own[n] != d2 {
				t.Fatalf("round %d: moves to %s and %s left %v", round, d1, d2, own)
			}

			moveOK(t, s, m.Root, m.ID, n, c.ID)
			race(func() { moveOK(t, s, m.Root, m.ID, n, b.ID) },
				func() { moveMaybe(t, s, m.Root, c.ID, n, "", balance.ErrNoSuchNumber) },
				func() { moveMaybe(t, s, m.Root, a.ID, n, a.ID, balance.ErrNoSuchNumber) })
			own = numberLayout(t, s, m.Root, ids)
			if len(own) != 2 || own[other] != a.ID || own[n] != b.ID {
				t.Fatalf("round %d: a move to b racing c's give-back and a's move left %v", round, own)
			}
			if t.Failed() {
				return
			}
		}
	})
}

// TestNumberCloseRacesMoves: round after round, an account closes while its numbers are
// moved out, given back and moved in, all at the same instant. No number is lost: the one
// moved out is at its destination, the others with the parent, the closed account owns
// nothing, and the tree's hash, the lists and the index agree.
func TestNumberCloseRacesMoves(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "")
		y := testkit.NewAccount(t, s, m, "")
		ids := []string{m.ID, y.ID}
		total := 0
		for round := range 20 {
			x := testkit.NewAccount(t, s, m, "")
			ids = append(ids, x.ID)
			out, back, in, stay := newNumber(), newNumber(), newNumber(), newNumber()
			for _, k := range []string{out, back, in, stay} {
				if _, err := s.AddNumber(ctx, m.ID, k); err != nil {
					t.Fatal(err)
				}
			}
			total += 4
			for _, k := range []string{out, back, stay} {
				moveOK(t, s, m.Root, m.ID, k, x.ID)
			}
			race(func() {
				ch := balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: newID("TR")}
				if err := s.UpdateAccount(ctx, x.Account, ch); err != nil {
					t.Errorf("close: %v", err)
				}
			},
				func() { moveOK(t, s, m.Root, m.ID, out, y.ID) },
				func() { moveMaybe(t, s, m.Root, x.ID, back, "", balance.ErrNoSuchNumber) },
				func() { moveMaybe(t, s, m.Root, m.ID, in, x.ID, balance.ErrAccountClosed) })
			own := numberLayout(t, s, m.Root, ids)
			want := map[string]string{out: y.ID, back: m.ID, in: m.ID, stay: m.ID}
			for k, id := range want {
				if own[k] != id {
					t.Fatalf("round %d: %s is %q's after the close, want %s's (all: %v)", round, k, own[k], id, own)
				}
			}
			if len(own) != total {
				t.Fatalf("round %d: %d numbers in the tree, want %d", round, len(own), total)
			}
			if t.Failed() {
				return
			}
		}
	})
}

// TestNumberDeleteRacesMoves: deleting an account, and cascade-deleting a subtree, while
// numbers are moved in and out of it at the same instant: every number is at the
// destination of a move that was let through or with the account the delete gave it to,
// and the count in the tree never changes.
func TestNumberDeleteRacesMoves(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "")
		y := testkit.NewAccount(t, s, m, "")
		ids := []string{m.ID, y.ID}
		total := 0
		add := func(owner string) string {
			k := newNumber()
			if _, err := s.AddNumber(ctx, m.ID, k); err != nil {
				t.Fatal(err)
			}
			moveOK(t, s, m.Root, m.ID, k, owner)
			total++
			return k
		}
		for round := range 12 {
			r := testkit.NewAccount(t, s, m, "")
			c := testkit.NewAccount(t, s, r, "")
			ids = append(ids, r.ID, c.ID)
			out, stay, in, deep := add(c.ID), add(c.ID), add(m.ID), add(c.ID)
			cascade := round%2 == 1
			target := c // a plain delete takes the leaf; a cascade the subtree of r
			if cascade {
				target = r
			}
			parent := r
			if cascade {
				parent = m
			}
			race(func() {
				if _, err := s.DeleteAccount(ctx, parent.Account, target.Account, cascade, newID("TR")); err != nil {
					t.Error(err)
				}
			},
				func() { moveOK(t, s, m.Root, m.ID, out, y.ID) },
				func() { moveMaybe(t, s, m.Root, m.ID, in, c.ID, balance.ErrNotFound) },
				func() { moveMaybe(t, s, m.Root, r.ID, deep, r.ID, balance.ErrNoSuchNumber) })
			own := numberLayout(t, s, m.Root, ids)
			if len(own) != total {
				t.Fatalf("round %d: %d numbers in the tree, want %d: %v", round, len(own), total, own)
			}
			// out went to y; the rest are with the account the delete gave c's to (r, or m
			// for a cascade), or, for in and deep, where a move that ran first left them
			heir := r.ID
			if cascade {
				heir = m.ID
			}
			if own[out] != y.ID || own[stay] != heir || own[in] != m.ID && own[in] != heir || own[deep] != heir {
				t.Fatalf("round %d (cascade %v): out %s, stay %s, in %s, deep %s; heir %s", round, cascade,
					own[out], own[stay], own[in], own[deep], heir)
			}
			if t.Failed() {
				return
			}
		}
	})
}
