package balance_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestAdmitCallerID: a request whose caller-ID number the path account does not own is
// refused with ReasonNumberNotOwned in the admit's own atomic step and takes nothing; one it
// owns is admitted. On the embedded store, a real Redis and a 3-node Redis Cluster, alone
// and in a batch mixed with other requests.
func TestAdmitCallerID(t *testing.T) {
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "10")
		sub := testkit.NewAccount(t, s, m, "")
		other := testkit.NewAccount(t, s, nil, "10")
		mine, parents, foreign, unknown := newNumber(), newNumber(), newNumber(), newNumber()
		for _, x := range []struct{ main, n string }{{m.ID, mine}, {m.ID, parents}, {other.ID, foreign}} {
			if _, err := s.AddNumber(ctx, x.main, x.n); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.MoveNumber(ctx, m.Root, m.ID, mine, sub.ID); err != nil {
			t.Fatal(err)
		}
		req := func(n string) *balance.AdmitRequest {
			r := admReq(sub, sub, model.PermCalls, false, "0.01")
			r.CallerID = []byte(n)
			return r
		}
		if d := admDo(t, s, req(mine)); !d.Admitted || d.Charge != testkit.Amt("0.01") {
			t.Fatalf("own number: %+v", d)
		}
		// what a refusal must leave alone (admTreeState lists keys, which a cluster client
		// cannot: the accounts, with rate state and balance, and the usage)
		state := func() []map[string]string {
			var out []map[string]string
			for _, k := range append(balance.AdmitKeys(sub.Root, sub.ID, sub.Chain), balance.UsageKey(m.Root, m.ID)) {
				out = append(out, s.Client().HGetAll(ctx, k).Val())
			}
			return out
		}
		before := state()
		for _, n := range []string{parents, foreign, unknown} {
			if d := admDo(t, s, req(n)); d.Admitted || d.Reason != balance.ReasonNumberNotOwned || d.AuthID != sub.ID || d.Charge != 0 {
				t.Fatalf("number %s: %+v", n, d)
			}
		}
		if after := state(); !reflect.DeepEqual(before, after) {
			t.Fatalf("a refused caller-ID changed the tree:\n%v\n%v", before, after)
		}
		// The main account reaches sub, but the number must be the path account's: a
		// request on the main account's path with sub's number is refused too.
		onMain := admReq(m, m, model.PermCalls, false, "0.01")
		onMain.CallerID = []byte(mine)
		if d := admDo(t, s, onMain); d.Reason != balance.ReasonNumberNotOwned {
			t.Fatalf("main account with sub's number: %+v", d)
		}
		// in one batch: owned, not owned, no check, owned again
		reqs := []*balance.AdmitRequest{req(mine), req(parents), admReq(sub, sub, model.PermCalls, false, "0.01"), req(mine)}
		decs := make([]balance.Decision, len(reqs))
		for i, err := range balance.AdmitBatch(s, reqs, decs) {
			if err != nil {
				t.Fatal(err)
			}
			if want := i != 1; decs[i].Admitted != want {
				t.Fatalf("batch request %d: %+v", i, decs[i])
			}
		}
		if d := decs[1]; d.Reason != balance.ReasonNumberNotOwned {
			t.Fatalf("batch request 1: %+v", d)
		}
		if got := testkit.Balance(t, s, m); got != testkit.Amt("9.96") {
			t.Fatalf("balance %v after four admitted requests of 0.01", got)
		}
	})
}
