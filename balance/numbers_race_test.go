package balance_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// stop holds the store calls of one operation (those made with its context) before the
// step'th of them (1 = the first) until it is let go: it stops the operation between two
// of its round trips. An EVALSHA answered NOSCRIPT and the EVAL that follows it are one step.
// With fail set, the step'th call is not sent but fails with it.
type stop struct {
	at      int
	fail    error
	steps   int // calls made so far; only the operation's goroutine touches it
	held    bool
	reached chan struct{} // closed when the operation is held
	release chan struct{}
}

type stopKey struct{}

// stopHook is the go-redis hook that holds the calls of operations started by stopAt.
type stopHook struct{}

func (stopHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (stopHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (stopHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		p, _ := ctx.Value(stopKey{}).(*stop)
		if p == nil {
			return next(ctx, cmd)
		}
		if p.steps+1 == p.at && p.fail != nil {
			return p.fail
		}
		if p.steps+1 == p.at && !p.held {
			p.held = true
			close(p.reached)
			<-p.release
		}
		err := next(ctx, cmd)
		if err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
			p.steps++
		}
		return err
	}
}

// stopAt starts op with a context that holds its step'th store call (s needs stopHook) and
// returns once op is held there, or has ended without getting so far. The answer lets op go
// on and waits for its error.
func stopAt(step int, op func(ctx context.Context) error) (resume func() error) {
	p := &stop{at: step, reached: make(chan struct{}), release: make(chan struct{})}
	ctx := context.WithValue(context.Background(), stopKey{}, p)
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	select {
	case <-p.reached:
	case err := <-done:
		done <- err
	}
	return func() error {
		close(p.release)
		return <-done
	}
}

// TestNumberRemoveRacesAdd: round after round, two removes of a number of tree a race an
// add of it to another tree b, or to a again, some rounds freely and some in a fixed order
// (one remove held between its read of the index and its tree's script, or between the
// script and its index write, while the other remove and the add run — the add held in turn
// between its claim of the index and its tree's script). Whatever the order, afterwards:
// at most one tree has the number; the tree that has it is the one the index names, and a
// look-up finds it there, and an add to a third tree c is refused; when no tree has it, a
// look-up finds nothing and an add to c takes it. A remove answers nil or ErrNoSuchNumber,
// the add nil or ErrNumberTaken, and a number the add took is gone only if a remove said it
// removed one.
//
// A remove that read the index before the other remove and the add ran used to delete the
// index entry the add had written since (or claimed, its tree's script still to come): the
// number was then in a tree with no index entry, and c could take it too.
func TestNumberRemoveRacesAdd(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		s.Client().AddHook(stopHook{})
		ctx := context.Background()
		a := testkit.NewAccount(t, s, nil, "")
		b := testkit.NewAccount(t, s, nil, "")
		c := testkit.NewAccount(t, s, nil, "")
		remove := func(n string) func(context.Context) error {
			return func(ctx context.Context) error { return s.RemoveNumber(ctx, n) }
		}
		add := func(to, n string) func(context.Context) error {
			return func(ctx context.Context) error { _, err := s.AddNumber(ctx, to, n); return err }
		}
		// the ways the three run: the errors of the first remove, the second and the add
		orders := []struct {
			name string
			run  func(n, to string) (r1, r2, ad error)
		}{
			{"free", func(n, to string) (r1, r2, ad error) {
				race(func() { r1 = remove(n)(ctx) }, func() { r2 = remove(n)(ctx) }, func() { ad = add(to, n)(ctx) })
				return
			}},
			{"remove held before its tree's script", func(n, to string) (r1, r2, ad error) {
				resume := stopAt(2, remove(n))
				r2, ad = remove(n)(ctx), add(to, n)(ctx)
				return resume(), r2, ad
			}},
			{"remove held before its index write", func(n, to string) (r1, r2, ad error) {
				resume := stopAt(3, remove(n))
				r2, ad = remove(n)(ctx), add(to, n)(ctx)
				return resume(), r2, ad
			}},
			{"add held between its claim and its tree's script, the remove goes on first", func(n, to string) (r1, r2, ad error) {
				resumeR := stopAt(2, remove(n))
				r2 = remove(n)(ctx)
				resumeA := stopAt(2, add(to, n))
				r1 = resumeR()
				return r1, r2, resumeA()
			}},
			{"add held between its claim and its tree's script, the add goes on first", func(n, to string) (r1, r2, ad error) {
				resumeR := stopAt(2, remove(n))
				r2 = remove(n)(ctx)
				resumeA := stopAt(2, add(to, n))
				ad = resumeA()
				return resumeR(), r2, ad
			}},
		}
		trees := []string{a.ID, b.ID, c.ID}
		for round := range 40 {
			o := orders[round%len(orders)]
			to := b.ID
			if round/len(orders)%2 == 1 {
				to = a.ID
			}
			where := fmt.Sprintf("round %d (%s, add to %s)", round, o.name, map[bool]string{true: "a", false: "b"}[to == a.ID])
			n := newNumber()
			if _, err := s.AddNumber(ctx, a.ID, n); err != nil {
				t.Fatal(err)
			}
			r1, r2, ad := o.run(n, to)
			if err := numberAfterRace(s, n, trees, r1, r2, ad); err != nil {
				t.Errorf("%s: %v", where, err)
				for _, root := range trees { // so that the next rounds find the trees sound
					s.Client().HDel(ctx, balance.NumsKey(root), n)
					s.Client().ZRem(ctx, balance.OwnedKey(root, root), n)
				}
				s.Client().Del(ctx, balance.NumIndexKey(n))
				continue
			}
			for _, root := range trees {
				numberLayout(t, s, root, []string{root})
			}
			if err := s.RemoveNumber(ctx, n); err != nil {
				t.Fatalf("%s: remove at the end: %v", where, err)
			}
			for _, root := range trees {
				if own := numberLayout(t, s, root, []string{root}); own[n] != "" {
					t.Fatalf("%s: %s is still in %s after the last remove", where, n, root)
				}
			}
			if _, err := s.NumberRoot(ctx, n); !errors.Is(err, balance.ErrNoSuchNumber) {
				t.Fatalf("%s: the index keeps %s after the last remove: %v", where, n, err)
			}
		}
	})
}

// numberAfterRace checks number n after two removes (errors r1, r2) raced an add of it
// (error ad) to one of trees but the last: at most one tree has it, the index names that
// tree and a look-up finds it there, and an add to the last tree is refused; when no tree
// has it, the look-up finds nothing and an add to the last tree takes it. The removes answer
// nil or ErrNoSuchNumber, the add nil or ErrNumberTaken, and a number the add took is gone
// only if a remove answered that it removed one.
func numberAfterRace(s *balance.Store, n string, trees []string, r1, r2, ad error) error {
	ctx := context.Background()
	rdb := s.Client()
	for _, err := range []error{r1, r2} {
		if err != nil && !errors.Is(err, balance.ErrNoSuchNumber) {
			return fmt.Errorf("remove: %w", err)
		}
	}
	if ad != nil && !errors.Is(ad, balance.ErrNumberTaken) {
		return fmt.Errorf("add: %w", ad)
	}
	var has []string
	for _, root := range trees {
		_, err := rdb.HGet(ctx, balance.NumsKey(root), n).Result()
		if err == nil {
			has = append(has, root)
		} else if !errors.Is(err, redis.Nil) {
			return err
		}
	}
	idx, err := rdb.Get(ctx, balance.NumIndexKey(n)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	last := trees[len(trees)-1]
	switch {
	case len(has) > 1:
		return fmt.Errorf("trees %v all have %s (the index says %q)", has, n, idx)
	case len(has) == 1:
		if indexRoot(idx) != has[0] {
			_, err := s.AddNumber(ctx, last, n)
			return fmt.Errorf("%s is in %s, the index says %q; an add to %s then answered %v", n, has[0], idx, last, err)
		}
		if got, err := s.LookupNumber(ctx, n); err != nil || got.Root != has[0] {
			return fmt.Errorf("%s is in %s, the look-up says %+v %v", n, has[0], got, err)
		}
		if _, err := s.AddNumber(ctx, last, n); !errors.Is(err, balance.ErrNumberTaken) {
			return fmt.Errorf("%s is in %s, an add to %s answered %v, want ErrNumberTaken", n, has[0], last, err)
		}
	default:
		if ad == nil && r1 != nil && r2 != nil {
			return fmt.Errorf("the add took %s, no remove removed it, and no tree has it", n)
		}
		if got, err := s.LookupNumber(ctx, n); !errors.Is(err, balance.ErrNoSuchNumber) {
			return fmt.Errorf("no tree has %s, the look-up says %+v %v", n, got, err)
		}
		if _, err := s.AddNumber(ctx, last, n); err != nil {
			return fmt.Errorf("no tree has %s (the index says %q), an add to %s: %w", n, idx, last, err)
		}
	}
	return nil
}
