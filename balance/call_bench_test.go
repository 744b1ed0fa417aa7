package balance_test

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// scriptUsec is the time Redis spent running scripts since its stats were last reset, in
// µs, from INFO commandstats (EVALSHA and EVAL).
func scriptUsec(b *testing.B, s *balance.Store) int64 {
	info := s.Client().Info(context.Background(), "commandstats").Val()
	var n int64
	for _, cmd := range []string{"cmdstat_evalsha:", "cmdstat_eval:"} {
		if i := strings.Index(info, cmd); i >= 0 {
			if j := strings.Index(info[i:], "usec="); j >= 0 {
				v := info[i+j+5:]
				x, _ := strconv.ParseInt(v[:strings.IndexByte(v, ',')], 10, 64)
				n += x
			}
		}
	}
	return n
}

// alternate runs b.N rounds of side(false) and side(true), their order alternating from one
// round to the next so that the machine's drift falls on both, and answers the total time of
// each side and the median of the rounds' ratios (true over false).
func alternate(b *testing.B, side func(bool) time.Duration) (off, on time.Duration, median float64) {
	ratios := make([]float64, 0, b.N)
	for i := range b.N {
		var p, c time.Duration
		if i%2 == 0 {
			p = side(false)
			c = side(true)
		} else {
			c = side(true)
			p = side(false)
		}
		off, on = off+p, on+c
		ratios = append(ratios, float64(c)/float64(p))
	}
	sort.Float64s(ratios)
	return off, on, ratios[len(ratios)/2]
}

// BenchmarkAdmitCall measures what opening a call costs the store next to a plain admit:
// batched admits with many in flight (as under load), against a real redis-server, on a
// subaccount under a main account, both with max_concurrent_calls and calls_per_second set
// (so every check runs) but never reached. The call side opens a hold per admit (CPS, slots,
// affordability after held, the hold record, held, the tree's open holds); its holds are
// voided after each round, outside the measurement, so the slots stay at one round's size.
// Each iteration is one round of both sides, 16,000 admits each, in alternating order:
//
//	go test -run '^$' -bench AdmitCall$ -benchtime 8x ./balance/
//
// call/plain is the ratio of the wall time per admit, redis-us/… Redis's own time in the
// admit script per admit (INFO commandstats), redis-script-time-ratio their ratio, and
// redis-us/hold-end Redis's time per Void of a hold (hold_end).
func BenchmarkAdmitCall(b *testing.B) {
	ctx := context.Background()
	s, err := balance.Open(ctx, balance.Options{Redis: "redis://" + redistest.Start(b) + "/0", PoolSize: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	lim := []testkit.Option{testkit.Rate(1_000_000), testkit.MaxCalls(1_000_000), testkit.CPS(1_000_000)}
	m := testkit.NewAccount(b, s, nil, "1000000000.00", lim...)
	k := testkit.NewAccount(b, s, m, "", lim...)
	const workers, perRound = 64, 16000
	var redisUsec [2]int64
	var endUsec int64
	run := func(f func(w int)) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); f(w) }()
		}
		wg.Wait()
	}
	side := func(call bool) time.Duration {
		if err := s.Client().ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		holds := make([][]string, workers)
		start := time.Now()
		run(func(w int) {
			var d balance.Decision
			for range perRound / workers {
				req := admReq(k, k, model.PermCalls, false, "0.0001")
				if call {
					req = callReq(k, k, "0.0001", testCallSpec)
				}
				if err := s.Admit(ctx, req, &d); err != nil || !d.Admitted {
					b.Errorf("admit: %v %+v", err, d)
					return
				}
				if call {
					holds[w] = append(holds[w], req.Call.HoldID)
				}
			}
		})
		took := time.Since(start)
		i := 0
		if call {
			i = 1
		}
		redisUsec[i] += scriptUsec(b, s)
		if call {
			if err := s.Client().ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			run(func(w int) {
				for _, id := range holds[w] {
					if _, _, err := s.EndHold(ctx, id, balance.Void, 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			endUsec += scriptUsec(b, s)
		}
		return took
	}
	side(false) // warm up: connections, the scripts loaded
	side(true)
	redisUsec, endUsec = [2]int64{}, 0
	b.ResetTimer()
	plain, calls, median := alternate(b, side)
	n := float64(b.N * perRound)
	b.ReportMetric(float64(plain.Nanoseconds())/n, "ns/plain-admit")
	b.ReportMetric(float64(calls.Nanoseconds())/n, "ns/call-admit")
	b.ReportMetric(float64(calls)/float64(plain), "call/plain")
	b.ReportMetric(median, "median-round-ratio")
	b.ReportMetric(float64(redisUsec[0])/n, "redis-us/plain-admit")
	b.ReportMetric(float64(redisUsec[1])/n, "redis-us/call-admit")
	b.ReportMetric(float64(redisUsec[1])/float64(redisUsec[0]), "redis-script-time-ratio")
	b.ReportMetric(float64(endUsec)/n, "redis-us/hold-end")
}
