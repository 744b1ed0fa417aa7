package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/gateway"
)

// serveOn serves h on a loopback port until the test ends and returns a client for it.
func serveOn(t *testing.T, srv *fasthttp.Server) *fasthttp.HostClient {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }() //nolint:errcheck
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.ShutdownWithContext(ctx) //nolint:errcheck
		<-done
	})
	return &fasthttp.HostClient{Addr: ln.Addr().String(), ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
}

type reply struct {
	status int
	ctype  string
	body   string
}

// get sends method path with body ("": none) and an Authorization value auth ("": none).
func get(t *testing.T, hc *fasthttp.HostClient, method, path, auth, body string) reply {
	t.Helper()
	r := testkit.Request{Method: method, Path: path, Body: body}
	if auth != "" {
		r.Header = map[string]string{"Authorization": auth}
	}
	a := testkit.Do(t, hc, r)
	return reply{a.Status, a.Header["Content-Type"], string(a.Body)}
}

// TestOperatorEndpointsOnlyOnOperatorListener wires the listeners as serve does (one
// registry, instrumented store, gateway metrics, the management API as the public
// fallback) and checks that /metrics, /healthz, /readyz and /debug/pprof/ answer on the
// operator listener only, and that a proxied request shows up on /metrics next to the Go,
// process and store metrics.
func TestOperatorEndpointsOnlyOnOperatorListener(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	stk := startSandboxStack(t, stackOptions{})
	api, pub, op, opTok := stk.api, stk.pub, stk.ops, stk.opToken

	// A main account with money makes one paid call.
	bearer := "Bearer " + opTok
	ma := testkit.NewMain(t, op, opTok, "Acme", "1.00")
	basic := testkit.BasicAuth(ma.ID, ma.Token)
	if r := get(t, pub, "POST", "/v1/Account/"+ma.ID+"/Call/", basic, `{"to": "+1"}`); r.status != 201 {
		t.Fatalf("call: %d %s", r.status, r.body)
	}

	// The public listener: the management API's 404, with or without credentials.
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/debug/pprof/", "/debug/pprof/goroutine?debug=1"} {
		for _, auth := range []string{"", basic, bearer} {
			r := get(t, pub, "GET", p, auth, "")
			if r.status != 404 || !strings.Contains(r.body, `"NOT_FOUND"`) {
				t.Errorf("public GET %s (auth %.6q): %d %s", p, auth, r.status, r.body)
			}
		}
	}

	// The operator listener serves them.
	if r := get(t, op, "GET", "/healthz", "", ""); r.status != 200 {
		t.Errorf("/healthz: %d", r.status)
	}
	if r := get(t, op, "GET", "/readyz", "", ""); r.status != 200 {
		t.Errorf("/readyz: %d", r.status)
	}
	if r := get(t, op, "GET", "/debug/pprof/", bearer, ""); r.status != 200 || !strings.Contains(r.body, "goroutine") {
		t.Errorf("/debug/pprof/: %d", r.status)
	}
	m := get(t, op, "GET", "/metrics", bearer, "")
	if m.status != 200 || !strings.HasPrefix(m.ctype, "text/plain") {
		t.Fatalf("/metrics: %d %q", m.status, m.ctype)
	}
	for _, want := range []string{
		`gateway_requests_total{outcome="ok",route="voice.call"} 1`,
		`gateway_admits_total{route="voice.call"} 1`,
		`gateway_charged_micros_total{route="voice.call"} 10000`,
		`gateway_upstream_duration_seconds_count{upstream="voice"} 1`,
		`gateway_store_round_trip_seconds_count{operation="admit"}`,
		`gateway_requests_in_flight 0`,
		"go_goroutines ",
		"go_memstats_heap_alloc_bytes ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(m.body, ma.ID) {
		t.Error("/metrics names an account id")
	}

	// /readyz says 503 when the store does not answer.
	dead, err := balance.Open(ctx, balance.Options{Redis: "redis://127.0.0.1:1/0", DialTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	op2 := serveOn(t, newOperatorServer(api, dead, newRegistry(), log, 0))
	if r := get(t, op2, "GET", "/readyz", "", ""); r.status != 503 {
		t.Errorf("/readyz with the store down: %d %s", r.status, r.body)
	}
	if r := get(t, op2, "GET", "/healthz", "", ""); r.status != 200 {
		t.Errorf("/healthz with the store down: %d", r.status)
	}
}

// TestOperatorEndpointsNeedTheToken: /metrics and /debug/pprof/ answer only to the operator
// token, like the operator API — without it, or with a wrong one or another kind of
// credentials, 401 INVALID_CREDENTIALS in the error body with WWW-Authenticate: Bearer and
// X-Request-ID; /healthz and /readyz stay open for load balancers.
func TestOperatorEndpointsNeedTheToken(t *testing.T) {
	stk := startStack(t, nil, map[string]gateway.Upstream{})
	bearer := "Bearer " + stk.opToken
	guarded := []string{"/metrics", "/debug/pprof/", "/debug/pprof", "/debug/pprof/goroutine?debug=1", "/debug/pprof/heap",
		"/debug/pprof/cmdline", "/debug/pprof/symbol", "/debug/pprof/nonesuch"}
	for _, p := range guarded {
		for _, auth := range []string{"", "Bearer wrong-token", testkit.BasicAuth("MA_AAAAAAAAAAAAAAAAAAAA", stk.opToken), stk.opToken} {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.Header.SetMethod("GET")
			req.SetRequestURI("http://" + stk.ops.Addr + p)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			if err := stk.ops.Do(req, resp); err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
				RequestID string `json:"request_id"`
			}
			err := json.Unmarshal(resp.Body(), &body)
			rid := string(resp.Header.Peek("X-Request-ID"))
			if resp.StatusCode() != 401 || err != nil || body.Error.Code != "INVALID_CREDENTIALS" || rid == "" || body.RequestID != rid ||
				string(resp.Header.Peek("WWW-Authenticate")) != `Bearer realm="gateway"` {
				t.Errorf("GET %s with %.12q: %d %q: %.100s", p, auth, resp.StatusCode(), resp.Header.Peek("WWW-Authenticate"), resp.Body())
			}
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
	}
	// With the token.
	if r := get(t, stk.ops, "GET", "/metrics", bearer, ""); r.status != 200 || !strings.Contains(r.body, "go_goroutines ") {
		t.Errorf("/metrics with the token: %d %.100s", r.status, r.body)
	}
	if r := get(t, stk.ops, "GET", "/debug/pprof/", bearer, ""); r.status != 200 || !strings.Contains(r.body, "goroutine") {
		t.Errorf("/debug/pprof/ with the token: %d", r.status)
	}
	if r := get(t, stk.ops, "GET", "/debug/pprof/goroutine?debug=1", strings.ToLower(bearer[:7])+bearer[7:], ""); r.status != 200 {
		t.Errorf("/debug/pprof/goroutine with the token: %d", r.status)
	}
	// Open.
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := get(t, stk.ops, "GET", p, "", ""); r.status != 200 {
			t.Errorf("%s without a token: %d", p, r.status)
		}
	}
}
