package balance_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// BenchmarkAdmitSpread measures what an admit costs Redis when the admits in flight come
// from many accounts and trees, as with many tenants: batched admits (64 in flight) on a
// real redis-server, spread round robin over trees × subaccounts (consecutive admits come
// from different trees, then different subaccounts of each), each a subaccount calling on
// itself under its main account (two rate limits, a debit, a usage counter, a marker).
// Besides ns/op (wall time per admit with 64 in flight) it reports, from Redis's own
// counters over the timed loop: script-µs/admit, the admit script's time in Redis (INFO
// commandstats, EVALSHA) per admit; redis-cpu-µs/admit, Redis's process CPU (INFO cpu, user
// + sys) per admit; admits/call, the mean batch size.
//
//	go test -run '^$' -bench AdmitSpread -benchtime 20000x -count 5 ./balance/
func BenchmarkAdmitSpread(b *testing.B) {
	s, rdb := benchStore(b)
	for _, sp := range spreadShapes {
		b.Run(spreadName(sp.trees, sp.subs, sp.own), func(b *testing.B) {
			reqs := spreadRequests(b, s, sp.trees, sp.subs, sp.own)
			before := redisCounters(b, rdb)
			runSpread(b, s, reqs)
			after := redisCounters(b, rdb)
			n := float64(b.N)
			b.ReportMetric((after.scriptUs-before.scriptUs)/n, "script-µs/admit")
			b.ReportMetric((after.cpuUs-before.cpuUs)/n, "redis-cpu-µs/admit")
			if calls := after.calls - before.calls; calls > 0 {
				b.ReportMetric(n/calls, "admits/call")
			}
		})
	}
}

// benchStore starts a redis-server for b and answers a store on it (64 connections: as many
// as admits in flight) and a plain client of the same server; both close when b ends.
func benchStore(b *testing.B) (*balance.Store, *redis.Client) {
	b.Helper()
	addr := redistest.Start(b)
	s, err := balance.Open(context.Background(), balance.Options{Redis: "redis://" + addr + "/0", PoolSize: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { rdb.Close() })
	return s, rdb
}

// spreadShapes are the loads of BenchmarkAdmitSpread and BenchmarkAdmitPhases: trees main
// accounts × subs subaccounts, own = the subaccounts keep their own balance.
var spreadShapes = []struct {
	trees, subs int
	own         bool
}{{1, 1, false}, {100, 10, false}, {100, 100, false}, {100, 100, true}}

func spreadName(trees, subs int, own bool) string {
	name := fmt.Sprintf("%dx%d", trees, subs)
	if own {
		name += "own"
	}
	return name
}

// runSpread times b.N admits of reqs, round robin, 64 in flight.
func runSpread(b *testing.B, s *balance.Store, reqs []*balance.AdmitRequest) {
	var next atomic.Uint64
	b.SetParallelism(32) // 64 in flight on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var d balance.Decision
		var r balance.AdmitRequest
		for pb.Next() {
			r = *reqs[int(next.Add(1)-1)%len(reqs)]
			r.RequestID = balance.AppendMarkerID(r.RequestID[:0:0])
			if err := s.Admit(context.Background(), &r, &d); err != nil || !d.Admitted {
				b.Errorf("admit: %v %+v", err, d)
				return
			}
		}
	})
	b.StopTimer()
}

// BenchmarkAdmitPhases is BenchmarkAdmitSpread with the admit script's phases timed: the
// store runs the admit script with a probe at each '-- phase: NAME' line (AdmitPhasesBody,
// Redis TIME and INCRBY; their own cost, two calls a phase per batch, is in the figures), and
// it reports the µs per admit of each phase, and as other-µs/admit the rest of the script's
// time in Redis (setting up KEYS and ARGV before the first line, the answer after the last):
// where an admit's time in Redis goes, by part of the script.
//
//	go test -run '^$' -bench AdmitPhases -benchtime 20000x ./balance/
func BenchmarkAdmitPhases(b *testing.B) {
	s, rdb := benchStore(b)
	body, phases := balance.AdmitPhasesBody()
	balance.SetAdmitScript(s, body)
	ctx := context.Background()
	for _, sp := range spreadShapes {
		b.Run(spreadName(sp.trees, sp.subs, sp.own), func(b *testing.B) {
			reqs := spreadRequests(b, s, sp.trees, sp.subs, sp.own)
			for _, p := range phases {
				rdb.Del(ctx, "phase:"+p)
			}
			before := redisCounters(b, rdb)
			runSpread(b, s, reqs)
			after := redisCounters(b, rdb)
			n := float64(b.N)
			rest := after.scriptUs - before.scriptUs
			for _, p := range phases {
				us, err := rdb.Get(ctx, "phase:"+p).Float64()
				if err != nil {
					b.Fatalf("phase %s: %v", p, err)
				}
				rest -= us
				b.ReportMetric(us/n, p+"-µs/admit")
			}
			b.ReportMetric(rest/n, "other-µs/admit")
		})
	}
}

// spreadRequests seeds trees main accounts with subs subaccounts each (in parallel) and
// returns one admit request per subaccount, ordered so that consecutive ones are of
// different trees: request i is subaccount i/trees of tree i%trees.
// spreadRequests seeds trees main accounts with subs subaccounts each and answers one admit
// per subaccount, in the order that spreads them over the trees. With own the subaccounts
// keep their own balance and their requests say so (AdmitRequest.PathPays, as the gateway
// sets it from its cache); else their main account pays.
func spreadRequests(b *testing.B, s *balance.Store, trees, subs int, own bool) []*balance.AdmitRequest {
	b.Helper()
	reqs := make([]*balance.AdmitRequest, trees*subs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for t := 0; t < trees; t++ {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m := testkit.NewAccount(b, s, nil, "1000000000.00", testkit.Rate(1_000_000))
			for k := 0; k < subs; k++ {
				credit, opts := "", []testkit.Option{testkit.Rate(1_000_000)}
				if own {
					credit, opts = "1000000.00", append(opts, testkit.Own())
				}
				sa := testkit.NewAccount(b, s, m, credit, opts...)
				r := admReq(sa, sa, model.PermCalls, false, "0.0001")
				r.PathPays = own
				reqs[k*trees+t] = r
			}
		})
	}
	wg.Wait()
	return reqs
}

type redisCounts struct{ scriptUs, calls, cpuUs float64 }

// redisCounters reads the admit script's total time and calls (EVALSHA) and Redis's CPU
// time, all in µs.
func redisCounters(b *testing.B, rdb *redis.Client) redisCounts {
	b.Helper()
	ctx := context.Background()
	var c redisCounts
	stats, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(stats, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				c.calls = f
			case "usec":
				c.scriptUs = f
			}
		}
	}
	cpu, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(cpu, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			c.cpuUs += f * 1e6
		}
	}
	return c
}
