package balance_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// openClusterStore starts a real three-master Redis Cluster (redistest.StartCluster) and
// opens a store on it. forEachStore can run its cases on it too:
//
//	t.Run("cluster", func(t *testing.T) { f(t, openClusterStore(t)) })
func openClusterStore(t *testing.T) *balance.Store {
	t.Helper()
	nodes := redistest.StartCluster(t)
	s, err := balance.Open(context.Background(), balance.Options{Cluster: nodes, ReadTimeout: testReadTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestClusterConformance runs the store's operations on a real Redis Cluster: every script
// must find all of its keys in one slot (the root's hash tag), the id → root index and the
// set of main accounts live in other slots and are reached by single-key commands, and the
// pipelines (reads of several accounts, ledger, usage) are split by go-redis per node.
// The trees below are spread over the three masters by their roots' slots.
func TestClusterConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	s := openClusterStore(t)
	ctx := context.Background()
	cc, ok := s.Client().(*redis.ClusterClient)
	if !ok {
		t.Fatalf("store.cluster gave a %T, want *redis.ClusterClient", s.Client())
	}

	t.Run("trees spread over the masters", func(t *testing.T) {
		nodes := map[string]bool{}
		for range 24 {
			m := mainAcct(t, s)
			slot, err := cc.ClusterKeySlot(ctx, balance.AccountKey(m.Root, m.ID)).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{balance.KidsKey(m.Root, "x"), func() string { k, _ := s.MarkerKey(m.Root, "r-0001"); return k }(), balance.IdemKey(m.Root, "a:{b}"), balance.LedgerKey(m.Root, "y")} {
				if s2 := cc.ClusterKeySlot(ctx, k).Val(); s2 != slot {
					t.Fatalf("%s in slot %d, the tree's in %d", k, s2, slot)
				}
			}
			n, err := cc.MasterForKey(ctx, balance.AccountKey(m.Root, m.ID))
			if err != nil {
				t.Fatal(err)
			}
			nodes[n.Options().Addr] = true
		}
		if len(nodes) < 2 {
			t.Fatalf("24 trees all on %v: the test would not cross nodes", nodes)
		}
	})

	t.Run("create, read, children, mains", func(t *testing.T) {
		m := mainAcct(t, s)
		sa := subAcct(t, s, m, false)
		got := get(t, s, sa.ID)
		if got.Parent != m.ID || got.Root != m.ID || got.Depth != 1 {
			t.Fatalf("sub read back %+v", got)
		}
		if root, err := s.RootOf(ctx, sa.ID); err != nil || root != m.ID {
			t.Fatalf("index: %q %v", root, err)
		}
		if kids, err := s.Children(ctx, m.Root, m.ID); err != nil || len(kids) != 1 || kids[0] != sa.ID {
			t.Fatalf("children %v %v", kids, err)
		}
		mains, err := s.Mains(ctx)
		if err != nil || len(mains) < 2 {
			t.Fatalf("mains %d %v", len(mains), err)
		}
		// several trees (several slots, several nodes) in one pipelined read
		accts, err := s.MainAccounts(ctx, mains)
		if err != nil || len(accts) != len(mains) {
			t.Fatalf("main accounts: %d of %d, %v", len(accts), len(mains), err)
		}
		if err := s.CreateAccount(ctx, sa); !errors.Is(err, balance.ErrExists) {
			t.Fatalf("duplicate: %v", err)
		}
		// subaccount limit (MaxSub 2) and a suspended ancestor, decided in the tree's slot
		subAcct(t, s, m, false)
		if _, err := trySub(s, m, false); !errors.Is(err, balance.ErrSubaccountLimit) {
			t.Fatalf("third child: %v", err)
		}
		if _, err := s.Account(ctx, sa.ID+"X"); !errors.Is(err, balance.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})

	t.Run("update and suspended ancestor", func(t *testing.T) {
		m := mainAcct(t, s)
		a := subAcct(t, s, m, false)
		if err := s.UpdateAccount(ctx, get(t, s, m.ID), balance.Change{Status: model.StatusSuspended}); err != nil {
			t.Fatal(err)
		}
		var se *balance.SuspendedError
		if err := s.UpdateAccount(ctx, get(t, s, a.ID), balance.Change{Status: model.StatusSuspended}); !errors.As(err, &se) || se.AuthID != m.ID {
			t.Fatalf("status change under suspended root: %v", err)
		}
		if err := s.UpdateAccount(ctx, get(t, s, a.ID), balance.Change{Name: ptr("x")}); err != nil || get(t, s, a.ID).Name != "x" {
			t.Fatalf("rename: %v", err)
		}
	})

	t.Run("credit, floor, transfer both ways", func(t *testing.T) {
		m := mainAcct(t, s)
		c := subAcct(t, s, m, true)
		if after, _, err := s.Credit(ctx, m, 10_000_000, newID("TR"), "top-up"); err != nil || after != 10_000_000 {
			t.Fatalf("credit %v %v", after, err)
		}
		var ie *balance.InsufficientError
		if _, _, err := s.Credit(ctx, m, -10_000_001, newID("TR"), ""); !errors.As(err, &ie) || ie.Available != 10_000_000 {
			t.Fatalf("below floor: %v", err)
		}
		if _, _, err := s.Transfer(ctx, m, c, 4_000_000, newID("TR"), "", balance.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Transfer(ctx, m, c, -1_500_000, newID("TR"), "", balance.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Transfer(ctx, m, c, -2_500_001, newID("TR"), "", balance.Idempotency{}); !errors.As(err, &ie) || ie.AuthID != c.ID {
			t.Fatalf("pull too much: %v", err)
		}
		if a, b := get(t, s, m.ID).Balance, get(t, s, c.ID).Balance; a != 7_500_000 || b != 2_500_000 {
			t.Fatalf("balances %d %d", a, b)
		}
		all, err := s.Ledger(ctx, balance.LedgerQuery{Root: m.Root, ID: m.ID})
		if err != nil || len(all) != 3 || all[2].Kind != "credit" {
			t.Fatalf("ledger %d %v", len(all), err)
		}
	})

	t.Run("idempotency", func(t *testing.T) {
		m := mainAcct(t, s)
		c := subAcct(t, s, m, true)
		if _, _, err := s.Credit(ctx, m, 10_000_000, newID("TR"), ""); err != nil {
			t.Fatal(err)
		}
		idem := balance.Idempotency{Scope: m.ID + ":transfer", Key: "k{1}", Body: []byte(`{"amount":"1"}`)}
		var wg sync.WaitGroup
		var moved atomic.Int32
		for range 16 {
			wg.Go(func() {
				_, replay, err := s.Transfer(ctx, m, c, 1_000_000, newID("TR"), "", idem)
				if err != nil {
					t.Error(err)
				} else if !replay {
					moved.Add(1)
				}
			})
		}
		wg.Wait()
		if moved.Load() != 1 || get(t, s, c.ID).Balance != 1_000_000 {
			t.Fatalf("%d transfers moved money, child has %d", moved.Load(), get(t, s, c.ID).Balance)
		}
		idem.Body = []byte(`{"amount":"2"}`)
		if _, _, err := s.Transfer(ctx, m, c, 2_000_000, newID("TR"), "", idem); !errors.Is(err, balance.ErrIdempotencyReused) {
			t.Fatalf("reuse: %v", err)
		}
		ci := balance.Idempotency{Scope: "op:" + m.ID, Key: "c1", Body: []byte("5")}
		tr1, r1, err1 := s.CreditIdem(ctx, m, 5_000_000, newID("TR"), "", ci)
		tr2, r2, err2 := s.CreditIdem(ctx, m, 5_000_000, newID("TR"), "", ci)
		if err1 != nil || err2 != nil || r1 || !r2 || tr1.ID != tr2.ID || get(t, s, m.ID).Balance != 14_000_000 {
			t.Fatalf("credit replay: %v %v %v %v", err1, err2, r1, r2)
		}
	})

	t.Run("rotate", func(t *testing.T) {
		m := mainAcct(t, s)
		exp, err := s.RotateToken(ctx, m, "h2", time.Hour)
		if err != nil || exp.IsZero() {
			t.Fatal(exp, err)
		}
		if _, err := s.RotateToken(ctx, get(t, s, m.ID), "h3", 0); err != nil {
			t.Fatal(err)
		}
		if a := get(t, s, m.ID); a.Tok != "h3" || a.TokPrev != "" {
			t.Fatalf("after revoke %+v", a)
		}
	})

	t.Run("close and delete cascade", func(t *testing.T) {
		m := mainAcct(t, s)
		a := subAcct(t, s, m, true)
		b := subAcct(t, s, a, true)
		if _, _, err := s.Credit(ctx, a, 1_000_000, newID("TR"), ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Credit(ctx, b, 2_000_000, newID("TR"), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteAccount(ctx, m, a, false, newID("TR")); !errors.Is(err, balance.ErrHasSubaccounts) {
			t.Fatalf("delete without cascade: %v", err)
		}
		ids, err := s.DeleteAccount(ctx, m, a, true, newID("TR"))
		if err != nil || len(ids) != 2 {
			t.Fatalf("cascade: %v %v", ids, err)
		}
		for _, id := range []string{a.ID, b.ID} {
			// the index entries live in other slots (other nodes): gone too
			if _, err := s.RootOf(ctx, id); !errors.Is(err, balance.ErrNotFound) {
				t.Fatalf("index of %s: %v", id, err)
			}
		}
		if p := get(t, s, m.ID); p.Balance != 3_000_000 || p.Kids != 0 {
			t.Fatalf("parent after delete: bal %d kids %d", p.Balance, p.Kids)
		}
		c := subAcct(t, s, m, true)
		if _, _, err := s.Credit(ctx, c, 500_000, newID("TR"), ""); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateAccount(ctx, get(t, s, c.ID), balance.Change{Status: model.StatusClosed, CloseTrID: newID("TR"), Retention: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if p := get(t, s, m.ID); p.Balance != 3_500_000 {
			t.Fatalf("parent after close: %d", p.Balance)
		}
		if ttl := cc.PTTL(ctx, balance.IndexKey(c.ID)).Val(); ttl <= 0 || ttl > time.Hour {
			t.Fatalf("closed account's index entry expires in %v", ttl)
		}
	})

	t.Run("admit, refund, usage", func(t *testing.T) {
		m := testkit.NewAccount(t, s, nil, "1")
		r := testkit.NewAccount(t, s, m, "0.5", testkit.Own())
		c := testkit.NewAccount(t, s, r, "")
		req := admReq(m, c, model.PermCalls, true, "0.2")
		if d := admDo(t, s, req); !d.Admitted || d.BillingID != r.ID {
			t.Fatalf("%+v", d)
		}
		if mk, err := s.RefundMarker(ctx, m.Root, string(req.RequestID)); err != nil || mk.State != 'a' || mk.BillingID != r.ID {
			t.Fatalf("marker %+v %v", mk, err)
		}
		if _, ok, err := s.Refund(ctx, req); err != nil || !ok {
			t.Fatalf("refund %v %v", ok, err)
		}
		if _, ok, err := s.Refund(ctx, req); err != nil || ok {
			t.Fatalf("second refund %v %v", ok, err)
		}
		if got := testkit.Balance(t, s, r); got != testkit.Amt("0.5") {
			t.Fatalf("balance after refund %v", got)
		}
		if d := admDo(t, s, admReq(c, c, model.PermCalls, false, "0.6")); d.Reason != balance.ReasonInsufficient || d.AuthID != r.ID {
			t.Fatalf("%+v", d)
		}
		if d := admDo(t, s, admReq(c, c, model.PermNone, false, "0.1")); !d.Admitted {
			t.Fatalf("%+v", d)
		}
		ids, err := s.Subtree(ctx, m.Root, m.ID)
		if err != nil || len(ids) != 3 {
			t.Fatalf("subtree %v %v", ids, err)
		}
		u, err := s.UsageOf(ctx, m.Root, ids, "", "")
		if err != nil || len(u) != 1 || u[0].Count != 1 || u[0].Charged != testkit.Amt("0.1") {
			t.Fatalf("usage %+v %v", u, err)
		}
	})

	t.Run("concurrent admits spend exactly the balance", func(t *testing.T) {
		const n, clients = 37, 32
		m := testkit.NewAccount(t, s, nil, "0.37", testkit.Rate(1000000))
		c := testkit.NewAccount(t, s, m, "", testkit.Rate(1000000))
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for range 2 {
					var d balance.Decision
					if err := s.Admit(ctx, admReq(c, c, model.PermNone, false, "0.01"), &d); err != nil {
						t.Error(err)
						return
					}
					if d.Admitted {
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if ok.Load() != n || testkit.Balance(t, s, m) != 0 {
			t.Fatalf("admitted %d (want %d), balance %v (want 0)", ok.Load(), n, testkit.Balance(t, s, m))
		}
	})

	t.Run("invalidations reach every node's subscribers", func(t *testing.T) {
		nodes := cc.Options().Addrs
		// One subscriber on each master, each through a plain client of that node (a
		// ClusterClient would put them all on the master of the channel's slot); a PUBLISH
		// through the cluster client must reach all of them.
		type rx struct {
			sub *balance.Subscription
			got chan string
		}
		var rxs []rx
		for _, addr := range nodes {
			st := balance.NewFromClient(redis.NewClient(&redis.Options{Addr: addr}))
			t.Cleanup(func() { st.Close() })
			got := make(chan string, 16)
			sub := st.SubscribeInvalidations(ctx, func(id string) {
				if id != balance.AllAccounts {
					got <- id
				}
			})
			t.Cleanup(func() { sub.Close() })
			rxs = append(rxs, rx{sub, got})
		}
		for _, r := range rxs {
			waitReady(t, r.sub)
		}
		id := "SA_" + policy.NewTransferID()
		if err := s.PublishInvalidation(ctx, id); err != nil {
			t.Fatal(err)
		}
		for i, r := range rxs {
			select {
			case got := <-r.got:
				if got != id {
					t.Fatalf("subscriber %d got %q, want %q", i, got, id)
				}
			case <-time.After(time.Second):
				t.Fatalf("subscriber %d: nothing within 1s", i)
			}
		}
	})
}

func waitReady(t *testing.T, sub *balance.Subscription) {
	t.Helper()
	select {
	case <-sub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("subscription not established within 10s")
	}
}
