package balance_test

import (
	"context"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestAdmitCluster: admit and refund run in one slot of a real Redis Cluster (every key
// they touch, the refund marker included, carries the tree's hash tag).
func TestAdmitCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	nodes := redistest.StartCluster(t)
	s, err := balance.Open(context.Background(), balance.Options{Cluster: nodes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	m := testkit.NewAccount(t, s, nil, "1")
	r := testkit.NewAccount(t, s, m, "0.5", testkit.Own())
	c := testkit.NewAccount(t, s, r, "")
	req := admReq(m, c, model.PermCalls, true, "0.2")
	if d := admDo(t, s, req); !d.Admitted || d.BillingID != r.ID {
		t.Fatalf("%+v", d)
	}
	if got := testkit.Balance(t, s, r); got != testkit.Amt("0.3") {
		t.Fatalf("balance %v", got)
	}
	if _, ok, err := s.Refund(ctx, req); err != nil || !ok {
		t.Fatalf("refund %v %v", ok, err)
	}
	if got := testkit.Balance(t, s, r); got != testkit.Amt("0.5") {
		t.Fatalf("balance after refund %v", got)
	}
	if d := admDo(t, s, admReq(c, c, model.PermCalls, false, "0.6")); d.Reason != balance.ReasonInsufficient {
		t.Fatalf("%+v", d)
	}
}
