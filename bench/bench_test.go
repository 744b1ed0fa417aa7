package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// checkPhase asserts what must hold of any phase: counts add up, percentiles ordered.
func checkPhase(t *testing.T, p *Phase, wantRequests int64) {
	t.Helper()
	if p.Requests != wantRequests {
		t.Errorf("%s: requests %d, want %d", p.Name, p.Requests, wantRequests)
	}
	var byStatus, ok2xx int64
	for code, n := range p.Status {
		byStatus += n
		if code >= 200 && code < 300 {
			ok2xx += n
		}
	}
	var byKind int64
	for _, n := range p.ErrorKinds {
		byKind += n
	}
	if byStatus+p.Errors != p.Requests || byKind != p.Errors || ok2xx != p.Success {
		t.Errorf("%s: status sum %d + errors %d (kinds %d) != requests %d, or 2xx %d != success %d",
			p.Name, byStatus, p.Errors, byKind, p.Requests, ok2xx, p.Success)
	}
	if p.Hist != nil && p.Hist.Count() != uint64(byStatus) {
		t.Errorf("%s: histogram holds %d latencies, want one per response (%d)", p.Name, p.Hist.Count(), byStatus)
	}
	l := p.Latency
	if byStatus > 0 && !(0 <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max && l.Mean <= l.Max) {
		t.Errorf("%s: latencies out of order: %+v", p.Name, l)
	}
	if p.Duration <= 0 || (p.Requests > 0 && p.Throughput <= 0) {
		t.Errorf("%s: duration %v, throughput %v", p.Name, p.Duration, p.Throughput)
	}
}

func TestMainJSONSeededWithDirect(t *testing.T) {
	fg := newFakeGateway(t)
	fg.refuseEvery = 10 // 30 of 300 get 429, uncharged
	gw := serve(t, fg.handle)
	var up directUpstream
	direct := serve(t, up.handle)

	var stdout, stderr bytes.Buffer
	code := Main([]string{"--target", gw, "--operator", gw, "--operator-token", fg.token,
		"-n", "300", "-c", "8", "--direct", direct, "--price", "0.01", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("--json must keep stderr free of progress, got:\n%s", stderr.String())
	}
	var r Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, stdout.String())
	}
	checkPhase(t, &r.Gateway, 300)
	if r.Gateway.Status[201] != 270 || r.Gateway.Status[429] != 30 || r.Gateway.Success != 270 {
		t.Errorf("gateway status %v, success %d; want 270×201, 30×429", r.Gateway.Status, r.Gateway.Success)
	}
	if fg.calls != 300 || fg.bodies != 300 {
		t.Errorf("fake gateway saw %d calls, %d with the default body (%q)", fg.calls, fg.bodies, fg.lastBody)
	}
	if r.Seeded == nil || !strings.HasPrefix(r.Seeded.Main.AuthID, "MA_") || !strings.HasPrefix(r.Seeded.Sub.AuthID, "SA_") || r.AuthID != r.Seeded.Sub.AuthID {
		t.Fatalf("seeded accounts: %+v, load ran as %s", r.Seeded, r.AuthID)
	}
	if r.Path != "/v1/Account/"+r.AuthID+"/Call/" {
		t.Errorf("path %q", r.Path)
	}
	m := r.Money
	if m == nil {
		t.Fatalf("no money check; notes %v", r.Notes)
	}
	if m.BillingAuthID != r.Seeded.Main.AuthID || m.BalanceBefore != "1000000.00" || m.BalanceAfter != "999997.30" ||
		m.Charged != "2.70" || m.Admitted != 270 || m.Price != "0.01" || m.Expected != "2.70" ||
		m.Exact == nil || !*m.Exact || m.PriceInferred {
		t.Errorf("money %+v", *m)
	}
	if r.Direct == nil || r.Ratio == nil {
		t.Fatal("--direct: no direct phase or no ratio")
	}
	checkPhase(t, r.Direct, 300)
	if r.Direct.Status[201] != 300 || up.count != 300 || up.paths["POST "+r.Path] != 300 {
		t.Errorf("direct: status %v, upstream saw %d requests on %v", r.Direct.Status, up.count, up.paths)
	}
	if r.Ratio.Throughput <= 0 || r.Ratio.P99 <= 0 {
		t.Errorf("ratio %+v", *r.Ratio)
	}
	// stable field names
	var raw map[string]any
	_ = json.Unmarshal(stdout.Bytes(), &raw)
	for _, k := range []string{"gateway", "direct", "ratio", "money", "seeded", "concurrency", "auth_id"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	g := raw["gateway"].(map[string]any)
	for _, k := range []string{"requests", "success", "errors", "duration_s", "throughput_rps", "latency_ms", "status"} {
		if _, ok := g[k]; !ok {
			t.Errorf("JSON gateway lacks %q", k)
		}
	}
	for id, tok := range fg.tokens {
		if strings.Contains(stdout.String(), tok) {
			t.Errorf("the report carries the auth token of %s", id)
		}
	}
}

func TestMainTextGivenCredentialsInferredPrice(t *testing.T) {
	fg := newFakeGateway(t)
	fg.price = 12500 // 0.0125
	gw := serve(t, fg.handle)
	fg.mu.Lock()
	ma, _ := fg.newID("MA_")
	fg.balances[ma] = 5_000_000
	sa, tok := fg.newID("SA_")
	fg.parent[sa] = ma
	fg.numbers["+14155550100"] = sa // the given account's number, found for the default body
	fg.mu.Unlock()
	var up directUpstream
	direct := serve(t, up.handle)

	var stdout, stderr bytes.Buffer
	code := Main([]string{"--target", gw, "--operator", closedURL(t), "--auth-id", sa, "--auth-token", tok,
		"-n", "200", "-c", "4", "--direct", direct, "--quiet"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("--quiet: stderr %q", stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"as " + sa, "requests", "200", "status 201", "latency p99.9", "gateway/direct",
		"billing account " + ma, "balance before", "5.00", "2.50", "0.0125", "inferred",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "seeded") || fg.seq != 2 {
		t.Errorf("given credentials must not seed:\n%s", out)
	}
}

func TestMainWrongPrice(t *testing.T) {
	fg := newFakeGateway(t)
	gw := serve(t, fg.handle)
	var stdout, stderr bytes.Buffer
	code := Main([]string{"--target", gw, "--operator", gw, "--operator-token", fg.token,
		"-n", "50", "-c", "2", "--price", "0.02"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "money mismatch") || !strings.Contains(stdout.String(), "MISMATCH") {
		t.Errorf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}

func TestRunCancelReturnsPartialReport(t *testing.T) {
	fg := newFakeGateway(t)
	gw := serve(t, fg.handle)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fg.onCall = func(n int) {
		if n == 40 {
			cancel()
		}
	}
	// No count bound and an hour of time: only the cancel can end it.
	r, err := Run(ctx, Options{Target: gw, Operator: gw, OperatorToken: fg.token, Concurrency: 4, Duration: 3600e9})
	if !errors.Is(err, context.Canceled) || r == nil {
		t.Fatalf("Run = %v, %v; want a partial report and context.Canceled", r, err)
	}
	if r.Gateway.Requests < 40 {
		t.Errorf("requests %d, want at least the 40 before the cancel", r.Gateway.Requests)
	}
	if r.Money == nil || r.Money.Admitted != r.Gateway.Success || r.Direct != nil {
		t.Errorf("after a cancel: money %+v, direct %v; want the money checked and no direct phase", r.Money, r.Direct)
	}
	checkPhase(t, &r.Gateway, r.Gateway.Requests)
}

func TestTransportErrorsAreCounted(t *testing.T) {
	fg := newFakeGateway(t)
	gw := serve(t, fg.handle)
	r, err := Run(context.Background(), Options{Target: gw, Operator: gw, OperatorToken: fg.token,
		Concurrency: 3, Requests: 30, Direct: closedURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	checkPhase(t, &r.Gateway, 30)
	checkPhase(t, r.Direct, 30)
	if r.Direct.Errors != 30 || r.Direct.ErrorKinds["dial"] != 30 || r.Direct.FirstError == "" {
		t.Errorf("direct to a closed port: errors %d, kinds %v, first %q", r.Direct.Errors, r.Direct.ErrorKinds, r.Direct.FirstError)
	}
	if r.Ratio == nil || r.Ratio.P99 != 0 {
		t.Errorf("ratio with no direct latencies: %+v", r.Ratio)
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "error dial") {
		t.Errorf("text report: %v\n%s", err, buf.String())
	}
}

func TestSeedingErrors(t *testing.T) {
	fg := newFakeGateway(t)
	gw := serve(t, fg.handle)
	t.Chdir(t.TempDir()) // no data/operator_token here
	t.Setenv("GATEWAY_OPERATOR_TOKEN", "")
	t.Setenv("GATEWAY_OPERATOR_TOKEN_FILE", "")
	t.Setenv("GATEWAY_STORE_DATA_DIR", "")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"--target", gw, "--operator", gw}, "no operator token"},
		{"wrong token", []string{"--target", gw, "--operator", gw, "--operator-token", "nope"}, "INVALID_CREDENTIALS"},
		{"half credentials", []string{"--target", gw, "--auth-id", "SA_X"}, "--auth-token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(append(c.args, "-n", "5"), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), c.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
	if fg.calls != 0 {
		t.Errorf("%d calls sent although seeding failed", fg.calls)
	}
}

func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0}, {[]string{"-c", "0"}, 2}, {[]string{"extra"}, 2},
		{[]string{"--bogus"}, 2}, {[]string{"-d", "0"}, 2},
		{[]string{"--rounds", "2"}, 2}, {[]string{"--rounds", "0", "--direct", "http://x"}, 2},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(c.args, &stdout, &stderr); code != c.code {
			t.Errorf("Main(%q) = %d, want %d; stderr %s", c.args, code, c.code, stderr.String())
		}
	}
	o, _, _, code := parseFlags([]string{"-n", "10", "--method", "get"}, &bytes.Buffer{})
	if code != -1 || o.Duration != 0 || o.Requests != 10 || o.Body != nil {
		t.Errorf("-n alone, GET: %+v (code %d); want no time bound and no body", o, code)
	}
	o, _, _, _ = parseFlags([]string{"-n", "10", "-d", "5s"}, &bytes.Buffer{})
	if o.Duration != 5e9 || string(o.Body) != DefaultBody || o.Concurrency != 64 || o.Path != DefaultPath {
		t.Errorf("defaults: %+v", o)
	}
}

// TestRounds: --rounds 3 alternates gateway and direct phases three times; the phases in the
// report pool the rounds (counts add up, throughput over the summed durations), each round
// has its own ratio and the machine's CPU during each phase, and the money check covers
// every gateway phase.
func TestRounds(t *testing.T) {
	// The machine's CPU, as a phase reads it: each reading 10 busy, 5 idle and 1 steal ticks
	// after the one before, so every phase (two readings) saw 62.5 / 31.25 / 6.25 %.
	var readings uint64
	defer func(f func() cpuTicks) { readTicks = f }(readTicks)
	readTicks = func() cpuTicks {
		readings++
		return cpuTicks{busy: 10 * readings, idle: 5 * readings, steal: readings, ok: true}
	}
	wantMachine := Machine{Busy: 62.5, Idle: 31.25, Steal: 6.25}
	fg := newFakeGateway(t)
	gw := serve(t, fg.handle)
	var up directUpstream
	direct := serve(t, up.handle)

	var stdout, stderr bytes.Buffer
	code := Main([]string{"--target", gw, "--operator", gw, "--operator-token", fg.token,
		"-n", "100", "-c", "4", "--direct", direct, "--rounds", "3", "--price", "0.01", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var r Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, stdout.String())
	}
	checkPhase(t, &r.Gateway, 300)
	if r.Direct == nil {
		t.Fatal("no direct phase")
	}
	checkPhase(t, r.Direct, 300)
	if fg.calls != 300 || up.count != 300 {
		t.Errorf("gateway saw %d calls, upstream %d; want 300 each", fg.calls, up.count)
	}
	if len(r.Rounds) != 3 {
		t.Fatalf("rounds %+v", r.Rounds)
	}
	var gwTime, dTime float64
	for i, rd := range r.Rounds {
		if rd.Gateway <= 0 || rd.Direct <= 0 || rd.Ratio != rd.Gateway/rd.Direct ||
			rd.GatewayMachine == nil || *rd.GatewayMachine != wantMachine || rd.DirectMachine == nil || *rd.DirectMachine != wantMachine {
			t.Errorf("round %d: %+v", i+1, rd)
		}
		gwTime += 100 / rd.Gateway
		dTime += 100 / rd.Direct
	}
	// pooled throughput: all requests over the summed phase durations
	if want := 300 / gwTime; r.Gateway.Throughput < want*0.999 || r.Gateway.Throughput > want*1.001 {
		t.Errorf("gateway throughput %v, want %v (300 requests over the rounds' durations)", r.Gateway.Throughput, want)
	}
	if want := (300 / gwTime) / (300 / dTime); r.Ratio == nil || r.Ratio.Throughput < want*0.999 || r.Ratio.Throughput > want*1.001 {
		t.Errorf("ratio %+v, want %v", r.Ratio, want)
	}
	if m := r.Money; m == nil || m.Admitted != 300 || m.Charged != "3.00" || m.Exact == nil || !*m.Exact {
		t.Errorf("money %+v; notes %v", m, r.Notes)
	}
	for _, p := range []*Phase{&r.Gateway, r.Direct} {
		if p.Machine == nil || *p.Machine != wantMachine {
			t.Errorf("%s phases' machine %+v, want %+v (three alike phases pooled)", p.Name, p.Machine, wantMachine)
		}
	}

	// text form: one line per round
	stdout.Reset()
	stderr.Reset()
	if code := Main([]string{"--target", gw, "--operator", gw, "--operator-token", fg.token,
		"-n", "20", "-c", "2", "--direct", direct, "--rounds", "2", "--quiet"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"2 rounds, alternating", "round 1 ", "round 2 ", "steal 6.2 % / 6.2 %",
		"machine idle               31.2 %           31.2 %", "machine steal               6.2 %            6.2 %"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout.String())
		}
	}

	// --rounds needs --direct; a negative count is refused
	for _, args := range [][]string{{"--rounds", "2"}, {"--rounds", "-1", "--direct", direct}} {
		stderr.Reset()
		if code := Main(append([]string{"--target", gw, "--operator", gw, "--operator-token", fg.token, "-n", "5"}, args...), &stdout, &stderr); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}

// TestGivenCredentialsWithoutANumber: with given credentials, a body naming NumberPlaceholder
// takes the account's own number; an account that owns none stops the run before any load,
// saying so.
func TestGivenCredentialsWithoutANumber(t *testing.T) {
	fg := newFakeGateway(t)
	gw := serve(t, fg.handle)
	fg.mu.Lock()
	ma, _ := fg.newID("MA_")
	sa, tok := fg.newID("SA_")
	fg.parent[sa] = ma
	fg.mu.Unlock()
	var stdout, stderr bytes.Buffer
	code := Main([]string{"--target", gw, "--auth-id", sa, "--auth-token", tok, "-n", "10", "--quiet"}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), sa+" owns no phone number") {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if fg.calls != 0 {
		t.Errorf("%d calls sent without a number", fg.calls)
	}
}

// TestWarmup: with more than one account the gateway gets one request per account before the
// first phase, not counted in it and before the money check's first reading (so the check
// still holds); --no-warmup sends none.
func TestWarmup(t *testing.T) {
	for _, tc := range []struct {
		flags  []string
		warmup int
	}{{nil, 6}, {[]string{"--no-warmup"}, 0}} {
		fg := newFakeGateway(t)
		gw := serve(t, fg.handle)
		var stdout, stderr bytes.Buffer
		args := append([]string{"--target", gw, "--operator", gw, "--operator-token", fg.token,
			"--tenants", "2", "--subs", "3", "-n", "60", "-c", "4", "--price", "0.01", "--json"}, tc.flags...)
		if code := Main(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d; stderr:\n%s", tc.flags, code, stderr.String())
		}
		var r Report
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("JSON report does not parse: %v", err)
		}
		checkPhase(t, &r.Gateway, 60)
		if fg.calls != 60+tc.warmup {
			t.Errorf("%v: the fake gateway saw %d calls, want 60 measured + %d warm-up", tc.flags, fg.calls, tc.warmup)
		}
		if m := r.Money; m == nil || m.Exact == nil || !*m.Exact || m.Admitted != 60 {
			t.Errorf("%v: money %+v", tc.flags, m)
		}
		noted := strings.Contains(strings.Join(r.Notes, "\n"), "warm-up: 6 requests")
		if noted != (tc.warmup > 0) {
			t.Errorf("%v: notes %q", tc.flags, r.Notes)
		}
	}
}
