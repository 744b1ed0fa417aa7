package balance_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// tombState reads what an admit or a refund of req can change: every account and the usage
// hash of req's chain, and the marker hash of req (by name, so it works on a cluster too).
func tombState(t testing.TB, s *balance.Store, root string, req *balance.AdmitRequest) map[string]map[string]string {
	t.Helper()
	ctx := context.Background()
	mk, _ := s.MarkerKey(root, string(req.RequestID))
	out := map[string]map[string]string{}
	for _, k := range append(append([]string(nil), req.Keys...), mk) {
		v, err := s.Client().HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

// TestRefundBeforeAdmitTakesNothing: the gateway refunds a request whose admit may have run
// (its answer was lost) and has told the client that nothing was charged. When that refund
// runs before the admit (the store was stalled, the admit's bytes still in a socket buffer),
// the refund finds no marker and leaves a tombstone in its place, and the admit that comes
// afterwards is refused (ReasonWithdrawn): it takes nothing — balance, usage, rate state and
// last_used are as they were — and a second refund still finds nothing to do.
func TestRefundBeforeAdmitTakesNothing(t *testing.T) {
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00", testkit.Rate(5))
		k := testkit.NewAccount(t, s, m, "", testkit.Rate(5))
		req := admReq(k, k, model.PermCalls, false, "0.01")

		amt, ok, err := s.Refund(ctx, req)
		if err != nil || ok || amt != 0 {
			t.Fatalf("refund before the admit: %v %v %v, want nothing refunded", amt, ok, err)
		}
		mk, err := s.RefundMarker(ctx, m.Root, string(req.RequestID))
		if err != nil || mk.State != 'x' || mk.Price != 0 {
			t.Errorf("marker after a refund that found none: %+v %v, want a tombstone", mk, err)
		} else {
			key, _ := s.MarkerKey(m.Root, string(req.RequestID))
			if ttl := s.Client().PTTL(ctx, key).Val(); ttl <= s.MarkerTTL()-time.Minute || ttl > s.MarkerTTL() {
				t.Errorf("the tombstone's hash expires in %v, want about %v", ttl, s.MarkerTTL())
			}
		}

		before := tombState(t, s, m.Root, req)
		d := admDo(t, s, req)
		if d.Admitted || d.Reason != balance.ReasonWithdrawn || d.Charge != 0 {
			t.Fatalf("admit after its refund: %+v, want refused as withdrawn", d)
		}
		if after := tombState(t, s, m.Root, req); !reflect.DeepEqual(before, after) {
			t.Errorf("the withdrawn admit wrote:\nbefore %v\nafter  %v", before, after)
		}
		if b := testkit.Balance(t, s, m); b != testkit.Amt("1.00") {
			t.Errorf("balance %v, want 1.00", b)
		}

		amt, ok, err = s.Refund(ctx, req)
		if err != nil || ok || amt != 0 {
			t.Fatalf("refund with a tombstone: %v %v %v, want nothing refunded", amt, ok, err)
		}
		if after := tombState(t, s, m.Root, req); !reflect.DeepEqual(before, after) {
			t.Errorf("a refund with a tombstone wrote:\nbefore %v\nafter  %v", before, after)
		}
		// Settling it does nothing either.
		if c, ok, err := s.Settle(ctx, req, testkit.Amt("0.02")); err != nil || ok || c != 0 {
			t.Errorf("settle of a withdrawn request: %v %v %v", c, ok, err)
		}
	})
}

// TestAdmitThenRefundStillOnce: the tombstone changes nothing for the usual order: an admit
// then its refund refunds exactly once, and the marker is then the refunded one.
func TestAdmitThenRefundStillOnce(t *testing.T) {
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00", testkit.Rate(0))
		k := testkit.NewAccount(t, s, m, "", testkit.Rate(0))
		req := admReq(k, k, model.PermCalls, false, "0.01")
		if d := admDo(t, s, req); !d.Admitted {
			t.Fatalf("admit: %+v", d)
		}
		for try := 0; try < 3; try++ {
			amt, ok, err := s.Refund(ctx, req)
			if err != nil || ok != (try == 0) || (ok && amt != testkit.Amt("0.01")) {
				t.Fatalf("refund %d: %v %v %v", try, amt, ok, err)
			}
		}
		if mk, err := s.RefundMarker(ctx, m.Root, string(req.RequestID)); err != nil || mk.State != 'r' {
			t.Errorf("marker %+v %v, want refunded", mk, err)
		}
		if b := testkit.Balance(t, s, m); b != testkit.Amt("1.00") {
			t.Errorf("balance %v, want 1.00", b)
		}
		// No tombstone yet, so the flag is down and admits read no marker (the cost
		// of the check is one EXISTS per batch).
		if n := s.Client().Exists(ctx, s.TombsKey(m.Root)).Val(); n != 0 {
			t.Errorf("the tombstone flag is up after an admit and its refund")
		}
		// Once a tombstone is left, an id that has a marker (here, refunded) is
		// not admitted again either.
		other := *req
		other.RequestID = []byte(string(req.RequestID) + "-never-admitted")
		if _, ok, err := s.Refund(ctx, &other); ok || err != nil {
			t.Fatalf("refund of an id never admitted: %v %v", ok, err)
		}
		if ttl := s.Client().PTTL(ctx, s.TombsKey(m.Root)).Val(); ttl <= s.MarkerTTL()-time.Minute || ttl > s.MarkerTTL() {
			t.Errorf("the tombstone flag expires in %v, want about %v", ttl, s.MarkerTTL())
		}
		if d := admDo(t, s, req); d.Admitted || d.Reason != balance.ReasonWithdrawn {
			t.Errorf("a second admit of the same id: %+v", d)
		}
		if b := testkit.Balance(t, s, m); b != testkit.Amt("1.00") {
			t.Errorf("balance %v after the second admit, want 1.00", b)
		}
	})
}

// TestWithdrawnInARun: in a batch, a withdrawn request in the middle of a run of identical
// requests is refused alone and the others are decided as if it had never been sent: rate 3
// (a burst of 3) lets in the 1st, 3rd and 4th of six when the 2nd was withdrawn, and the
// 5th and 6th are rate limited.
func TestWithdrawnInARun(t *testing.T) {
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00", testkit.Rate(0))
		k := testkit.NewAccount(t, s, m, "", testkit.Rate(3))
		first := admReq(k, k, model.PermCalls, false, "0.01")
		reqs := make([]*balance.AdmitRequest, 6)
		for i := range reqs {
			r := *first // the same Keys slice: the batch sends them as a run
			r.RequestID = fmt.Appendf(nil, "%s-run-%d", first.RequestID, i)
			reqs[i] = &r
		}
		if _, ok, err := s.Refund(ctx, reqs[1]); ok || err != nil {
			t.Fatalf("refund before the admit: %v %v", ok, err)
		}
		decs := make([]balance.Decision, len(reqs))
		for i, err := range balance.AdmitBatch(s, reqs, decs) {
			if err != nil {
				t.Fatalf("admit %d: %v", i, err)
			}
		}
		want := []balance.Reason{balance.Admitted, balance.ReasonWithdrawn, balance.Admitted, balance.Admitted,
			balance.ReasonRateLimited, balance.ReasonRateLimited}
		remaining := []int{2, 0, 1, 0, 0, 0}
		for i, d := range decs {
			if d.Reason != want[i] || d.Admitted != (want[i] == balance.Admitted) || d.Remaining != remaining[i] {
				t.Errorf("request %d: %+v, want %v with %d remaining", i, d, want[i], remaining[i])
			}
			mk, err := s.RefundMarker(ctx, m.Root, string(reqs[i].RequestID))
			switch {
			case i == 1 && (err != nil || mk.State != 'x'):
				t.Errorf("request %d: marker %+v %v, want the tombstone", i, mk, err)
			case want[i] == balance.Admitted && (err != nil || mk.State != 'a'):
				t.Errorf("request %d: marker %+v %v, want admitted", i, mk, err)
			case i >= 4 && err != balance.ErrNotFound:
				t.Errorf("request %d: marker %+v %v, want none", i, mk, err)
			}
		}
		if b := testkit.Balance(t, s, m); b != testkit.Amt("0.97") {
			t.Errorf("balance %v, want 0.97 (three admitted)", b)
		}
		u, err := s.UsageOf(ctx, m.Root, []string{k.ID}, "", "")
		var n int64
		var c model.Amount
		for _, x := range u {
			n, c = n+x.Count, c+x.Charged
		}
		if err != nil || n != 3 || c != testkit.Amt("0.03") {
			t.Errorf("usage %+v %v, want 3 requests for 0.03", u, err)
		}
	})
}
