package balance_test

import (
	"context"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// BenchmarkAdmitParallel measures admits per second with many in flight at once (as under
// load), against a real redis-server, with and without batching, on a subaccount under a
// main account (two rate limits, a debit). Compare the sub-benchmarks' ns/op: it is wall
// time per admit across all goroutines, so lower means more admits per second.
//
//	go test -run '^$' -bench AdmitParallel -benchmem ./balance/
func BenchmarkAdmitParallel(b *testing.B) {
	addr := redistest.Start(b)
	for _, bc := range []struct {
		name  string
		batch bool
	}{{"batched", true}, {"one-by-one", false}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := balance.Open(context.Background(), balance.Options{Redis: "redis://" + addr + "/0", NoAdmitBatching: !bc.batch, PoolSize: 64})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			m := testkit.NewAccount(b, s, nil, "1000000000.00", testkit.Rate(1_000_000))
			k := testkit.NewAccount(b, s, m, "", testkit.Rate(1_000_000))
			b.SetParallelism(32) // 32 × GOMAXPROCS goroutines
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var d balance.Decision
				for pb.Next() {
					if err := s.Admit(context.Background(), admReq(k, k, model.PermCalls, false, "0.0001"), &d); err != nil || !d.Admitted {
						b.Errorf("admit: %v %+v", err, d)
						return
					}
				}
			})
		})
	}
}
