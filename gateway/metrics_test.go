package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// scrape serves reg through promhttp, as the operator listener does, and parses the text
// format into series → value ("name{a="x",b="y"}", labels sorted as Prometheus writes them).
func scrape(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape: Content-Type %q", ct)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsScrapeAfterScriptedMix runs a scripted mix of requests through a real gateway
// (real redis-server, recording upstream) and checks that every counter on /metrics moved
// exactly as the mix says, that the money counters agree with the balance, and that each
// refusal left one DEBUG log line with its request id and no credentials.
func TestMetricsScrapeAfterScriptedMix(t *testing.T) {
	reg := prometheus.NewRegistry()
	gm, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, func(o *Options) { o.Metrics = gm; o.Logger = log })
	if err := f.store.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	// Registering twice is an error, not a panic.
	if _, err := NewMetrics(reg); err == nil {
		t.Error("NewMetrics registered twice without an error")
	}

	m := f.mk(nil, "1")      // pays for k
	k := f.mk(m, "")         // the caller, on m's balance
	poor := f.mk(nil, "0")   // cannot pay
	const price = 10000      // voice.call: 0.0100
	const settledCost = 4000 // X-Usage-Cost 0.0040

	var rids []string
	req := func(c call, want int) {
		t.Helper()
		rid := "mix-" + strconv.Itoa(len(rids))
		c.header = map[string]string{"X-Request-ID": rid}
		a := f.do(c)
		if a.Status != want {
			t.Fatalf("%s: status %d, want %d: %s", rid, a.Status, want, a.Body)
		}
		rids = append(rids, rid)
	}
	for range 3 { // admitted, forwarded, charged
		req(call{path: callPath(k), as: k}, 200)
	}
	for range 2 { // refused by the store: insufficient balance
		req(call{path: callPath(poor), as: poor}, 402)
	}
	badTok := "Z" + k.Token[1:]
	if badTok == k.Token {
		badTok = "Y" + k.Token[1:]
	}
	req(call{path: callPath(k), as: k, tok: badTok}, 401) // refused before the store
	f.voice.status.Store(503)                             // admitted, upstream fails, refunded
	req(call{path: callPath(k), as: k}, 503)
	f.voice.status.Store(200)
	cost := "0.0040" // admitted, settled to the upstream's cost
	f.voice.cost.Store(&cost)
	req(call{path: callPath(k), as: k}, 200)
	f.voice.cost.Store(nil)

	got := scrape(t, reg)
	want := map[string]float64{
		`gateway_requests_total{outcome="ok",route="voice.call"}`:                   4,
		`gateway_requests_total{outcome="insufficient_balance",route="voice.call"}`: 2,
		`gateway_requests_total{outcome="invalid_credentials",route="voice.call"}`:  1,
		`gateway_requests_total{outcome="upstream_5xx",route="voice.call"}`:         1,
		`gateway_requests_total{outcome="ok",route="sms.send"}`:                     0,
		`gateway_request_duration_seconds_count{route="voice.call"}`:                8,
		`gateway_request_duration_seconds_count{route="sms.send"}`:                  0,
		`gateway_requests_in_flight`:                                                0,
		`gateway_refusals_total{reason="insufficient_balance"}`:                     2,
		`gateway_refusals_total{reason="invalid_credentials"}`:                      1,
		`gateway_refusals_total{reason="forbidden"}`:                                0,
		`gateway_refusals_total{reason="rate_limited"}`:                             0,
		`gateway_refusals_total{reason="store_unavailable"}`:                        0,
		`gateway_refusals_total{reason="route_not_found"}`:                          0,
		`gateway_refusals_total{reason="payload_too_large"}`:                        0,
		`gateway_refusals_total{reason="too_many_auth_failures"}`:                   0,
		`gateway_upstream_duration_seconds_count{upstream="voice"}`:                 5,
		`gateway_upstream_duration_seconds_count{upstream="sms"}`:                   0,
		`gateway_upstream_errors_total{kind="5xx",upstream="voice"}`:                1,
		`gateway_upstream_errors_total{kind="timeout",upstream="voice"}`:            0,
		`gateway_upstream_errors_total{kind="unavailable",upstream="voice"}`:        0,
		`gateway_admits_total{route="voice.call"}`:                                  5,
		`gateway_refunds_total{route="voice.call"}`:                                 1,
		`gateway_settlements_total{route="voice.call"}`:                             1,
		`gateway_charged_micros_total{route="voice.call"}`:                          5 * price,
		`gateway_refunded_micros_total{route="voice.call"}`:                         price + (price - settledCost),
		`gateway_cache_hits_total` + `+gateway_cache_misses_total`:                  8, // one lookup per request
		`gateway_store_errors_total{operation="admit"}`:                             0,
		`gateway_store_errors_total{operation="refund"}`:                            0,
		`gateway_store_errors_total{operation="settle"}`:                            0,
		`gateway_store_errors_total{operation="other"}`:                             0,
	}
	got[`gateway_cache_hits_total+gateway_cache_misses_total`] = got[`gateway_cache_hits_total`] + got[`gateway_cache_misses_total`]
	for series, w := range want {
		v, ok := got[series]
		if !ok {
			t.Errorf("%s: missing from /metrics", series)
			continue
		}
		if v != w {
			t.Errorf("%s = %v, want %v", series, v, w)
		}
	}
	// Each of k and poor was read from the store at least once; ristretto's buffered Set may
	// make a later lookup miss too, so only the lower bound is exact.
	if n := got[`gateway_cache_misses_total`]; n < 2 {
		t.Errorf("cache misses %v, want >= 2", n)
	}
	// Store round trips: 7 admits (5 admitted, 2 refused; the bad token never reached the
	// store), plus one EVAL per script after NOSCRIPT on a fresh server.
	for op, min := range map[string]float64{"admit": 7, "refund": 1, "settle": 1, "other": 1} {
		if n := got[`gateway_store_round_trip_seconds_count{operation="`+op+`"}`]; n < min {
			t.Errorf("store round trips %s = %v, want >= %v", op, n, min)
		}
	}
	if n := got[`gateway_store_round_trip_seconds_count{operation="admit"}`]; n > 7+1 {
		t.Errorf("store round trips admit = %v, want at most 8", n)
	}
	// Money: what the counters say was taken is what left the paying account.
	net := got[`gateway_charged_micros_total{route="voice.call"}`] - got[`gateway_refunded_micros_total{route="voice.call"}`]
	if left := int64(1_000_000) - int64(f.bal(m)); float64(left) != net || left != 3*price+settledCost {
		t.Errorf("balance moved by %d µ, counters say %v, want %d", left, net, 3*price+settledCost)
	}
	// Stats reads the same counters.
	s := f.gw.Stats()
	if len(s.Routes) != 3 || s.Routes[0].Outcomes["ok"] != 4 || s.Routes[0].Refunds != 1 ||
		s.CacheHits+s.CacheMisses != 8 || s.Routes[0].Seconds <= 0 {
		t.Errorf("Stats %+v", s)
	}

	// Logs: one DEBUG line per refusal, with request id, route, reason and status; no
	// credentials anywhere; nothing at INFO per request.
	refusals := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		for _, secret := range []string{k.Token, badTok, poor.Token, m.Token, "Authorization", "X-Auth-Token"} {
			if strings.Contains(line, secret) {
				t.Errorf("log line holds a credential (%.8s…): %s", secret, line)
			}
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e["level"] == "INFO" {
			t.Errorf("INFO line on the request path: %s", line)
		}
		if e["msg"] != "request refused" {
			continue
		}
		if e["level"] != "DEBUG" || e["route"] != "voice.call" {
			t.Errorf("refusal line %s", line)
		}
		rid, _ := e["request_id"].(string)
		refusals[rid] = e["reason"].(string) + "/" + strconv.Itoa(int(e["status"].(float64)))
	}
	wantRefusals := map[string]string{rids[3]: "insufficient_balance/402", rids[4]: "insufficient_balance/402",
		rids[5]: "invalid_credentials/401"}
	if len(refusals) != len(wantRefusals) {
		t.Errorf("refusal lines %v, want %v", refusals, wantRefusals)
	}
	for rid, w := range wantRefusals {
		if refusals[rid] != w {
			t.Errorf("refusal line of %s: %q, want %q", rid, refusals[rid], w)
		}
	}
}

// TestMetricsRefusalsWithoutRoute: a request that matches no route (no fallback) and a body
// over the limit are counted as refusals with their reasons.
func TestMetricsRefusalsWithoutRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	gm, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) { o.Metrics = gm; o.MaxBodyBytes = 64 })
	m := f.mk(nil, "1")
	if a := f.do(call{method: "GET", path: "/nowhere"}); a.Status != 404 || a.Err.Error.Code != "ROUTE_NOT_FOUND" {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if a := f.do(call{path: callPath(m), as: m, body: strings.Repeat("x", 1000), invalid: true}); a.Status != 413 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	got := scrape(t, reg)
	for series, w := range map[string]float64{
		`gateway_refusals_total{reason="route_not_found"}`:   1,
		`gateway_refusals_total{reason="payload_too_large"}`: 1,
		`gateway_admits_total{route="voice.call"}`:           0,
	} {
		if got[series] != w {
			t.Errorf("%s = %v, want %v", series, got[series], w)
		}
	}
}

// TestPublicListenerServesNoOperatorEndpoints: /metrics, /healthz, /readyz and pprof live on
// the operator listener only; the public listener answers them like any unknown path.
func TestPublicListenerServesNoOperatorEndpoints(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		for _, method := range []string{"GET", "HEAD"} {
			a := f.do(call{method: method, path: p})
			if a.Status != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", method, p, a.Status)
				continue
			}
			if method == "GET" && a.Err.Error.Code != "ROUTE_NOT_FOUND" {
				t.Errorf("%s %s: code %q", method, p, a.Err.Error.Code)
			}
			if bytes.Contains(a.Body, []byte("# HELP")) || bytes.Contains(a.Body, []byte("goroutine")) {
				t.Errorf("%s %s leaked operator content: %s", method, p, a.Body)
			}
		}
	}
}

// TestDashboardUsesExportedMetrics: every gateway_* series the Grafana dashboard
// (bench/grafana-dashboard.json) queries is one the gateway or the store exports.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "bench", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	reg := prometheus.NewRegistry()
	gm, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) { o.Metrics = gm }) // resolves every route's and upstream's series
	if err := f.store.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, mf := range mfs {
		have[mf.GetName()] = mf.GetType().String()
	}
	re := regexp.MustCompile(`gateway_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range re.FindAllString(tg.Expr, -1) {
				n++
				base := name
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suf); ok && have[b] == "HISTOGRAM" {
						base = b
					}
				}
				if _, ok := have[base]; !ok {
					t.Errorf("dashboard queries %s, which is not exported", name)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d gateway_* references in the dashboard", n)
	}
}
