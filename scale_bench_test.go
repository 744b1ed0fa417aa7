package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench"
)

// BenchmarkScaleOut measures gateway throughput with one and with two `gateway serve`
// processes on one three-master Redis Cluster, driven by bench.Run (the engine of
// `gateway bench`) with the same total concurrency. Each instance gets its own load
// account (bench seeds a main account and a subaccount through that instance), so the
// trees — and their slots — differ, as they do with many tenants.
//
//	go test -run '^$' -bench ScaleOut -benchtime 1x .
//	SCALE_DURATION=10s SCALE_CONCURRENCY=128 go test -run '^$' -bench ScaleOut -benchtime 1x .
//
// It reports req/s (all answers) and admitted/s (2xx) per sub-benchmark; ns/op is not
// meaningful (one op is a whole timed run). Everything runs on one machine, so the
// instances, the cluster and the load generator share its CPUs: the ratio between the two
// figures shows how the gateway scales only when the machine has cores to spare (run the
// instances on separate hosts for a real figure). Not part of the test command.
func BenchmarkScaleOut(b *testing.B) {
	dur := 5 * time.Second
	if v := os.Getenv("SCALE_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("SCALE_DURATION: %v", err)
		}
		dur = d
	}
	conc := 64
	if v := os.Getenv("SCALE_CONCURRENCY"); v != "" {
		if _, err := fmt.Sscan(v, &conc); err != nil || conc < 2 {
			b.Fatalf("SCALE_CONCURRENCY: %q", v)
		}
	}
	bin := scBuild(b)
	nodes := redistest.StartCluster(b)
	env := map[string]string{"GATEWAY_STORE_CLUSTER": strings.Join(nodes, ","), "GATEWAY_LOG_LEVEL": "error"}
	ins := []*scInstance{scStart(b, bin, "bench0", env), scStart(b, bin, "bench1", env)}

	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			var mu sync.Mutex
			var reqs, ok int64
			var secs float64
			var wg sync.WaitGroup
			for _, in := range ins[:n] {
				wg.Go(func() {
					rep, err := bench.Run(context.Background(), bench.Options{
						Target: in.public, Operator: in.operator, OperatorToken: in.opToken,
						Concurrency: conc / n, Duration: dur, Body: []byte(bench.DefaultBody),
						Price: "0.0220", // the default call route: 0.0100 at admit, a minute at 0.0120 when the sandbox settles
					})
					if err != nil {
						b.Error(err)
						return
					}
					if rep.Money != nil && rep.Money.Exact != nil && !*rep.Money.Exact {
						b.Errorf("%s: money check failed: %+v", in.name, rep.Money)
					}
					mu.Lock()
					reqs += rep.Gateway.Requests
					ok += rep.Gateway.Success
					secs = max(secs, rep.Gateway.Duration)
					mu.Unlock()
				})
			}
			wg.Wait()
			if secs > 0 {
				b.ReportMetric(float64(reqs)/secs, "req/s")
				b.ReportMetric(float64(ok)/secs, "admitted/s")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
