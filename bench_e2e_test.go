package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/bench"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// TestBenchAgainstRealGateway runs `gateway bench` briefly (a few hundred requests) against
// a real gateway — real Redis, the sandbox upstreams, the management and operator APIs —
// with --direct, and checks the report: every request answered, percentiles in order, the
// money exact (charged = admitted × price), and the gateway/direct ratio present.
func TestBenchAgainstRealGateway(t *testing.T) {
	voice, sms, stopSandbox, err := gateway.StartSandbox()
	if err != nil {
		t.Fatal(err)
	}
	defer stopSandbox()
	stk := startStack(t, []policy.RouteSpec{
		{Name: "call.create", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", KYC: true, Price: "0.0100"},
		{Name: "message.create", Method: "POST", Path: "/v1/Account/{auth_id}/Message/", Upstream: "sms", Permission: "sms", Price: "0.0050"},
	}, map[string]gateway.Upstream{"voice": {URL: voice}, "sms": {URL: sms}})

	var out bytes.Buffer
	code := bench.Main([]string{"--target", "http://" + stk.pub.Addr, "--operator", "http://" + stk.ops.Addr,
		"--operator-token", stk.opToken, "-c", "16", "-n", "300", "--timeout", "10s", "--price", "0.01",
		"--direct", voice, "--json", "--quiet"}, &out, &out)
	if code != 0 {
		t.Fatalf("bench exited %d:\n%s", code, out.String())
	}
	var rep struct {
		Gateway struct {
			Requests, Success, Errors int64
			Status                    map[string]int64
			Latency                   struct {
				P50, P90, P99 float64
				P999          float64 `json:"p99_9"`
			} `json:"latency_ms"`
		}
		Direct *struct{ Requests, Success int64 }
		Ratio  *struct{ Throughput, P99 float64 }
		Money  *struct {
			Charged, Expected string
			Admitted          int64
			Exact             *bool
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	g := rep.Gateway
	if g.Requests != 300 || g.Success != 300 || g.Errors != 0 || g.Status["201"] != 300 {
		t.Fatalf("gateway phase: %+v", g)
	}
	if !(0 < g.Latency.P50 && g.Latency.P50 <= g.Latency.P90 && g.Latency.P90 <= g.Latency.P99 && g.Latency.P99 <= g.Latency.P999) {
		t.Fatalf("percentiles out of order: %+v", g.Latency)
	}
	if rep.Money == nil || rep.Money.Exact == nil || !*rep.Money.Exact || rep.Money.Admitted != 300 || rep.Money.Charged != "3.00" {
		t.Fatalf("money: %+v", rep.Money)
	}
	if rep.Direct == nil || rep.Direct.Requests != 300 || rep.Direct.Success != 300 || rep.Ratio == nil || rep.Ratio.Throughput <= 0 {
		t.Fatalf("direct phase / ratio: %+v %+v", rep.Direct, rep.Ratio)
	}
}

// TestBenchTenantsRoundRobin seeds 3 main accounts × 4 subaccounts through the operator and
// public APIs of a real gateway (real Redis, the sandbox voice upstream as a plain keep-alive
// backend, as most backends are), spreads 120 requests round robin over the 12 subaccounts —
// each one's own usage counters must say 10 — and checks the money summed over the three
// billing accounts, the bare proxy and direct phases, and the CPU figures: the gateway's
// process (this one, found by its listening port) and Redis's script calls, present in the
// gateway phase and absent from the others.
func TestBenchTenantsRoundRobin(t *testing.T) {
	voice, sms, stopSandbox, err := gateway.StartSandbox()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopSandbox)
	// gateway.Upstream's zero Pipeline: plain keep-alive.
	stk := startStack(t, []policy.RouteSpec{{Name: "voice.call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/",
		Upstream: "voice", Permission: "calls", Price: "0.0100"}},
		map[string]gateway.Upstream{"voice": {URL: voice}, "sms": {URL: sms}})
	h, err := bench.BareProxy(voice, 64, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bare := "http://" + serveOn(t, &fasthttp.Server{Handler: h}).Addr
	redisAddr := stk.store.Client().(*redis.Client).Options().Addr

	rep, err := bench.Run(context.Background(), bench.Options{
		Target: "http://" + stk.pub.Addr, Operator: "http://" + stk.ops.Addr, OperatorToken: stk.opToken,
		Tenants: 3, Subs: 4, Requests: 120, Concurrency: 8, Price: "0.01",
		Bare: bare, Direct: voice, Redis: "redis://" + redisAddr + "/0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Seeded; s == nil || s.Tenants != 3 || s.Subs != 4 || s.Accounts != 12 {
		t.Fatalf("seeded %+v", rep.Seeded)
	}
	if g := rep.Gateway; g.Requests != 120 || g.Success != 120 || g.Status[201] != 120 {
		t.Fatalf("gateway phase: requests %d, 2xx %d, status %v (first error %q)", g.Requests, g.Success, g.Status, g.FirstError)
	}
	if m := rep.Money; m == nil || m.Exact == nil || !*m.Exact || m.Admitted != 120 || m.Charged != "1.20" ||
		m.BillingAuthID != "" || m.BillingAccounts != 3 || m.BalanceBefore != "2999999.88" { // less the warm-up's 12 × 0.01
		t.Fatalf("money %+v; notes %v", rep.Money, rep.Notes)
	}
	if len(rep.Notes) != 1 || !strings.HasPrefix(rep.Notes[0], "warm-up: 12 requests") {
		t.Fatalf("notes %v, want the warm-up's", rep.Notes)
	}

	ctx := context.Background()
	mains, err := stk.store.Mains(ctx)
	if err != nil || len(mains) != 3 {
		t.Fatalf("mains %v, %v", mains, err)
	}
	today := time.Now().UTC().Format("2006-01-02")
	subs := 0
	for _, ma := range mains {
		kids, err := stk.store.Children(ctx, ma, ma)
		if err != nil || len(kids) != 4 {
			t.Fatalf("children of %s: %v, %v", ma, kids, err)
		}
		for _, sa := range kids {
			us, err := stk.store.UsageOf(ctx, ma, []string{sa}, today, today)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, u := range us {
				n += u.Count
			}
			if n != 11 {
				t.Errorf("subaccount %s of %s: %d requests, want 11 (the warm-up's, and 120 round robin over 12)", sa, ma, n)
			}
			subs++
		}
	}
	if subs != 12 {
		t.Errorf("%d subaccounts, want 12", subs)
	}

	for _, p := range []*bench.Phase{rep.Bare, rep.Direct} {
		if p == nil || p.Requests != 120 || p.Status[201] != 120 {
			t.Fatalf("bare or direct phase: %+v", p)
		}
		if p.Redis == nil || p.Redis.ScriptCalls != 0 {
			t.Errorf("%s phase: Redis %+v, want no script calls", p.Name, p.Redis)
		}
	}
	if rep.BareRatio == nil || rep.BareRatio.Throughput <= 0 || rep.Ratio == nil || rep.Ratio.Throughput <= 0 {
		t.Errorf("ratios: bare %+v, direct %+v", rep.BareRatio, rep.Ratio)
	}
	r := rep.Gateway.Redis
	if r == nil || r.ScriptCalls < 1 || r.ScriptsPerRequest <= 0 || r.ScriptMicrosPerCall <= 0 || r.Seconds < 0 {
		t.Errorf("gateway phase: Redis %+v, want script calls", r)
	}
	if runtime.GOOS == "linux" {
		// The gateway listens in this process; the bare proxy too, on another port.
		var names []string
		for _, pc := range rep.Gateway.Processes {
			names = append(names, pc.Name)
			if pc.PID != os.Getpid() || pc.Seconds < 0 {
				t.Errorf("process %+v, want pid %d", pc, os.Getpid())
			}
		}
		if !slices.Equal(names, []string{"gateway", "bare proxy"}) {
			t.Errorf("metered processes %v", names)
		}
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 main accounts", "× 4 subaccounts = 12 load accounts", "gateway/bare", "gateway/direct",
		"cpu/req Redis", "script µs/call", "summed over 3 billing accounts", "EXACT"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

// TestBenchSeedOnlyMemory: --seed-only seeds 2 × 3 accounts, sends no load, and reports how
// much Redis's used_memory grew per account.
func TestBenchSeedOnlyMemory(t *testing.T) {
	stk := startSandboxStack(t, stackOptions{})
	redisAddr := stk.store.Client().(*redis.Client).Options().Addr
	var out bytes.Buffer
	code := bench.Main([]string{"--target", "http://" + stk.pub.Addr, "--operator", "http://" + stk.ops.Addr,
		"--operator-token", stk.opToken, "--tenants", "2", "--subs", "3", "--seed-only",
		"--redis", "redis://" + redisAddr + "/0", "--json", "--quiet"}, &out, &out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	m := rep.Memory
	if m == nil || m.Accounts != 8 || m.Subaccounts != 6 || m.After <= m.Before || m.PerAccount != float64(m.After-m.Before)/8 {
		t.Fatalf("memory %+v", m)
	}
	if rep.Gateway.Requests != 0 || rep.Money != nil {
		t.Errorf("--seed-only sent load: %+v, money %+v", rep.Gateway, rep.Money)
	}
	mains, err := stk.store.Mains(context.Background())
	if err != nil || len(mains) != 2 {
		t.Fatalf("mains %v, %v", mains, err)
	}
}

// TestBenchDefaultRoutesCallsAndNumbers: `gateway bench` against the default routes (placing
// a call is a call route that needs a caller-ID number) and the sandbox voice backend, which
// settles each call a second after it answered. The seeding gives each of the 2 × 3
// subaccounts a number of its own and each sends it as "from" (else 403 NUMBER_NOT_OWNED),
// and the money is exact once the calls have ended: 0.0100 at admit and one minute (0.0120)
// at the settle, 0.0220 a call.
func TestBenchDefaultRoutesCallsAndNumbers(t *testing.T) {
	sb, err := gateway.StartSandboxCalls(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Stop)
	routes := config.DefaultRoutes()
	stk := startStackWith(t, routeSpecs(routes), map[string]gateway.Upstream{"voice": {URL: sb.VoiceURL}, "sms": {URL: sb.SMSURL}},
		stackOptions{calls: callSpecs(routes)})
	sb.SandboxCalls("http://"+stk.ops.Addr, stk.opToken)

	rep, err := bench.Run(context.Background(), bench.Options{
		Target: "http://" + stk.pub.Addr, Operator: "http://" + stk.ops.Addr, OperatorToken: stk.opToken,
		Tenants: 2, Subs: 3, Requests: 60, Concurrency: 6, Price: "0.022", Body: []byte(bench.DefaultBody),
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := rep.Gateway; g.Requests != 60 || g.Success != 60 || g.Status[201] != 60 {
		t.Fatalf("gateway phase: requests %d, 2xx %d, status %v (first error %q)", g.Requests, g.Success, g.Status, g.FirstError)
	}
	if m := rep.Money; m == nil || m.Exact == nil || !*m.Exact || m.Charged != "1.32" || m.BillingAccounts != 2 {
		t.Fatalf("money %+v; notes %v", rep.Money, rep.Notes)
	}
	if len(rep.Notes) != 1 || !strings.HasPrefix(rep.Notes[0], "warm-up: 6 requests") { // one per subaccount
		t.Errorf("notes %v", rep.Notes)
	}
	ctx := context.Background()
	mains, err := stk.store.Mains(ctx)
	if err != nil || len(mains) != 2 {
		t.Fatalf("mains %v, %v", mains, err)
	}
	// Every subaccount owns exactly one number, and its main account none left over.
	for _, ma := range mains {
		kids, err := stk.store.Children(ctx, ma, ma)
		if err != nil || len(kids) != 3 {
			t.Fatalf("children of %s: %v, %v", ma, kids, err)
		}
		for _, id := range append(kids, ma) {
			ns, err := stk.store.NumbersOf(ctx, ma, []string{id})
			if want := 1 - btoi(id == ma); err != nil || len(ns) != want {
				t.Errorf("%s owns %d numbers (%v), want %d", id, len(ns), err, want)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
