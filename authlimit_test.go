package main

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/bench/testkit"
)

// TestAuthFailureLimitOnEveryEndpoint wires the limit as serve does (limit 2 a minute,
// loopback a trusted proxy, so X-Forwarded-For names the client): on the public listener,
// failures on the management API and on the proxied routes count together and a client
// over the limit is refused on both, the right credentials included; on the operator
// listener, failures on the operator API and on /metrics count together and refuse both;
// each refusal is 429 TOO_MANY_AUTH_FAILURES with Retry-After. The listeners count apart,
// and other clients are not affected.
func TestAuthFailureLimitOnEveryEndpoint(t *testing.T) {
	stk := startSandboxStack(t, stackOptions{authLimit: 2, trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	bearer := "Bearer " + stk.opToken
	ma := testkit.NewMain(t, stk.ops, stk.opToken, "Acme", "1.00")
	basic := testkit.BasicAuth(ma.ID, ma.Token)
	wrongBasic := testkit.BasicAuth(ma.ID, "WrongToken0WrongToken0WrongToken0Wrong00")
	self, call := "/v1/Account/"+ma.ID+"/", "/v1/Account/"+ma.ID+"/Call/"

	type step struct {
		hc                 *fasthttp.HostClient
		method, path, auth string
		want               int
	}
	run := func(client string, steps []step) {
		t.Helper()
		for i, s := range steps {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.Header.SetMethod(s.method)
			req.SetRequestURI("http://" + s.hc.Addr + s.path)
			req.Header.Set("Authorization", s.auth)
			req.Header.Set("X-Forwarded-For", client)
			if s.method == "POST" {
				req.SetBodyString(`{"to": "+1"}`)
			}
			if err := s.hc.Do(req, resp); err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal(resp.Body(), &body)
			if resp.StatusCode() != s.want {
				t.Errorf("client %s, step %d, %s %s: %d %.120s, want %d", client, i, s.method, s.path, resp.StatusCode(), resp.Body(), s.want)
			}
			if s.want == 429 {
				if ra, err := strconv.Atoi(string(resp.Header.Peek("Retry-After"))); err != nil || ra < 1 || body.Error.Code != "TOO_MANY_AUTH_FAILURES" {
					t.Errorf("client %s, step %d: Retry-After %q, code %q", client, i, resp.Header.Peek("Retry-After"), body.Error.Code)
				}
			}
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
	}
	pub, ops := stk.pub, stk.ops

	// Public listener: failures on the management API refuse the proxied routes too.
	run("198.51.100.1", []step{
		{pub, "GET", self, wrongBasic, 401},
		{pub, "GET", self, "", 401}, // no credentials at all count too
		{pub, "GET", self, basic, 429},
		{pub, "POST", call, basic, 429},
	})
	// … and failures on the proxied routes refuse the management API.
	run("198.51.100.2", []step{
		{pub, "POST", call, wrongBasic, 401},
		{pub, "POST", call, wrongBasic, 401},
		{pub, "GET", self, basic, 429},
	})
	// Operator listener: failures on the operator API refuse /metrics …
	run("198.51.100.3", []step{
		{ops, "GET", "/admin/v1/Account/", "Bearer wrong", 401},
		{ops, "GET", "/admin/v1/Account/", "", 401},
		{ops, "GET", "/metrics", bearer, 429},
		{ops, "GET", "/admin/v1/Account/", bearer, 429},
		{ops, "GET", "/healthz", "", 200},
	})
	// … and failures on /metrics refuse the operator API.
	run("198.51.100.4", []step{
		{ops, "GET", "/metrics", "Bearer wrong", 401},
		{ops, "GET", "/debug/pprof/", "Bearer wrong", 401},
		{ops, "GET", "/admin/v1/Account/", bearer, 429},
	})
	// The listeners count apart: a client refused on one is served on the other.
	run("198.51.100.1", []step{{ops, "GET", "/admin/v1/Account/", bearer, 200}})
	run("198.51.100.3", []step{{pub, "GET", self, basic, 200}})
	// Other clients are not affected.
	run("198.51.100.9", []step{{pub, "GET", self, basic, 200}, {pub, "POST", call, basic, 201}, {ops, "GET", "/metrics", bearer, 200}})
}
