package gateway

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

func basicHeader(id, tok string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+tok))
}

// BenchmarkAdmitPath: credentials, route match, cache hit, access rule and the admit script
// on a real redis-server (one round trip per op).
func BenchmarkAdmitPath(b *testing.B) {
	f := newFixture(b, nil)
	m := f.mk(nil, "1000000", testkit.Rate(1000000))
	r := f.mk(m, "", testkit.Rate(1000000))
	k := f.mk(r, "", testkit.Rate(1000000))
	g := f.gw
	var rc fasthttp.RequestCtx
	rc.Request.Header.SetMethod("POST")
	rc.Request.SetRequestURI(callPath(k))
	rc.Request.Header.Set("X-Auth-ID", r.ID)
	rc.Request.Header.Set("X-Auth-Token", r.Token)
	st := newReqState()
	once := func() {
		idx, pathID, ok := g.routes.Match(rc.Method(), rc.Path())
		if !ok {
			b.Fatal("no match")
		}
		route := g.routes.Route(idx)
		g.requestID(&rc, st)
		_, path, pos, _, apiErr := g.resolve(&rc, st, pathID)
		if apiErr != nil {
			b.Fatal(apiErr)
		}
		st.hex = st.hash.AppendHex(st.hex[:0])
		st.req = balance.AdmitRequest{Keys: path.keys, CallerPos: pos, TokenHash: st.hex,
			Permission: route.Permission, KYC: route.KYC, Price: route.Price, Route: route.Name, RequestID: st.mid}
		if err := g.store.Admit(context.Background(), &st.req, &st.dec); err != nil || !st.dec.Admitted {
			b.Fatalf("%v %+v", err, st.dec)
		}
	}
	once()
	g.cache.c.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		once()
	}
}

// BenchmarkServe: the whole handler (admit + forward to a loopback upstream), cache hit.
// The upstream is the sandbox (cheap), so the figures are the gateway's plus one upstream
// round trip: over a keep-alive connection (one request at a time on it), and pipelined
// (our own client, pipeline.go; no pipeline delay, so one request at a time measures the
// client's own cost). parallel-pipelined runs many at once, with the default delay, as
// under load.
func BenchmarkServe(b *testing.B) {
	voice, sms, stop, err := StartSandbox()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	for _, c := range []struct {
		name     string
		pipeline int
		delay    time.Duration
		parallel bool
	}{{"keepalive", 0, 0, false}, {"pipelined", 2, 0, false}, {"parallel-pipelined", 2, 50 * time.Microsecond, true}} {
		b.Run(c.name, func(b *testing.B) {
			f := newFixture(b, func(o *Options) {
				o.Upstreams = map[string]Upstream{"voice": {URL: voice}, "sms": {URL: sms, Pipeline: c.pipeline, PipelineDelay: c.delay}}
			})
			m := f.mk(nil, "1000000", testkit.Rate(1000000))
			k := f.mk(m, "", testkit.Rate(1000000))
			g := f.gw
			var tmpl fasthttp.Request
			tmpl.Header.SetMethod("POST")
			tmpl.SetRequestURI(smsPath(k))
			tmpl.Header.Set("X-Auth-ID", k.ID)
			tmpl.Header.Set("X-Auth-Token", k.Token)
			tmpl.SetBodyString(`{"src":"1","dst":"2","text":"hi"}`)
			once := func(rc *fasthttp.RequestCtx) bool {
				tmpl.CopyTo(&rc.Request)
				rc.Response.Reset()
				g.ServeFastHTTP(rc)
				if rc.Response.StatusCode() != 202 {
					b.Errorf("%d %s", rc.Response.StatusCode(), rc.Response.Body())
					return false
				}
				return true
			}
			if !once(new(fasthttp.RequestCtx)) {
				return
			}
			g.cache.c.Wait()
			b.ReportAllocs()
			b.ResetTimer()
			if c.parallel {
				b.SetParallelism(16) // 32 in flight on the 2 cores
				b.RunParallel(func(pb *testing.PB) {
					var rc fasthttp.RequestCtx
					for pb.Next() && once(&rc) {
					}
				})
				return
			}
			var rc fasthttp.RequestCtx
			for b.Loop() && once(&rc) {
			}
		})
	}
}

// BenchmarkServeSpread: the whole handler (admit + forward over keep-alive connections to
// the sandbox) with 64 requests in flight spread round robin over trees × subaccounts, each
// a subaccount sending on its own path (consecutive requests from different trees), as
// with many tenants; the account cache holds them all (account-reads/op says it did). A
// CPU profile of the timed loop alone (not the seeding), one file per sub-benchmark:
//
//	BENCH_CPUPROFILE=/tmp/spread go test -run '^$' -bench ServeSpread -benchtime 60000x ./gateway/
//	go tool pprof -top /tmp/spread-100x100.pprof
func BenchmarkServeSpread(b *testing.B) {
	voice, sms, stop, err := StartSandbox()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	ts := &timedStore{}
	f := newFixture(b, func(o *Options) {
		o.Upstreams = map[string]Upstream{"voice": {URL: voice}, "sms": {URL: sms}}
		ts.Store = o.Store
		o.Store = ts
	})
	g := f.gw
	for _, sp := range []struct{ trees, subs int }{{1, 1}, {100, 10}, {100, 100}} {
		b.Run(fmt.Sprintf("%dx%d", sp.trees, sp.subs), func(b *testing.B) {
			tmpls := make([]*fasthttp.Request, sp.trees*sp.subs)
			var wg sync.WaitGroup
			sem := make(chan struct{}, 8)
			for t := 0; t < sp.trees; t++ {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					m := testkit.NewAccount(b, f.store, nil, "1000000000", testkit.Rate(1000000))
					for s := 0; s < sp.subs; s++ {
						k := testkit.NewAccount(b, f.store, m, "", testkit.Rate(1000000))
						r := new(fasthttp.Request)
						r.Header.SetMethod("POST")
						r.SetRequestURI(smsPath(k))
						r.Header.Set("X-Auth-ID", k.ID)
						r.Header.Set("X-Auth-Token", k.Token)
						r.SetBodyString(`{"src":"1","dst":"2","text":"hi"}`)
						tmpls[s*sp.trees+t] = r
					}
				})
			}
			wg.Wait()
			once := func(rc *fasthttp.RequestCtx, tmpl *fasthttp.Request) bool {
				tmpl.CopyTo(&rc.Request)
				rc.Response.Reset()
				g.ServeFastHTTP(rc)
				if rc.Response.StatusCode() != 202 {
					b.Errorf("%d %s", rc.Response.StatusCode(), rc.Response.Body())
					return false
				}
				return true
			}
			for _, t := range tmpls { // fill the account cache
				if !once(new(fasthttp.RequestCtx), t) {
					return
				}
			}
			g.cache.c.Wait()
			// account reads in the timed loop (cache misses): none, when the cache works
			var reads atomic.Int64
			load := g.cache.load
			g.cache.load = func(ctx context.Context, id string) (*model.Account, error) {
				reads.Add(1)
				return load(ctx, id)
			}
			defer func() { g.cache.load = load }()
			var next atomic.Uint64
			var mu sync.Mutex
			var lat []time.Duration // every request's, in the handler
			ts.reset()
			rt0 := runtimeSamples()
			b.SetParallelism(32) // 64 in flight on the 2 cores
			b.ReportAllocs()
			stopProfile := profileTimed(b, fmt.Sprintf("%dx%d", sp.trees, sp.subs))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var rc fasthttp.RequestCtx
				own := make([]time.Duration, 0, b.N/32+1)
				for pb.Next() {
					t0 := time.Now()
					if !once(&rc, tmpls[int(next.Add(1)-1)%len(tmpls)]) {
						break
					}
					own = append(own, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, own...)
				mu.Unlock()
			})
			stopProfile()
			b.StopTimer()
			reportLatency(b, "", lat)
			reportLatency(b, "admit-", ts.durations())
			reportRuntime(b, rt0, runtimeSamples())
			b.ReportMetric(float64(reads.Load())/float64(b.N), "account-reads/op")
		})
	}
}

// profileTimed starts a CPU profile into $BENCH_CPUPROFILE-name.pprof when that is set, and
// returns what stops it.
func profileTimed(b *testing.B, name string) func() {
	base := os.Getenv("BENCH_CPUPROFILE")
	if base == "" {
		return func() {}
	}
	out, err := os.Create(base + "-" + name + ".pprof")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := out.Close(); err != nil {
			b.Error(err)
		}
	}
}

// timedStore records how long each admit took (the wait for its batch and the batch's round
// trip), for BenchmarkServeSpread's latency figures.
type timedStore struct {
	Store
	mu  sync.Mutex
	lat []time.Duration
}

func (s *timedStore) Admit(ctx context.Context, req *balance.AdmitRequest, dec *balance.Decision) error {
	t0 := time.Now()
	err := s.Store.Admit(ctx, req, dec)
	d := time.Since(t0)
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.mu.Unlock()
	return err
}

func (s *timedStore) reset() {
	s.mu.Lock()
	s.lat = s.lat[:0]
	s.mu.Unlock()
}

func (s *timedStore) durations() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.lat...)
}

// reportLatency reports the median, 99th percentile and maximum of lat in µs.
func reportLatency(b *testing.B, prefix string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(at(0.5), prefix+"p50-µs")
	b.ReportMetric(at(0.99), prefix+"p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), prefix+"max-µs")
}

// The Go runtime's own account of waits: how long runnable goroutines waited for a CPU
// (sched) and how long the world was stopped for the GC (gc-pause), and GC cycles.
var runtimeNames = []string{"/sched/latencies:seconds", "/sched/pauses/total/gc:seconds", "/gc/cycles/total:gc-cycles"}

func runtimeSamples() []rtmetrics.Sample {
	ss := make([]rtmetrics.Sample, len(runtimeNames))
	for i, n := range runtimeNames {
		ss[i].Name = n
	}
	rtmetrics.Read(ss)
	return ss
}

// reportRuntime reports the 99th percentile of the scheduling latencies and GC pauses
// between two readings (µs), and GC cycles per 1,000 requests.
func reportRuntime(b *testing.B, before, after []rtmetrics.Sample) {
	for i, label := range []string{"sched-p99-µs", "gc-pause-p99-µs"} {
		h0, h1 := before[i].Value.Float64Histogram(), after[i].Value.Float64Histogram()
		var total uint64
		d := make([]uint64, len(h1.Counts))
		for j := range h1.Counts {
			d[j] = h1.Counts[j] - h0.Counts[j]
			total += d[j]
		}
		if total == 0 {
			continue
		}
		var seen uint64
		for j, c := range d {
			seen += c
			if seen*100 >= total*99 {
				b.ReportMetric(h1.Buckets[j+1]*1e6, label) // the bucket's upper bound
				break
			}
		}
	}
	b.ReportMetric(float64(after[2].Value.Uint64()-before[2].Value.Uint64())*1000/float64(b.N), "gc/1k-req")
}
