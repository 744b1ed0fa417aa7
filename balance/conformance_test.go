package balance_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// forEachStore runs f against the embedded store, a real redis-server and a real 3-master
// Redis Cluster: the same cases, the same scripts, so the embedded store cannot drift from
// production and every script is shown to keep its keys in one slot.
func forEachStore(t *testing.T, f func(t *testing.T, s *balance.Store)) { runOnStores(t, true, f) }

// runOnStores runs f against the embedded store and a real redis-server, and with cluster
// against a real Redis Cluster too.
func runOnStores(t *testing.T, cluster bool, f func(t *testing.T, s *balance.Store)) {
	// These tests are about decisions, not timeouts: a generous read timeout keeps a machine
	// loaded by other work (the race detector runs the embedded store's Lua slowly) from
	// failing an admit with "store unavailable".
	t.Run("embedded", func(t *testing.T) {
		f(t, testkit.OpenStore(t, balance.Options{DataDir: t.TempDir(), ReadTimeout: testReadTimeout}))
	})
	t.Run("redis", func(t *testing.T) {
		f(t, testkit.OpenStore(t, balance.Options{Redis: "redis://" + redistest.Start(t) + "/0", ReadTimeout: testReadTimeout}))
	})
	if cluster {
		t.Run("cluster", func(t *testing.T) { f(t, openClusterStore(t)) })
	}
}

// testReadTimeout is the store read timeout of the stores runOnStores opens.
const testReadTimeout = 10 * time.Second

var seq atomic.Int64

func newID(prefix string) string {
	id := prefix + "_"
	n := int(seq.Add(1))
	digits := []byte("00000000000000000000")
	for i := len(digits) - 1; n > 0; i-- {
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	return id + "U" + string(digits[1:]) // "U": testkit.NewAccount's ids are "T" and a counter of their own
}

func mainAcct(t *testing.T, s *balance.Store) *model.Account {
	t.Helper()
	id := newID("MA")
	a := &model.Account{ID: id, Root: id, Name: "main", Status: model.StatusActive,
		Perms: model.Perms{Calls: true, SMS: true, CDR: true, Sub: true}, RateLimit: 100,
		KYCMode: model.KYCPersonal, KYCStatus: model.KYCNotRequired, Own: true, Currency: "USD",
		MaxSub: 2, Tok: "h-" + id}
	if err := s.CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func subAcct(t *testing.T, s *balance.Store, p *model.Account, own bool) *model.Account {
	t.Helper()
	a, err := trySub(s, p, own)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func trySub(s *balance.Store, p *model.Account, own bool) (*model.Account, error) {
	id := newID("SA")
	a := &model.Account{ID: id, Parent: p.ID, Root: p.Root, Depth: p.Depth + 1,
		Chain: append([]string{p.ID}, p.Chain...), Name: "sub", Status: model.StatusActive,
		Perms: model.Perms{Calls: true, SMS: true, CDR: true}, RateLimit: 10,
		KYCMode: model.KYCPersonal, KYCStatus: model.KYCNotRequired, Own: own, Currency: "USD",
		MaxSub: 2, Tok: "h-" + id}
	return a, s.CreateAccount(context.Background(), a)
}

func get(t *testing.T, s *balance.Store, id string) *model.Account {
	t.Helper()
	a, err := s.Account(context.Background(), id)
	if err != nil {
		t.Fatalf("reading %s: %v", id, err)
	}
	return a
}

func TestStoreConformance(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		t.Run("create and read back", func(t *testing.T) {
			m := mainAcct(t, s)
			got := get(t, s, m.ID)
			if got.Root != m.ID || got.Status != "active" || !got.Own || got.Currency != "USD" || got.Created == 0 || got.Tok != m.Tok {
				t.Fatalf("read back %+v", got)
			}
			sa := subAcct(t, s, m, false)
			got = get(t, s, sa.ID)
			if got.Parent != m.ID || got.Depth != 1 || len(got.Chain) != 1 || got.Chain[0] != m.ID || got.Own {
				t.Fatalf("sub read back %+v", got)
			}
			if get(t, s, m.ID).Kids != 1 {
				t.Fatal("parent kids count not incremented")
			}
			kids, err := s.Children(ctx, m.Root, m.ID)
			if err != nil || len(kids) != 1 || kids[0] != sa.ID {
				t.Fatalf("children = %v, %v", kids, err)
			}
			if _, err := s.Account(ctx, "SA_NOPE"); !errors.Is(err, balance.ErrNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
			if err := s.CreateAccount(ctx, sa); !errors.Is(err, balance.ErrExists) {
				t.Fatalf("duplicate id: %v", err)
			}
		})
		t.Run("subaccount limit", func(t *testing.T) {
			m := mainAcct(t, s) // MaxSub 2
			subAcct(t, s, m, false)
			subAcct(t, s, m, false)
			if _, err := trySub(s, m, false); !errors.Is(err, balance.ErrSubaccountLimit) {
				t.Fatalf("third child: %v", err)
			}
			if get(t, s, m.ID).Kids != 2 {
				t.Fatal("refused create changed the count")
			}
		})
		t.Run("suspended ancestor", func(t *testing.T) {
			m := mainAcct(t, s)
			a := subAcct(t, s, m, false)
			b := subAcct(t, s, a, false)
			if err := s.UpdateAccount(ctx, get(t, s, m.ID), balance.Change{Status: model.StatusSuspended}); err != nil {
				t.Fatal(err)
			}
			var se *balance.SuspendedError
			if _, err := trySub(s, a, false); !errors.As(err, &se) || se.AuthID != m.ID {
				t.Fatalf("create under suspended root: %v", err)
			}
			err := s.UpdateAccount(ctx, get(t, s, b.ID), balance.Change{Status: model.StatusSuspended})
			if !errors.As(err, &se) || se.AuthID != m.ID {
				t.Fatalf("status change under suspended root: %v", err)
			}
			// a change that is not a status change is still allowed
			if err := s.UpdateAccount(ctx, get(t, s, b.ID), balance.Change{Name: ptr("x")}); err != nil {
				t.Fatal(err)
			}
			if get(t, s, b.ID).Name != "x" {
				t.Fatal("name not set")
			}
		})
		t.Run("credit and floor", func(t *testing.T) {
			m := mainAcct(t, s)
			after, _, err := s.Credit(ctx, m, 5_000_000, "TR_A", "top-up")
			if err != nil || after != 5_000_000 {
				t.Fatalf("credit: %v %v", after, err)
			}
			if err := s.UpdateAccount(ctx, m, balance.Change{CreditLimit: ptr[model.Amount](1_000_000)}); err != nil {
				t.Fatal(err)
			}
			var ie *balance.InsufficientError
			if _, _, err := s.Credit(ctx, m, -6_000_001, "TR_B", ""); !errors.As(err, &ie) || ie.Available != 6_000_000 {
				t.Fatalf("below floor: %v", err)
			}
			if after, _, err := s.Credit(ctx, m, -6_000_000, "TR_C", ""); err != nil || after != -1_000_000 {
				t.Fatalf("to the floor: %v %v", after, err)
			}
			if _, _, err := s.Credit(ctx, m, model.MaxAmount, "TR_D", ""); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Credit(ctx, m, 2_000_000, "TR_E", ""); !errors.Is(err, balance.ErrBalanceRange) {
				t.Fatalf("over MaxAmount: %v", err)
			}
			sa := subAcct(t, s, m, false)
			if _, _, err := s.Credit(ctx, sa, 1, "TR_F", ""); !errors.Is(err, balance.ErrSharedBalance) {
				t.Fatalf("credit to shared: %v", err)
			}
		})
		t.Run("balance mode switches one way", func(t *testing.T) {
			m := mainAcct(t, s)
			sa := subAcct(t, s, m, false)
			yes, no := true, false
			if err := s.UpdateAccount(ctx, sa, balance.Change{WantOwn: &yes}); err != nil {
				t.Fatal(err)
			}
			if a := get(t, s, sa.ID); !a.Own || a.Balance != 0 {
				t.Fatalf("after switch %+v", a)
			}
			if err := s.UpdateAccount(ctx, sa, balance.Change{WantOwn: &no}); !errors.Is(err, balance.ErrSharedBalance) {
				t.Fatalf("switch back: %v", err)
			}
		})
		t.Run("close returns balance and is final", func(t *testing.T) {
			m := mainAcct(t, s)
			sa := subAcct(t, s, m, true)
			if _, _, err := s.Credit(ctx, sa, 3_000_000, "TR_G", ""); err != nil {
				t.Fatal(err)
			}
			child := subAcct(t, s, sa, false)
			if err := s.UpdateAccount(ctx, get(t, s, sa.ID), balance.Change{Status: model.StatusClosed, CloseTrID: "TR_H", Retention: time.Hour}); !errors.Is(err, balance.ErrHasSubaccounts) {
				t.Fatalf("close with open child: %v", err)
			}
			if err := s.UpdateAccount(ctx, get(t, s, child.ID), balance.Change{Status: model.StatusClosed, CloseTrID: "TR_I", Retention: time.Hour}); err != nil {
				t.Fatal(err)
			}
			if err := s.UpdateAccount(ctx, get(t, s, sa.ID), balance.Change{Status: model.StatusClosed, CloseTrID: "TR_J", Retention: time.Hour}); err != nil {
				t.Fatal(err)
			}
			if a := get(t, s, sa.ID); a.Status != "closed" || a.Balance != 0 || a.Closed == 0 {
				t.Fatalf("closed record %+v", a)
			}
			if p := get(t, s, m.ID); p.Balance != 3_000_000 || p.Kids != 0 {
				t.Fatalf("parent after close: bal %d kids %d", p.Balance, p.Kids)
			}
			if err := s.UpdateAccount(ctx, get(t, s, sa.ID), balance.Change{Status: model.StatusActive}); !errors.Is(err, balance.ErrAccountClosed) {
				t.Fatalf("reopen: %v", err)
			}
			if _, err := s.RotateToken(ctx, get(t, s, sa.ID), "new", 0); !errors.Is(err, balance.ErrAccountClosed) {
				t.Fatalf("rotate closed: %v", err)
			}
		})
		t.Run("a main account closes only at zero", func(t *testing.T) {
			m := mainAcct(t, s)
			if _, _, err := s.Credit(ctx, m, 1_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			closeIt := balance.Change{Status: model.StatusClosed, CloseTrID: newID("TR"), Retention: time.Hour}
			if err := s.UpdateAccount(ctx, get(t, s, m.ID), closeIt); !errors.Is(err, balance.ErrBalanceNotZero) {
				t.Fatalf("closing a main with money: %v", err)
			}
			if a := get(t, s, m.ID); a.Status != model.StatusActive || a.Balance != 1_000_000 {
				t.Fatalf("refused close changed the record: %+v", a)
			}
			if _, _, err := s.Credit(ctx, m, -1_000_000, newID("TR"), ""); err != nil {
				t.Fatal(err)
			}
			if err := s.UpdateAccount(ctx, get(t, s, m.ID), closeIt); err != nil {
				t.Fatalf("closing a main at zero: %v", err)
			}
		})
		t.Run("rotate", func(t *testing.T) {
			m := mainAcct(t, s)
			exp, err := s.RotateToken(ctx, m, "h2", time.Hour)
			if err != nil || exp.IsZero() {
				t.Fatal(exp, err)
			}
			a := get(t, s, m.ID)
			if a.Tok != "h2" || a.TokPrev != m.Tok || a.TokPrevExp != exp.UnixMicro() {
				t.Fatalf("after rotate %+v", a)
			}
			if _, err := s.RotateToken(ctx, a, "h3", 0); err != nil {
				t.Fatal(err)
			}
			if a = get(t, s, m.ID); a.Tok != "h3" || a.TokPrev != "" {
				t.Fatalf("after revoke %+v", a)
			}
		})
		t.Run("delete", func(t *testing.T) {
			m := mainAcct(t, s)
			a := subAcct(t, s, m, true)
			b := subAcct(t, s, a, true)
			if _, _, err := s.Credit(ctx, a, 1_000_000, "TR_K", ""); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Credit(ctx, b, 2_000_000, "TR_L", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DeleteAccount(ctx, m, a, false, "TR_M"); !errors.Is(err, balance.ErrHasSubaccounts) {
				t.Fatalf("delete without cascade: %v", err)
			}
			ids, err := s.DeleteAccount(ctx, m, a, true, "TR_N")
			if err != nil || len(ids) != 2 {
				t.Fatalf("cascade: %v %v", ids, err)
			}
			for _, id := range []string{a.ID, b.ID} {
				if _, err := s.Account(ctx, id); !errors.Is(err, balance.ErrNotFound) {
					t.Fatalf("%s still there: %v", id, err)
				}
			}
			if p := get(t, s, m.ID); p.Balance != 3_000_000 || p.Kids != 0 {
				t.Fatalf("parent after delete: bal %d kids %d", p.Balance, p.Kids)
			}
			if kids, _ := s.Children(ctx, m.Root, m.ID); len(kids) != 0 {
				t.Fatalf("kids left: %v", kids)
			}
		})
	})
}

// TestEmbeddedRestart: accounts written to the embedded store survive a graceful stop and
// start, credentials and balances included.
func TestEmbeddedRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := balance.Open(ctx, balance.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m := mainAcct(t, s)
	sa := subAcct(t, s, m, true)
	if _, _, err := s.Credit(ctx, sa, 1_234_567, "TR_R", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateToken(ctx, sa, "rotated", time.Hour); err != nil {
		t.Fatal(err)
	}
	before := get(t, s, sa.ID)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := balance.Open(ctx, balance.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	after := get(t, s2, sa.ID)
	if after.Tok != "rotated" || after.TokPrev != before.TokPrev || after.TokPrevExp != before.TokPrevExp ||
		after.Balance != 1_234_567 || after.Created != before.Created || after.Parent != m.ID {
		t.Fatalf("after restart %+v\nbefore %+v", after, before)
	}
	if kids, _ := s2.Children(ctx, m.Root, m.ID); len(kids) != 1 || kids[0] != sa.ID {
		t.Fatalf("children after restart: %v", kids)
	}
	if mains, _ := s2.Mains(ctx); len(mains) != 1 || mains[0] != m.ID {
		t.Fatalf("mains after restart: %v", mains)
	}
}
