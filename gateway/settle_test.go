package gateway

import (
	"context"
	"testing"

	"github.com/tenantgw/gateway/bench/testkit"
)

// TestSettlement: an upstream answer carrying X-Usage-Cost makes the request's charge that
// amount, exactly once; the difference moves atomically and shows in X-Charge and usage.
func TestSettlement(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name, cost, charge, balance string
	}{
		{"dearer than the price", "0.0375", "0.0375", "0.9625"},
		{"cheaper than the price", "0.004", "0.004", "0.996"},
		{"free in the end", "0", "0.00", "1.00"},
		{"not a valid amount: the price stands", "1e3", "0.01", "0.99"},
		{"negative: the price stands", "-0.01", "0.01", "0.99"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := f.mk(nil, "1.00")
			k := f.mk(m, "")
			cost := c.cost
			f.voice.cost.Store(&cost)
			defer f.voice.cost.Store(nil)
			a := f.do(call{path: callPath(k), as: k})
			if a.Status != 200 || a.Header["X-Charge"] != c.charge {
				t.Fatalf("answer %d, X-Charge %q; want 200, %q", a.Status, a.Header["X-Charge"], c.charge)
			}
			if _, leaked := a.Header["X-Usage-Cost"]; leaked {
				t.Error("X-Usage-Cost reached the client")
			}
			if got := f.bal(m); got != testkit.Amt(c.balance) {
				t.Fatalf("balance %v, want %s", got, c.balance)
			}
			u, err := f.store.UsageOf(context.Background(), k.Root, []string{k.ID}, "", "")
			if err != nil || len(u) != 1 || u[0].Count != 1 || u[0].Charged.String() != testkit.Amt(c.charge).String() {
				t.Fatalf("usage %+v %v; want one request charged %s", u, err, c.charge)
			}
		})
	}
	t.Run("may end below the floor by at most the difference", func(t *testing.T) {
		m := f.mk(nil, "0.01") // covers the price exactly
		k := f.mk(m, "")
		cost := "0.05"
		f.voice.cost.Store(&cost)
		defer f.voice.cost.Store(nil)
		if a := f.do(call{path: callPath(k), as: k}); a.Status != 200 || a.Header["X-Charge"] != "0.05" {
			t.Fatalf("answer %d %q", a.Status, a.Header["X-Charge"])
		}
		if got := f.bal(m); got != testkit.Amt("-0.04") {
			t.Fatalf("balance %v, want -0.04", got)
		}
		// The next request is refused: the balance is below the floor.
		if a := f.do(call{path: callPath(k), as: k}); a.Status != 402 {
			t.Fatalf("next request %d", a.Status)
		}
	})
	t.Run("a 5xx with a cost is refunded, not settled", func(t *testing.T) {
		m := f.mk(nil, "1.00")
		k := f.mk(m, "")
		cost := "0.50"
		f.voice.cost.Store(&cost)
		f.voice.status.Store(502)
		defer func() { f.voice.cost.Store(nil); f.voice.status.Store(200) }()
		if a := f.do(call{path: callPath(k), as: k}); a.Status != 502 || a.Header["X-Charge"] != "0.00" {
			t.Fatalf("answer %d %q", a.Status, a.Header["X-Charge"])
		}
		if got := f.bal(m); got != testkit.Amt("1.00") {
			t.Fatalf("balance %v", got)
		}
	})
}
