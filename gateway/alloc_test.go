//go:build !race

package gateway

import (
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
)

// TestCacheHitPathAllocs: the gateway's own code on the cache-hit path — the checks before
// routing, credential parsing, route match, cache lookup and token verification, the
// access rule, reading the caller-ID field of the body, the upstream request's headers (X-Forwarded-For from a trusted proxy and the
// HTTP version included) and the answer's headers — allocates nothing. (The store call and
// fasthttp's forwarding are measured by the benchmarks.)
func TestCacheHitPathAllocs(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	m := f.mk(nil, "1")
	r := f.mk(m, "")
	k := f.mk(r, "")
	// Warm the cache through a real request.
	if a := f.do(call{path: callPath(k), as: r}); a.Status != 200 {
		t.Fatal(a.Status)
	}
	g := f.gw
	g.cache.c.Wait()

	for _, basic := range []bool{false, true} {
		var tmpl fasthttp.Request
		tmpl.Header.SetMethod("POST")
		tmpl.SetRequestURI(callPath(k) + "?a=b")
		if basic {
			tmpl.Header.Set("Authorization", basicHeader(r.ID, r.Token))
		} else {
			tmpl.Header.Set("X-Auth-ID", r.ID)
			tmpl.Header.Set("X-Auth-Token", r.Token)
		}
		tmpl.Header.Set("X-Request-ID", "abc-123")
		tmpl.Header.Set("X-Account-ID", "spoofed")
		tmpl.Header.Set("X-Forwarded-For", "198.51.100.7")
		tmpl.Header.SetProtocol("HTTP/1.0")
		tmpl.SetBodyString(`{"to":"1","from":"+14155550100"}`)
		cidRoute := &policy.Route{CallerID: "from"}
		var rc fasthttp.RequestCtx
		rc.SetRemoteAddr(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4711})
		st := newReqState()
		dec := balance.Decision{Admitted: true, Charge: 10000, BillingID: m.ID, Limit: 1000, Remaining: 998, Reset: 2}
		up := g.ups[0]
		run := func() {
			tmpl.CopyTo(&rc.Request)
			rc.Response.Reset()
			if e := inbound(&rc.Request); e != nil {
				t.Fatal(e)
			}
			idx, pathID, ok := g.routes.Match(rc.Method(), rc.Path())
			if !ok || idx != 0 || !proxyPath(rc.URI()) {
				t.Fatal("no match")
			}
			g.requestID(&rc, st)
			caller, path, pos, _, apiErr := g.resolve(&rc, st, pathID)
			if apiErr != nil || caller.id != r.ID || path.id != k.ID || pos != 1 {
				t.Fatalf("resolve: %v", apiErr)
			}
			st.hex = st.hash.AppendHex(st.hex[:0])
			if cid, e := callerID(&rc, st, cidRoute); e != nil || string(cid) != "+14155550100" {
				t.Fatalf("caller-ID %q %v", cid, e)
			}
			g.prepareUpstream(&rc.Request, st, up, caller.id, path.id, dec.BillingID, dec.Charge)
			stripResponse(&rc.Response.Header)
			g.responseHeaders(&rc.Response.Header, st, dec.Charge, &dec)
		}
		run()
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("basic=%v: cache-hit path allocates %v per request", basic, n)
		}
		if got := string(rc.Request.Header.Peek("X-Account-ID")); got != k.ID {
			t.Errorf("X-Account-ID %q", got)
		}
		if got := string(rc.Request.Header.Peek("X-Forwarded-For")); got != "198.51.100.7, 127.0.0.1" {
			t.Errorf("X-Forwarded-For %q", got)
		}
		if got := string(rc.Request.Header.Protocol()); got != "HTTP/1.1" {
			t.Errorf("protocol %q", got)
		}
	}
}
