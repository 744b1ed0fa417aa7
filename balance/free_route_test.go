package balance_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestFreeRouteRefundAndSettle: on a route whose price is 0, a refund, the repeated refund
// of the lost-admit-answer check and settlements (to 0, to more, down to 0) all succeed
// without a script error, and the usage counters are exact afterwards (no "-0", no count
// taken off twice).
func TestFreeRouteRefundAndSettle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00")
		k := testkit.NewAccount(t, s, m, "")
		day := admToday()
		var reqs []*balance.AdmitRequest
		for range 4 {
			req := admReq(k, k, model.PermNone, false, "0")
			if d := admDo(t, s, req); !d.Admitted || d.Charge != 0 {
				t.Fatalf("admit: %+v", d)
			}
			reqs = append(reqs, req)
		}
		wantUsage := func(when string, want map[string]string) {
			t.Helper()
			if got := admUsage(t, s, k); !reflect.DeepEqual(got, want) {
				t.Fatalf("usage %s: %v, want %v", when, got, want)
			}
		}
		f := day + "|voice.call|"
		wantUsage("after 4 free admits", map[string]string{f + "n": "4", f + "c": "0"})

		// The upstream failed: refund. Then the same refund again, as the gateway's check of a
		// lost admit answer retries it (eight times at most): once only.
		amt, ok, err := s.Refund(ctx, reqs[0])
		if err != nil || !ok || amt != 0 {
			t.Fatalf("refund of a free request: %v %v %v", amt, ok, err)
		}
		for range 8 {
			if _, ok, err := s.Refund(ctx, reqs[0]); err != nil || ok {
				t.Fatalf("repeated refund: %v %v", ok, err)
			}
		}
		if mk, err := s.RefundMarker(ctx, m.Root, string(reqs[0].RequestID)); err != nil || mk.State != 'r' {
			t.Fatalf("marker after refund %+v %v", mk, err)
		}
		wantUsage("after one refund", map[string]string{f + "n": "3", f + "c": "0"})

		// Settle to 0 (no difference), to more, and a refund after a settlement does nothing.
		if c, ok, err := s.Settle(ctx, reqs[1], 0); err != nil || !ok || c != 0 {
			t.Fatalf("settle to 0: %v %v %v", c, ok, err)
		}
		if c, ok, err := s.Settle(ctx, reqs[2], 2_500); err != nil || !ok || c != 2_500 {
			t.Fatalf("settle to 0.0025: %v %v %v", c, ok, err)
		}
		if _, ok, err := s.Refund(ctx, reqs[1]); err != nil || ok {
			t.Fatalf("refund after settlement: %v %v", ok, err)
		}
		wantUsage("after settlements", map[string]string{f + "n": "3", f + "c": "2500", f + "s": "2"})
		if got := testkit.Balance(t, s, m); got != testkit.Amt("0.9975") {
			t.Fatalf("balance %v, want 0.9975", got)
		}

		// A priced request settled down to 0: the difference goes back, usage nets to 0 for it.
		p := admReq(k, k, model.PermNone, false, "0.01")
		if d := admDo(t, s, p); !d.Admitted {
			t.Fatalf("admit: %+v", d)
		}
		if c, ok, err := s.Settle(ctx, p, 0); err != nil || !ok || c != 0 {
			t.Fatalf("settle 0.01 to 0: %v %v %v", c, ok, err)
		}
		wantUsage("after a priced request settled to 0", map[string]string{f + "n": "4", f + "c": "2500", f + "s": "3"})
		if got := testkit.Balance(t, s, m); got != testkit.Amt("0.9975") {
			t.Fatalf("balance %v, want 0.9975", got)
		}

		// The last free request is refunded too, and its usage is gone exactly.
		if _, ok, err := s.Refund(ctx, reqs[3]); err != nil || !ok {
			t.Fatalf("refund: %v %v", ok, err)
		}
		wantUsage("at the end", map[string]string{f + "n": "3", f + "c": "2500", f + "s": "3"})
	})
}
