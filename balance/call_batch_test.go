package balance_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// callTree is a tree for every way a call's admit can end.
type callTree struct{ m, a, b, c *testkit.Account }

func newCallTree(t *testing.T, s *balance.Store) *callTree {
	none := testkit.Rate(0)
	m := testkit.NewAccount(t, s, nil, "2.50", none)
	return &callTree{m: m,
		a: testkit.NewAccount(t, s, m, "", none, testkit.MaxCalls(2)), // two calls at once
		b: testkit.NewAccount(t, s, m, "", none, testkit.CPS(2)),      // two calls a second
		c: testkit.NewAccount(t, s, m, "", none)}
}

// requests: calls and plain requests mixed, crossing the concurrency cap, the CPS and the
// money (held counts against plain requests too).
func (ct *callTree) requests() []*balance.AdmitRequest {
	call := func(x *testkit.Account) *balance.AdmitRequest { return callReq(x, x, "0.01", testCallSpec) }
	free := func(x *testkit.Account) *balance.AdmitRequest { return callReq(x, x, "0", testCallSpec) }
	plain := func(x *testkit.Account) *balance.AdmitRequest { return admReq(x, x, model.PermCalls, false, "0.05") }
	return []*balance.AdmitRequest{
		call(ct.a), call(ct.a), call(ct.a), // 2 in (0.60 held each), then a's cap
		plain(ct.c), plain(ct.c), // plain ones in between (alike: a run of two)
		free(ct.b), free(ct.b), free(ct.b), // the second is granted 58 s (money), the third b's CPS
		plain(ct.c),             // nothing left once held counts
		call(ct.c), plain(ct.m), // nothing left
	}
}

// TestCallAdmitBatchSameAsOneByOne: call admits in a batch, mixed with plain ones, decide
// exactly as one at a time: decisions and grants, balances and held, the holds and the slots.
func TestCallAdmitBatchSameAsOneByOne(t *testing.T) {
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		alone, batched := newCallTree(t, s), newCallTree(t, s)
		seqA, seqB := alone.requests(), batched.requests()
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
				t.Fatalf("request %d batched: %v", i, err)
			}
		}
		role := func(ct *callTree, id string) string {
			return map[string]string{ct.m.ID: "m", ct.a.ID: "a", ct.b.ID: "b", ct.c.ID: "c", "": ""}[id]
		}
		var reasons []balance.Reason
		for i := range want {
			w, g := want[i], got[i]
			reasons = append(reasons, w.Reason)
			if g.Admitted != w.Admitted || g.Reason != w.Reason || role(batched, g.AuthID) != role(alone, w.AuthID) ||
				g.Charge != w.Charge || g.Granted != w.Granted || g.Limit != w.Limit || g.Remaining != w.Remaining ||
				g.Reset != w.Reset || g.Available != w.Available || g.Price != w.Price {
				t.Errorf("request %d: batched %+v, one by one %+v", i, g, w)
			}
			if seqA[i].Call != nil && w.Admitted {
				ha, hb := hold(t, s, seqA[i].Call.HoldID), hold(t, s, seqB[i].Call.HoldID)
				if ha.Granted != hb.Granted || ha.Held != hb.Held || ha.Status != hb.Status || ha.Expires-ha.Created != hb.Expires-hb.Created {
					t.Errorf("request %d: hold %+v batched, %+v one by one", i, hb, ha)
				}
			}
		}
		wantReasons := fmt.Sprint([]balance.Reason{0, 0, balance.ReasonConcurrency, 0, 0, 0, 0, balance.ReasonCPS,
			balance.ReasonInsufficient, balance.ReasonInsufficient, balance.ReasonInsufficient})
		if fmt.Sprint(reasons) != wantReasons || want[6].Granted != 58 {
			t.Fatalf("the sequence decides %v (second b call granted %d), want %s and 58", reasons, want[6].Granted, wantReasons)
		}
		for _, pair := range [][2]*testkit.Account{{alone.m, batched.m}, {alone.a, batched.a}, {alone.b, batched.b}, {alone.c, batched.c}} {
			x, y := account(t, s, pair[0]), account(t, s, pair[1])
			if x.Balance != y.Balance || x.Held != y.Held || x.ActiveCalls != y.ActiveCalls {
				t.Errorf("%s: balance %v held %v active %d batched; %v %v %d one by one", role(alone, pair[0].ID),
					y.Balance, y.Held, y.ActiveCalls, x.Balance, x.Held, x.ActiveCalls)
			}
		}
		if m := account(t, s, batched.m); m.ActiveCalls != 4 || m.Held != testkit.Amt("2.38") {
			t.Errorf("m: %d calls open holding %v, want 4 holding 2.38", m.ActiveCalls, m.Held)
		}
	})
}
