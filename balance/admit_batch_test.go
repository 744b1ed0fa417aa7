package balance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// batchTree is one account tree with an account for every way an admit can end.
type batchTree struct {
	m, s1, s2, s3, s4, s5, s6 *testkit.Account
}

func newBatchTree(t *testing.T, s *balance.Store) *batchTree {
	// Only s1 has a rate (3/s: a burst of 3, then one every 333 ms), so that what the two
	// runs report does not depend on how long they take.
	none := testkit.Rate(0)
	m := testkit.NewAccount(t, s, nil, "0.05", none)
	bt := &batchTree{m: m}
	bt.s1 = testkit.NewAccount(t, s, m, "", testkit.Rate(3)) // spends m's balance
	bt.s2 = testkit.NewAccount(t, s, m, "0.02", testkit.Own(), none)
	bt.s3 = testkit.NewAccount(t, s, m, "", none, func(a *model.Account) { a.Status = model.StatusSuspended })
	bt.s4 = testkit.NewAccount(t, s, m, "", none, testkit.Perms(model.Perms{Calls: true}))
	bt.s5 = testkit.NewAccount(t, s, m, "", none, testkit.KYC(model.KYCCustomer, model.KYCPending))
	bt.s6 = testkit.NewAccount(t, s, bt.s1, "", none)
	return bt
}

func (bt *batchTree) roles() map[string]string {
	return map[string]string{bt.m.ID: "m", bt.s1.ID: "s1", bt.s2.ID: "s2", bt.s3.ID: "s3",
		bt.s4.ID: "s4", bt.s5.ID: "s5", bt.s6.ID: "s6", "": ""}
}

// requests is a sequence that meets every check, with runs of identical requests (sent to
// the script as '=') that cross a limit in the middle of the run.
func (bt *batchTree) requests() []*balance.AdmitRequest {
	var out []*balance.AdmitRequest
	rep := func(n int, mk func() *balance.AdmitRequest) {
		first := mk()
		for i := 0; i < n; i++ {
			r := *first
			r.RequestID = fmt.Appendf(nil, "%s-%03d", first.RequestID, i)
			out = append(out, &r)
		}
	}
	rep(5, func() *balance.AdmitRequest { return admReq(bt.s1, bt.s1, model.PermCalls, false, "0.01") }) // 3 in, then s1's rate
	rep(3, func() *balance.AdmitRequest { return admReq(bt.s2, bt.s2, model.PermCalls, false, "0.01") }) // 2 in, then s2's balance
	rep(1, func() *balance.AdmitRequest { return admReq(bt.m, bt.s1, model.PermCalls, false, "0.01") })  // the parent, on s1: rate
	rep(2, func() *balance.AdmitRequest { return admReq(bt.s3, bt.s3, model.PermCalls, false, "0.01") }) // suspended
	rep(2, func() *balance.AdmitRequest { return admReq(bt.s4, bt.s4, model.PermSMS, false, "0.01") })   // permission
	rep(2, func() *balance.AdmitRequest { return admReq(bt.s5, bt.s5, model.PermCalls, true, "0.01") })  // KYC
	rep(2, func() *balance.AdmitRequest {
		r := admReq(bt.s2, bt.s2, model.PermCalls, false, "0.01")
		r.TokenHash = bt.s1.TokenHash() // not s2's token
		return r
	})
	rep(2, func() *balance.AdmitRequest { return admReq(bt.s6, bt.s6, model.PermCalls, false, "0.01") }) // s1's rate, up the chain
	rep(3, func() *balance.AdmitRequest { return admReq(bt.m, bt.m, model.PermCalls, false, "0.01") })   // 0.02 left: 2 in, then balance
	rep(2, func() *balance.AdmitRequest { return admReq(bt.s2, bt.s2, model.PermCalls, false, "0") })    // free: in at balance 0
	rep(1, func() *balance.AdmitRequest { return admReq(bt.s4, bt.s4, model.PermCalls, false, "0.01") }) // m is empty now
	return out
}

// TestAdmitBatchSameAsOneByOne: a batch decides every admit exactly as the same admits run
// one at a time, in order: decisions, balances, usage and refund markers, with two trees
// interleaved in the batch (two script calls on a cluster, one on a single server). Both
// runs read the same clock (injected for the script), so that a slow machine running the
// one-at-a-time calls cannot refill a rate between them, and Reset compares exactly.
func TestAdmitBatchSameAsOneByOne(t *testing.T) {
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		alone := []*batchTree{newBatchTree(t, s), newBatchTree(t, s)}
		batched := []*batchTree{newBatchTree(t, s), newBatchTree(t, s)}

		// the same sequence on both pairs: tree 0's requests and tree 1's, in chunks of 4
		interleave := func(a, b []*balance.AdmitRequest) (out []*balance.AdmitRequest, tree []int) {
			for i := 0; i < len(a); i += 4 {
				for k, part := range [][]*balance.AdmitRequest{a, b} {
					end := min(i+4, len(part))
					out = append(out, part[i:end]...)
					for range part[i:end] {
						tree = append(tree, k)
					}
				}
			}
			return out, tree
		}
		seqA, treeOf := interleave(alone[0].requests(), alone[1].requests())
		seqB, _ := interleave(batched[0].requests(), batched[1].requests())

		now := time.Now()
		want := make([]balance.Decision, len(seqA))
		for i, err := range balance.AdmitWithClock(t, s, balance.AdmitScriptBody(), now, seqA, want, true) {
			if err != nil {
				t.Fatalf("request %d one by one: %v", i, err)
			}
		}
		got := make([]balance.Decision, len(seqB))
		for i, err := range balance.AdmitWithClock(t, s, balance.AdmitScriptBody(), now, seqB, got, false) {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}

		admitted := 0
		for i := range want {
			ra, rb := alone[treeOf[i]].roles(), batched[treeOf[i]].roles()
			w, g := want[i], got[i]
			if w.Admitted {
				admitted++
			}
			if g.Admitted != w.Admitted || g.Reason != w.Reason || rb[g.AuthID] != ra[w.AuthID] ||
				rb[g.BillingID] != ra[w.BillingID] || g.Charge != w.Charge || g.Limit != w.Limit ||
				g.Remaining != w.Remaining || g.Available != w.Available || g.Price != w.Price ||
				g.Reset != w.Reset || (g.Limit > 0) != (g.Reset > 0) {
				t.Errorf("request %d (tree %d): batched %+v, one by one %+v", i, treeOf[i], g, w)
			}
		}
		if admitted != 2*9 {
			t.Errorf("%d admitted one by one, the sequence admits 18", admitted)
		}

		for k := range alone {
			a, b := alone[k], batched[k]
			for _, pair := range [][2]*testkit.Account{{a.m, b.m}, {a.s1, b.s1}, {a.s2, b.s2}} {
				if x, y := testkit.Balance(t, s, pair[0]), testkit.Balance(t, s, pair[1]); x != y {
					t.Errorf("tree %d: balance %v batched, %v one by one", k, y, x)
				}
			}
			for _, pair := range [][2]*testkit.Account{{a.s1, b.s1}, {a.s2, b.s2}, {a.m, b.m}} {
				ua, _ := s.Client().HGetAll(ctx, balance.UsageKey(pair[0].Root, pair[0].ID)).Result()
				ub, _ := s.Client().HGetAll(ctx, balance.UsageKey(pair[1].Root, pair[1].ID)).Result()
				if fmt.Sprint(ua) != fmt.Sprint(ub) || len(ua) == 0 {
					t.Errorf("tree %d: usage %v batched, %v one by one", k, ub, ua)
				}
			}
		}
		for i, r := range seqB {
			root := batched[treeOf[i]].m.Root
			mk, err := s.RefundMarker(ctx, root, string(r.RequestID))
			switch {
			case got[i].Admitted && (err != nil || mk.State != 'a' || mk.Price != got[i].Charge || mk.BillingID != got[i].BillingID):
				t.Errorf("request %d: marker %+v %v for %+v", i, mk, err, got[i])
			case !got[i].Admitted && err != balance.ErrNotFound:
				t.Errorf("request %d refused (%v) but has a marker %+v %v", i, got[i].Reason, mk, err)
			}
		}
		// Every marker hash expires, at most MarkerTTL from now; a refund keeps its expiry.
		ttlWant := s.MarkerTTL()
		checkTTL := func(when string) {
			seen := 0
			for i, r := range seqB {
				if !got[i].Admitted {
					continue
				}
				key, _ := s.MarkerKey(batched[treeOf[i]].m.Root, string(r.RequestID))
				if ttl := s.Client().PTTL(ctx, key).Val(); ttl <= ttlWant-time.Minute || ttl > ttlWant {
					t.Errorf("%s: %s expires in %v, want about %v", when, key, ttl, ttlWant)
				}
				seen++
			}
			if seen == 0 {
				t.Fatalf("%s: no marker to look at", when)
			}
		}
		checkTTL("after the batch")
		defer checkTTL("after a refund")
		// A batched admit refunds like any other, exactly once.
		for i, r := range seqB {
			if got[i].Admitted && got[i].Charge > 0 {
				before := testkit.Balance(t, s, batched[treeOf[i]].m)
				for try := 0; try < 2; try++ {
					amt, ok, err := s.Refund(ctx, r)
					if err != nil || ok != (try == 0) || (ok && amt != got[i].Charge) {
						t.Fatalf("refund %d of request %d: %v %v %v", try, i, amt, ok, err)
					}
				}
				if after := testkit.Balance(t, s, batched[treeOf[i]].m); after != before+got[i].Charge {
					t.Errorf("balance %v after refund, was %v", after, before)
				}
				break
			}
		}
	})
}
