package balance_test

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestDeleteFoldsUsage: deleting accounts (plain and cascade) folds their usage into the
// usage of the account that deleted them, per day and route, so that include_subaccounts
// sums never change on a delete, an account's own usage stays its own, and the books close:
// everything credited = the own balances left + everything charged. A refund and a
// settlement that come after the delete of the account they were admitted on keep it so.
func TestDeleteFoldsUsage(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "10")
		r := testkit.NewAccount(t, s, m, "2", testkit.Own())
		c1 := testkit.NewAccount(t, s, r, "")
		g := testkit.NewAccount(t, s, c1, "")
		c2 := testkit.NewAccount(t, s, r, "0.5", testkit.Own(), testkit.Credit("1"))
		k := testkit.NewAccount(t, s, m, "")
		credited := testkit.Amt("12.5")

		admit := func(a *testkit.Account, route, price string) *balance.AdmitRequest {
			t.Helper()
			req := admReq(a, a, model.PermNone, false, price)
			req.Route = route
			if d := admDo(t, s, req); !d.Admitted {
				t.Fatalf("admit on %s: %+v", a.ID, d)
			}
			return req
		}
		admit(m, "voice.call", "0.01")
		admit(k, "voice.call", "0.01")
		admit(k, "voice.call", "0.01")
		admit(k, "free", "0")
		for range 3 {
			admit(c1, "voice.call", "0.02")
		}
		if _, ok, err := s.Settle(ctx, admit(c1, "voice.call", "0.02"), 15_000); err != nil || !ok {
			t.Fatalf("settle: %v %v", ok, err)
		}
		admit(g, "voice.call", "0.05")
		admit(g, "free", "0")
		pendingG := admit(g, "voice.call", "0.05") // refunded after g is deleted
		admit(c2, "sms", "0.7")                    // c2 goes below zero
		pendingC2 := admit(c2, "sms", "0.1")       // settled after c2 is deleted
		if _, ok, err := s.Refund(ctx, admit(r, "voice.call", "0.01")); err != nil || !ok {
			t.Fatalf("refund: %v %v", ok, err)
		}

		subtree := func(a *testkit.Account) []balance.Usage {
			t.Helper()
			u, err := s.SubtreeUsage(ctx, m.Root, a.ID, "", "")
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		own := func(a *testkit.Account) []balance.Usage {
			t.Helper()
			u, err := s.UsageOf(ctx, m.Root, []string{a.ID}, "", "")
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		books := func(when string) {
			t.Helper()
			ids, err := s.Subtree(ctx, m.Root, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := s.Accounts(ctx, m.Root, ids)
			if err != nil {
				t.Fatal(err)
			}
			var sum model.Amount
			for _, a := range recs {
				if a.Own {
					sum += a.Balance
				}
			}
			var charged model.Amount
			for _, u := range subtree(m) {
				charged += u.Charged
			}
			if sum+charged != credited {
				t.Fatalf("%s: own balances %v + charged %v != credited %v", when, sum, charged, credited)
			}
		}
		same := func(when string, got, want []balance.Usage) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n got %+v\nwant %+v", when, got, want)
			}
		}
		books("before any delete")
		subM, subR, subC1 := subtree(m), subtree(r), subtree(c1)
		ownM, ownR, ownC1 := own(m), own(r), own(c1)

		// A plain delete of a leaf with usage on two routes, one of them free.
		if _, err := s.DeleteAccount(ctx, m.Account, k.Account, false, newID("TR")); err != nil {
			t.Fatal(err)
		}
		same("the main's subtree after deleting a leaf", subtree(m), subM)
		same("the main's own usage after deleting a leaf", own(m), ownM)
		books("after deleting a leaf")

		// c1 has a child: a plain delete is refused and writes nothing; g is deleted by c1.
		if _, err := s.DeleteAccount(ctx, r.Account, c1.Account, false, newID("TR")); !errors.Is(err, balance.ErrHasSubaccounts) {
			t.Fatalf("plain delete of a parent: %v", err)
		}
		same("after a refused delete", subtree(m), subM)
		if _, err := s.DeleteAccount(ctx, c1.Account, g.Account, false, newID("TR")); err != nil {
			t.Fatal(err)
		}
		same("c1's subtree after deleting its child", subtree(c1), subC1)
		same("c1's own usage after deleting its child", own(c1), ownC1)
		same("r's subtree after deleting a grandchild", subtree(r), subR)
		same("r's own usage after deleting a grandchild", own(r), ownR)
		books("after deleting a grandchild")

		// Cascade: r, c1 (with what g folded into it) and c2 (below zero) fold into m.
		ids, err := s.DeleteAccount(ctx, m.Account, r.Account, true, newID("TR"))
		if err != nil || len(ids) != 3 {
			t.Fatalf("cascade: %v %v", ids, err)
		}
		same("the main's subtree after a cascade", subtree(m), subM)
		same("the main's own usage after a cascade", own(m), ownM)
		books("after a cascade")
		// m 10 - 0.03 (its own and k's charges), r 2 - 0.175 (c1's and g's), c2 0.5 - 0.8
		if got := testkit.Balance(t, s, m); got != testkit.Amt("11.495") {
			t.Fatalf("main's balance after the cascade %v", got)
		}

		// The store keeps every counter as a plain integer ("0", never "-0").
		canon := regexp.MustCompile(`^(0|-?[1-9][0-9]*)$`)
		for f, v := range admUsage(t, s, m) {
			if !canon.MatchString(v) {
				t.Fatalf("the main's usage field %s = %q", f, v)
			}
		}

		// A refund and a settlement of requests admitted on accounts deleted since: the money
		// goes to the nearest open own balance above (m), the usage is netted in what was
		// folded, and the books still close.
		if amt, ok, err := s.Refund(ctx, pendingG); err != nil || !ok || amt != testkit.Amt("0.05") {
			t.Fatalf("refund after delete: %v %v %v", amt, ok, err)
		}
		books("after a refund of a deleted account's request")
		if c, ok, err := s.Settle(ctx, pendingC2, 40_000); err != nil || !ok || c != 40_000 {
			t.Fatalf("settle after delete: %v %v %v", c, ok, err)
		}
		books("after a settlement of a deleted account's request")
		same("the main's own usage after them", own(m), ownM)
		var n int64
		var charged model.Amount
		for _, u := range subtree(m) {
			n += u.Count
			charged += u.Charged
		}
		var n0 int64
		var charged0 model.Amount
		for _, u := range subM {
			n0 += u.Count
			charged0 += u.Charged
		}
		if n != n0-1 || charged != charged0-testkit.Amt("0.05")-testkit.Amt("0.06") {
			t.Fatalf("after refund and settlement: count %d charged %v, want %d and %v", n, charged, n0-1, charged0-testkit.Amt("0.11"))
		}
		for _, a := range []*testkit.Account{g, c2, k, r, c1} {
			if u := admUsage(t, s, a); len(u) != 0 {
				t.Fatalf("usage of deleted %s left in the store: %v", a.ID, u)
			}
		}
	})
}

// TestDeleteFoldsExpiredClosedChild: a closed child whose record has expired is still listed
// (and counted) under its parent until the parent is deleted; the delete folds its usage too
// and removes what is left of it.
func TestDeleteFoldsExpiredClosedChild(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1")
		r := testkit.NewAccount(t, s, m, "0.5", testkit.Own())
		c := testkit.NewAccount(t, s, r, "")
		req := admReq(c, c, model.PermNone, false, "0.02")
		if d := admDo(t, s, req); !d.Admitted {
			t.Fatalf("admit: %+v", d)
		}
		if err := s.UpdateAccount(ctx, c.Account, balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: newID("TR")}); err != nil {
			t.Fatal(err)
		}
		// the retention ends: the record goes, its listing and usage stay
		if err := s.Client().Del(ctx, balance.AccountKey(c.Root, c.ID)).Err(); err != nil {
			t.Fatal(err)
		}
		before, err := s.SubtreeUsage(ctx, m.Root, m.ID, "", "")
		if err != nil || len(before) != 1 || before[0].Count != 1 || before[0].Charged != testkit.Amt("0.02") {
			t.Fatalf("usage before: %+v %v", before, err)
		}
		ids, err := s.DeleteAccount(ctx, m.Account, r.Account, false, newID("TR"))
		if err != nil || !reflect.DeepEqual(ids, []string{r.ID, c.ID}) {
			t.Fatalf("delete: %v %v", ids, err)
		}
		if after, err := s.SubtreeUsage(ctx, m.Root, m.ID, "", ""); err != nil || !reflect.DeepEqual(after, before) {
			t.Fatalf("usage after: %+v %v, want %+v", after, err, before)
		}
		if got := testkit.Balance(t, s, m); got != testkit.Amt("1.48") {
			t.Fatalf("main's balance %v, want 1.48", got)
		}
		for _, k := range []string{balance.UsageKey(c.Root, c.ID), balance.KidsKey(c.Root, r.ID), balance.UsageKey(r.Root, r.ID)} {
			if n := s.Client().Exists(ctx, k).Val(); n != 0 {
				t.Fatalf("%s left behind", k)
			}
		}
	})
}

// TestForgetExpiredChildKeepsUsage: when a closed child's record has expired and the listing
// forgets it (ForgetChildren), its usage — and that of the closed children it still listed —
// is folded into the parent's, so the subtree sums above stay what they were; a child whose
// record is still there is not forgotten.
func TestForgetExpiredChildKeepsUsage(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1")
		r := testkit.NewAccount(t, s, m, "0.5", testkit.Own())
		c := testkit.NewAccount(t, s, r, "")
		g := testkit.NewAccount(t, s, c, "")
		live := testkit.NewAccount(t, s, r, "")
		for _, a := range []*testkit.Account{c, g, live} {
			if d := admDo(t, s, admReq(a, a, model.PermNone, false, "0.02")); !d.Admitted {
				t.Fatalf("admit on %s: %+v", a.ID, d)
			}
		}
		for _, a := range []*testkit.Account{g, c, live} {
			if err := s.UpdateAccount(ctx, get(t, s, a.ID), balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: newID("TR")}); err != nil {
				t.Fatal(err)
			}
		}
		// c's and g's retention ends: their records go; live's stays
		for _, a := range []*testkit.Account{c, g} {
			if err := s.Client().Del(ctx, balance.AccountKey(a.Root, a.ID)).Err(); err != nil {
				t.Fatal(err)
			}
		}
		sums := func() [2][]balance.Usage {
			var out [2][]balance.Usage
			for i, id := range []string{m.ID, r.ID} {
				u, err := s.SubtreeUsage(ctx, m.Root, id, "", "")
				if err != nil {
					t.Fatal(err)
				}
				out[i] = u
			}
			return out
		}
		before := sums()
		if len(before[0]) != 1 || before[0][0].Count != 3 || before[0][0].Charged != testkit.Amt("0.06") {
			t.Fatalf("usage before: %+v", before[0])
		}
		if err := s.ForgetChildren(ctx, m.Root, get(t, s, r.ID), []string{c.ID, live.ID}); err != nil {
			t.Fatal(err)
		}
		if after := sums(); !reflect.DeepEqual(after, before) {
			t.Fatalf("subtree usage after forgetting: %+v, want %+v", after, before)
		}
		kids, err := s.Children(ctx, m.Root, r.ID)
		if err != nil || !reflect.DeepEqual(kids, []string{live.ID}) {
			t.Fatalf("r's children after forgetting: %v %v", kids, err)
		}
		for _, k := range []string{balance.UsageKey(c.Root, c.ID), balance.UsageKey(g.Root, g.ID), balance.KidsKey(c.Root, c.ID)} {
			if n := s.Client().Exists(ctx, k).Val(); n != 0 {
				t.Fatalf("%s left behind", k)
			}
		}
		if own, err := s.UsageOf(ctx, m.Root, []string{r.ID}, "", ""); err != nil || len(own) != 0 {
			t.Fatalf("r's own usage %+v %v: the fold counts only in subtree sums", own, err)
		}
	})
}
