package gateway

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// raw sends one request to the gateway exactly as written (request line, header section,
// body and all: no client library normalises it) and reads the answer.
func (f *fixture) raw(req string) testkit.Answer {
	f.t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		f.t.Fatal(err)
	}
	if _, err := c.Write([]byte(req)); err != nil {
		f.t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		f.t.Fatalf("reading the answer to %q: %v", req, err)
	}
	return testkit.AnswerOf(&resp)
}

// authHeaders are the header-section credentials of a, as raw request lines.
func authHeaders(a *testkit.Account) string {
	return "X-Auth-ID: " + a.ID + "\r\nX-Auth-Token: " + a.Token + "\r\n"
}

// TestPathNotInNormalFormRefused: the path the upstream receives is the one access and
// billing were decided on. A request target whose raw path differs from its normalised form
// (dot segments, doubled slashes, any percent-encoding, %2F and %2e included) is refused
// with 400 INVALID_REQUEST before anything else: never forwarded, never charged — and never
// handed to the management API (the fallback) either.
func TestPathNotInNormalFormRefused(t *testing.T) {
	var fellBack atomic.Int32
	f := newFixture(t, func(o *Options) {
		o.Fallback = func(rc *fasthttp.RequestCtx) { fellBack.Add(1); rc.SetStatusCode(200) }
	})
	other := f.mk(nil, "1.00") // another tree
	m := f.mk(nil, "1.00")     // the caller's
	c := f.mk(m, "")
	targets := []string{
		"/v1/Account/" + other.ID + "/Call/../../../Account/" + m.ID + "/Call/",
		"/v1/Account/" + other.ID + "/Call/..%2F..%2F..%2FAccount%2F" + m.ID + "%2FCall%2F",
		"/v1/Account/" + other.ID + "%2F..%2F" + m.ID + "/Call/",
		"/v1/Account/" + other.ID + "/%2e%2e/" + m.ID + "/Call/",
		"/v1/Account/" + other.ID + "/%2E%2E/" + m.ID + "/Call/",
		"/v1/Account/" + m.ID + "/./Call/",
		"/v1/Account/" + m.ID + "/Call/.",
		"/v1/Account//" + m.ID + "/Call/",
		"//v1/Account/" + m.ID + "/Call/",
		"/v1/Account/" + m.ID + "/Call//",
		"/v1/Account/" + m.ID + "/%43all/",                               // %43 = C
		"/v1/Account/" + strings.Replace(m.ID, "_", "%5F", 1) + "/Call/", // %5F = _
		"/v1/Account/" + c.ID + "/Subaccount/../Call/",
		// The management API's paths too (the fallback routes on the normalised path).
		"/v1/Account/" + other.ID + "/../" + m.ID + "/",
		"/v1/Account/" + other.ID + "%2F..%2F" + m.ID + "/Balance/",
	}
	before := map[string]model.Amount{other.ID: f.bal(other), m.ID: f.bal(m)}
	for _, target := range targets {
		for _, as := range []*testkit.Account{m, c} {
			a := f.raw("POST " + target + " HTTP/1.1\r\nHost: gw\r\n" + authHeaders(as) + "Content-Length: 2\r\n\r\n{}")
			if a.Status != 400 || a.Err.Error.Code != "INVALID_REQUEST" || a.Err.RequestID == "" ||
				a.Err.RequestID != a.Header["X-Request-Id"] {
				t.Errorf("%s as %s: %d %s, want 400 INVALID_REQUEST", target, as.ID, a.Status, a.Body)
			}
		}
	}
	for _, u := range append(f.voice.requests(), f.sms.requests()...) {
		t.Errorf("the upstream received %s (X-Account-ID %s)", u.uri, u.get("X-Account-ID"))
	}
	if n := fellBack.Load(); n != 0 {
		t.Errorf("the fallback (management API) was handed %d of them", n)
	}
	for _, x := range []*testkit.Account{other, m} {
		if got := f.bal(x); got != before[x.ID] {
			t.Errorf("balance of %s moved: %v → %v", x.ID, before[x.ID], got)
		}
	}
	// %2B ('+') alone is let through for the management API's phone numbers (API.md §9), but
	// a proxied route never receives an encoded path, %2B included.
	plus := newFixture(t, func(o *Options) {
		o.Routes = append(append([]policy.RouteSpec(nil), testRoutes...), policy.RouteSpec{Name: "plus", Method: "POST",
			Path: "/v1/Account/{auth_id}/Call+Log/", Upstream: "voice", Permission: "calls", Price: "0"})
		o.Fallback = func(rc *fasthttp.RequestCtx) { rc.SetStatusCode(299); rc.SetBody(rc.Path()) }
	})
	pm := plus.mk(nil, "1.00")
	if a := plus.raw("POST /v1/Account/" + pm.ID + "/Call%2BLog/ HTTP/1.1\r\nHost: gw\r\n" + authHeaders(pm) + "Content-Length: 2\r\n\r\n{}"); a.Status != 400 {
		t.Errorf("%%2B on a proxied route: %d %s", a.Status, a.Body)
	}
	if a := plus.raw("GET /v1/Account/" + pm.ID + "/Number/%2b14155550100/ HTTP/1.1\r\nHost: gw\r\n\r\n"); a.Status != 299 ||
		string(a.Body) != "/v1/Account/"+pm.ID+"/Number/+14155550100/" {
		t.Errorf("%%2B to the management API: %d %s", a.Status, a.Body)
	}
	if n := plus.voice.count(); n != 0 {
		t.Errorf("the upstream received %d requests", n)
	}
	// A path in normal form goes through, and the upstream receives it byte for byte, with
	// the query as sent (percent-encoding in the query is not the path's).
	target := callPath(c) + "?to=%2B15550100&x=a%2Fb"
	if a := f.raw("POST " + target + " HTTP/1.1\r\nHost: gw\r\n" + authHeaders(m) + "Content-Length: 2\r\n\r\n{}"); a.Status != 200 {
		t.Fatalf("normal form: %d %s", a.Status, a.Body)
	}
	if got := f.voice.requests(); len(got) != 1 || got[0].uri != target || got[0].get("X-Account-ID") != c.ID {
		t.Fatalf("upstream received %d requests, want one: %s for %s", len(got), target, c.ID)
	}
	// An absolute-form target is routed on its path, and the upstream gets the origin form.
	if a := f.raw("POST http://elsewhere.example" + callPath(c) + " HTTP/1.1\r\nHost: gw\r\n" + authHeaders(m) + "Content-Length: 2\r\n\r\n{}"); a.Status != 200 {
		t.Fatalf("absolute form: %d %s", a.Status, a.Body)
	}
	if got := f.voice.requests(); len(got) != 2 || got[1].uri != callPath(c) {
		t.Errorf("upstream received %q, want %s", got[len(got)-1].uri, callPath(c))
	}
}

// TestBackslashesNeverReachTheUpstream: a backslash is no separator to the gateway, so a
// path holding one matches no route with a real id in it: it is refused (403 on a proxied
// route's shape, else no route) and never forwarded, whatever an upstream would make of it.
func TestBackslashesNeverReachTheUpstream(t *testing.T) {
	f := newFixture(t, nil)
	other := f.mk(nil, "1.00")
	m := f.mk(nil, "1.00")
	for _, target := range []string{
		"/v1/Account/" + m.ID + "/Call\\..\\..\\" + other.ID + "/Call/",
		"/v1/Account/" + other.ID + "\\..\\" + m.ID + "/Call/",
	} {
		a := f.raw("POST " + target + " HTTP/1.1\r\nHost: gw\r\n" + authHeaders(m) + "Content-Length: 2\r\n\r\n{}")
		if a.Status != 403 && a.Status != 404 {
			t.Errorf("%s: %d %s", target, a.Status, a.Body)
		}
	}
	for _, u := range f.voice.requests() {
		t.Errorf("the upstream received %s", u.uri)
	}
	if f.bal(m) != testkit.Amt("1.00") || f.bal(other) != testkit.Amt("1.00") {
		t.Errorf("balances moved: %v %v", f.bal(m), f.bal(other))
	}
}

// chunked is a chunked request for target with the header section head (credentials
// included or not) and the trailer section trailer.
func chunked(target, head, trailer string) string {
	return "POST " + target + " HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n" + head + "\r\n" +
		"2\r\n{}\r\n0\r\n" + trailer + "\r\n"
}

// TestTrailersNeitherAuthenticateNorReachTheUpstream: credentials are read from the header
// section only; the trailer section of a request is discarded before anything reads it, so
// no trailer reaches the upstream, under a credential, trusted or any other name.
func TestTrailersNeitherAuthenticateNorReachTheUpstream(t *testing.T) {
	f := newFixture(t, nil)
	other := f.mk(nil, "1.00")
	m := f.mk(nil, "1.00")
	c := f.mk(m, "")
	creds := "X-Auth-ID: " + m.ID + "\r\nX-Auth-Token: " + m.Token + "\r\n"

	t.Run("credentials in trailers only", func(t *testing.T) {
		for _, head := range []string{"", "Trailer: X-Auth-ID, X-Auth-Token\r\n"} {
			a := f.raw(chunked(callPath(m), head, creds))
			if a.Status != 401 || a.Err.Error.Code != "INVALID_CREDENTIALS" {
				t.Errorf("head %q: %d %s, want 401", head, a.Status, a.Body)
			}
		}
		if f.voice.count() != 0 || f.bal(m) != testkit.Amt("1.00") {
			t.Errorf("forwarded %d, balance %v", f.voice.count(), f.bal(m))
		}
	})

	t.Run("trusted and other names in trailers", func(t *testing.T) {
		trailer := "X-Auth-Token: " + other.Token + "\r\nX-Auth-ID: " + other.ID + "\r\nX-Account-ID: " + other.ID +
			"\r\nX-Caller-ID: " + other.ID + "\r\nX-Billing-Account-ID: " + other.ID + "\r\nX-Charge: 0\r\n" +
			"X-Request-ID: from-trailer\r\nX-Custom: trailer\r\nX-Only-Trailer: t\r\n"
		basic := "Authorization: " + basicHeader(m.ID, m.Token) + "\r\n"
		for i, head := range []string{
			authHeaders(m) + "X-Custom: header\r\nX-Request-ID: from-header\r\n",
			authHeaders(m) + "X-Custom: header\r\nX-Request-ID: from-header\r\nTrailer: X-Auth-Token, X-Account-ID, X-Custom, X-Only-Trailer\r\n",
			// Basic in the header section: X-Auth-ID and X-Auth-Token appear in the trailers only.
			basic + "X-Custom: header\r\nX-Request-ID: from-header\r\n",
		} {
			a := f.raw(chunked(callPath(c), head, trailer))
			if a.Status != 200 || a.Header["X-Charge"] != "0.01" || a.Header["X-Request-Id"] != "from-header" {
				t.Fatalf("%d: %d %s %v", i, a.Status, a.Body, a.Header)
			}
			got := f.voice.requests()
			u := got[len(got)-1]
			if u.trailer != "" || u.get("Trailer") != "" {
				t.Errorf("%d: the upstream received a trailer section: %q (Trailer: %q)", i, u.trailer, u.get("Trailer"))
			}
			for name, want := range map[string]string{
				"X-Account-ID": c.ID, "X-Caller-ID": m.ID, "X-Billing-Account-ID": m.ID, "X-Charge": "0.01",
				"X-Request-ID": "from-header", "X-Custom": "header",
				"X-Auth-Token": "", "X-Auth-ID": "", "X-Only-Trailer": "",
			} {
				if v := u.header[strings.ToLower(name)]; (want == "" && len(v) != 0) || (want != "" && (len(v) != 1 || v[0] != want)) {
					t.Errorf("%d: upstream header %s = %q, want %q", i, name, v, want)
				}
			}
			if string(u.body) != "{}" {
				t.Errorf("%d: body %q", i, u.body)
			}
		}
		if f.bal(other) != testkit.Amt("1.00") || f.bal(m) != testkit.Amt("0.97") {
			t.Errorf("balances %v %v", f.bal(other), f.bal(m))
		}
	})

	t.Run("announced names, nothing sent", func(t *testing.T) {
		a := f.raw(chunked(callPath(c), authHeaders(m)+"Trailer: X-Account-ID, X-Caller-ID, X-Request-ID\r\n", ""))
		if a.Status != 200 {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		got := f.voice.requests()
		u := got[len(got)-1]
		if u.trailer != "" || u.get("Trailer") != "" || u.get("X-Account-ID") != c.ID || u.get("X-Caller-ID") != m.ID ||
			u.get("X-Request-ID") != a.Header["X-Request-Id"] {
			t.Errorf("upstream received %q, trailer %q", u.header, u.trailer)
		}
	})
}

// TestConnectionNamedResponseHeadersStripped: a header the upstream names in its
// Connection header (in any of its Connection lines) is hop-by-hop (RFC 9110 §7.6.1) and
// does not reach the client, nor do the other hop-by-hop headers; the upstream's trailer
// fields, which reach the client in the header section, go through the same stripping.
// With and without pipelining (each client reads answers its own way).
func TestConnectionNamedResponseHeadersStripped(t *testing.T) {
	answers := map[string]string{
		"/plain": "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
			"Connection: X-Hop-Secret, X-Other-Hop\r\nConnection: x-third-hop\r\n" +
			"X-Hop-Secret: s\r\nX-Other-Hop: o\r\nX-Third-Hop: 3\r\nKeep-Alive: timeout=5\r\n" +
			"Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Kept: k\r\nContent-Length: 2\r\n\r\n{}",
		"/chunked": "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" +
			"Trailer: X-Usage-Cost, X-Hop-Secret, X-Kept-Trailer\r\nConnection: X-Hop-Secret\r\nX-Kept: k\r\n\r\n" +
			"2\r\n{}\r\n0\r\nX-Usage-Cost: 0.02\r\nX-Hop-Secret: s\r\nX-Kept-Trailer: kt\r\n\r\n",
	}
	b := startRawBackend(t, func(_ int, c net.Conn, br *bufio.Reader) {
		var req fasthttp.Request
		for readReq(br, &req) {
			path, _, _ := strings.Cut(string(req.Header.RequestURI()), "?")
			kind := "/plain"
			if strings.HasSuffix(path, "/Message/") {
				kind = "/chunked"
			}
			if _, err := c.Write([]byte(answers[kind])); err != nil {
				return
			}
		}
	})
	for _, pipeline := range []int{0, 1} {
		f := newFixture(t, func(o *Options) {
			for _, name := range []string{"voice", "sms"} {
				o.Upstreams[name] = Upstream{URL: "http://" + b.addr, Timeout: 2 * time.Second, ConnectTimeout: time.Second, Pipeline: pipeline}
			}
		})
		m := f.mk(nil, "1.00")
		a := f.do(call{path: callPath(m), as: m})
		if a.Status != 200 || string(a.Body) != "{}" {
			t.Fatalf("pipeline %d: %d %s", pipeline, a.Status, a.Body)
		}
		for _, name := range []string{"X-Hop-Secret", "X-Other-Hop", "X-Third-Hop", "Keep-Alive", "Proxy-Connection", "Upgrade"} {
			if v, ok := a.Header[name]; ok {
				t.Errorf("pipeline %d: the client received %s: %q", pipeline, name, v)
			}
		}
		if c := a.Header["Connection"]; c != "" && c != "keep-alive" {
			t.Errorf("pipeline %d: Connection: %q", pipeline, c)
		}
		if a.Header["X-Kept"] != "k" {
			t.Errorf("pipeline %d: end-to-end header lost: %v", pipeline, a.Header)
		}
		a = f.do(call{path: smsPath(m), as: m})
		if a.Status != 200 || string(a.Body) != "{}" || a.Header["X-Charge"] != "0.02" {
			t.Fatalf("pipeline %d, trailers: %d %s %v", pipeline, a.Status, a.Body, a.Header)
		}
		for _, name := range []string{"X-Hop-Secret", "X-Usage-Cost", "Trailer"} {
			if v, ok := a.Header[name]; ok {
				t.Errorf("pipeline %d: the client received %s: %q", pipeline, name, v)
			}
		}
		if a.Header["X-Kept"] != "k" || a.Header["X-Kept-Trailer"] != "kt" {
			t.Errorf("pipeline %d: end-to-end fields lost: %v", pipeline, a.Header)
		}
		if f.bal(m) != testkit.Amt("0.97") {
			t.Errorf("pipeline %d: balance %v, want 0.97 (0.01 + the 0.02 settled)", pipeline, f.bal(m))
		}
	}
}

// TestForwardedProtocolIsTheProxys: whatever HTTP/1.x version the client's request line
// names, the upstream receives an HTTP/1.1 request (the gateway's own).
func TestForwardedProtocolIsTheProxys(t *testing.T) {
	f := newFixture(t, nil)
	m := f.mk(nil, "1.00")
	for _, proto := range []string{"HTTP/1.2", "HTTP/1.0", "HTTP/1.9", "HTTP/1.1"} {
		a := f.raw("POST " + callPath(m) + " " + proto + "\r\nHost: gw\r\n" + authHeaders(m) + "Content-Length: 2\r\n\r\n{}")
		if a.Status != 200 {
			t.Fatalf("%s: %d %s", proto, a.Status, a.Body)
		}
		got := f.voice.requests()
		if u := got[len(got)-1]; u.proto != "HTTP/1.1" || string(u.body) != "{}" {
			t.Errorf("%s: upstream received %s with body %q", proto, u.proto, u.body)
		}
	}
}

// TestForwardedFor: the upstream's X-Forwarded-For ends with the gateway's peer; the
// client's list is kept in front of it only when the peer is a trusted proxy. A client's
// Forwarded and X-Real-IP headers never reach the upstream.
func TestForwardedFor(t *testing.T) {
	send := func(f *fixture, m *testkit.Account, xff ...string) recorded {
		t.Helper()
		head := authHeaders(m) + "Forwarded: for=192.0.2.66;proto=https\r\nX-Real-IP: 192.0.2.67\r\n"
		for _, x := range xff {
			head += "X-Forwarded-For: " + x + "\r\n"
		}
		if a := f.raw("POST " + callPath(m) + " HTTP/1.1\r\nHost: gw\r\n" + head + "Content-Length: 2\r\n\r\n{}"); a.Status != 200 {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		got := f.voice.requests()
		u := got[len(got)-1]
		if v := u.header["forwarded"]; len(v) != 0 {
			t.Errorf("the upstream received Forwarded: %q", v)
		}
		if v := u.header["x-real-ip"]; len(v) != 0 {
			t.Errorf("the upstream received X-Real-IP: %q", v)
		}
		return u
	}
	t.Run("untrusted peer", func(t *testing.T) {
		f := newFixture(t, nil)
		m := f.mk(nil, "1.00")
		for _, xff := range [][]string{nil, {"198.51.100.7"}, {"198.51.100.7, 10.0.0.1", "203.0.113.5"}} {
			if u := send(f, m, xff...); strings.Join(u.header["x-forwarded-for"], "|") != "127.0.0.1" {
				t.Errorf("client sent %q: upstream received X-Forwarded-For %q, want the peer only", xff, u.header["x-forwarded-for"])
			}
		}
	})
	t.Run("trusted peer", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
		m := f.mk(nil, "1.00")
		for _, c := range []struct {
			xff  []string
			want string
		}{
			{nil, "127.0.0.1"},
			{[]string{"198.51.100.7"}, "198.51.100.7, 127.0.0.1"},
			{[]string{"198.51.100.7, 10.0.0.1", "203.0.113.5"}, "198.51.100.7, 10.0.0.1, 203.0.113.5, 127.0.0.1"},
		} {
			if u := send(f, m, c.xff...); strings.Join(u.header["x-forwarded-for"], "|") != c.want {
				t.Errorf("client sent %q: upstream received X-Forwarded-For %q, want %q", c.xff, u.header["x-forwarded-for"], c.want)
			}
		}
	})
}

// TestMalformedPathIDIsForbidden: on a proxied route, a path id that is not even shaped like
// an id is refused exactly as a well-formed unknown one is: 403 FORBIDDEN after
// authentication (401 without it), so the answer says nothing about ids.
func TestMalformedPathIDIsForbidden(t *testing.T) {
	var fellBack atomic.Int32
	f := newFixture(t, func(o *Options) {
		o.Fallback = func(rc *fasthttp.RequestCtx) { fellBack.Add(1); rc.SetStatusCode(404) }
	})
	m := f.mk(nil, "1.00")
	for _, id := range []string{"SA_NOSUCHACCOUNT000000Y", "SA_bad", "sa_ABCDEFGHIJ0123456789", "MA_ABCDEFGHIJ01234567890", "x"} {
		for _, path := range []string{"/v1/Account/" + id + "/Call/", "/v1/Account/" + id + "/Message"} {
			a := f.do(call{path: path, as: m})
			if a.Status != 403 || a.Err.Error.Code != "FORBIDDEN" || a.Header["X-Charge"] != "0.00" {
				t.Errorf("%s: %d %s, want 403 FORBIDDEN", path, a.Status, a.Body)
			}
			if a := f.do(call{path: path}); a.Status != 401 {
				t.Errorf("%s without credentials: %d %s, want 401", path, a.Status, a.Body)
			}
		}
	}
	if fellBack.Load() != 0 || f.voice.count()+f.sms.count() != 0 || f.bal(m) != testkit.Amt("1.00") {
		t.Errorf("fallback %d, forwarded %d, balance %v", fellBack.Load(), f.voice.count()+f.sms.count(), f.bal(m))
	}
}
