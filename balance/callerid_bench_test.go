package balance_test

import (
	"context"
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

// BenchmarkAdmitCallerID measures what the caller-ID check costs the admit: batched admits
// with many in flight (as under load), against a real redis-server, on a subaccount under a
// main account, with and without a caller-ID number the subaccount owns. Each iteration is
// one round of both sides, 16,000 admits each, in alternating order; the figures are over all
// rounds of the one run, so the machine's drift hits both sides alike:
//
//	go test -run '^$' -bench AdmitCallerID -benchtime 8x ./balance/
//
// caller_id/plain is the ratio of the time per admit over all rounds (1.00 = free), and
// median-round-ratio the median of the rounds' ratios (steadier when one round was slowed),
// redis-script-time-ratio the ratio of the time Redis spent in the admit script.
func BenchmarkAdmitCallerID(b *testing.B) {
	ctx := context.Background()
	s, err := balance.Open(ctx, balance.Options{Redis: "redis://" + redistest.Start(b) + "/0", PoolSize: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := testkit.NewAccount(b, s, nil, "1000000000.00", testkit.Rate(1_000_000))
	k := testkit.NewAccount(b, s, m, "", testkit.Rate(1_000_000))
	const number = "+14155550100"
	if _, err := s.AddNumber(ctx, m.ID, number); err != nil {
		b.Fatal(err)
	}
	if _, err := s.MoveNumber(ctx, m.Root, m.ID, number, k.ID); err != nil {
		b.Fatal(err)
	}
	const workers, perRound = 64, 16000
	// Redis's own time in the admit script, per side (INFO commandstats): less shaken by the
	// load of a shared machine than wall time.
	var redisUsec [2]int64
	side := func(cid bool) time.Duration {
		if err := s.Client().ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		defer func() {
			info := s.Client().Info(ctx, "commandstats").Val()
			for _, cmd := range []string{"cmdstat_evalsha:", "cmdstat_eval:"} {
				if i := strings.Index(info, cmd); i >= 0 {
					if j := strings.Index(info[i:], "usec="); j >= 0 {
						v := info[i+j+5:]
						n, _ := strconv.ParseInt(v[:strings.IndexByte(v, ',')], 10, 64)
						if cid {
							redisUsec[1] += n
						} else {
							redisUsec[0] += n
						}
					}
				}
			}
		}()
		start := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var d balance.Decision
				for range perRound / workers {
					req := admReq(k, k, model.PermCalls, false, "0.0001")
					if cid {
						req.CallerID = []byte(number)
					}
					if err := s.Admit(ctx, req, &d); err != nil || !d.Admitted {
						b.Errorf("admit: %v %+v", err, d)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	side(false) // warm up: connections, the script loaded
	side(true)
	redisUsec = [2]int64{}
	b.ResetTimer()
	plain, withCID, median := alternate(b, side)
	n := float64(b.N * perRound)
	b.ReportMetric(float64(plain.Nanoseconds())/n, "ns/plain-admit")
	b.ReportMetric(float64(withCID.Nanoseconds())/n, "ns/caller_id-admit")
	b.ReportMetric(float64(withCID)/float64(plain), "caller_id/plain")
	b.ReportMetric(median, "median-round-ratio")
	b.ReportMetric(float64(redisUsec[1])/float64(redisUsec[0]), "redis-script-time-ratio")
}
