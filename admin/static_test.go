package admin

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/tenantgw/gateway/admin/console"
	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

// listeners serves a new API on an embedded store behind two in-memory listeners, as serve
// wires it: every path of the public one to Public, of the operator one to Operator.
func listeners(t *testing.T) (public, operator *fasthttp.HostClient) {
	e := newEnv(t, openStore(t, balance.Options{DataDir: t.TempDir()}), nil)
	hc := func(h fasthttp.RequestHandler) *fasthttp.HostClient {
		ln := fasthttputil.NewInmemoryListener()
		srv := &fasthttp.Server{Handler: h}
		go srv.Serve(ln) //nolint:errcheck // ends when the listener closes
		t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close() })
		return &fasthttp.HostClient{Addr: "gateway.test", Dial: func(string) (net.Conn, error) { return ln.Dial() },
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	}
	return hc(e.api.Public), hc(e.api.Operator)
}

// must sends r to hc and fails the test unless the answer has status want.
func must(t *testing.T, hc *fasthttp.HostClient, want int, r testkit.Request) testkit.Answer {
	t.Helper()
	a := testkit.Do(t, hc, r)
	if a.Status != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Method, r.Path, a.Status, want, a.Body)
	}
	return a
}

// TestOpenAPIOnEachListener: /openapi.json answers, without credentials, the OpenAPI 3.1
// document of the listener asked: the public one has the management API and not the
// operator's, the operator one the reverse.
func TestOpenAPIOnEachListener(t *testing.T) {
	t.Parallel()
	pub, op := listeners(t)
	for _, tc := range []struct {
		listener      string
		hc            *fasthttp.HostClient
		has, hasNot   string
		securityLabel string
	}{
		{"public", pub, "/v1/Account/{auth_id}/Subaccount/", "/admin/v1/Account/", "basic"},
		{"operator", op, "/admin/v1/Account/", "/v1/Account/{auth_id}/Subaccount/", "operator"},
	} {
		t.Run(tc.listener, func(t *testing.T) {
			r := must(t, tc.hc, 200, testkit.Request{Method: "GET", Path: "/openapi.json"})
			if !strings.HasPrefix(r.Header["Content-Type"], "application/json") {
				t.Fatalf("Content-Type %q", r.Header["Content-Type"])
			}
			var doc struct {
				OpenAPI  string                    `json:"openapi"`
				Paths    map[string]any            `json:"paths"`
				Security []map[string][]string     `json:"security"`
				Info     map[string]any            `json:"info"`
				Comps    map[string]map[string]any `json:"components"`
			}
			if err := json.Unmarshal(r.Body, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.OpenAPI != "3.1.0" || doc.Paths[tc.has] == nil || doc.Paths[tc.hasNot] != nil ||
				doc.Paths["/openapi.json"] == nil || doc.Paths["/console/"] == nil {
				t.Fatalf("document %s: openapi %q, paths %v", tc.listener, doc.OpenAPI, keys(doc.Paths))
			}
			if len(doc.Security) == 0 || doc.Security[0][tc.securityLabel] == nil {
				t.Fatalf("security %v", doc.Security)
			}
			if doc.Comps["schemas"]["Error"] == nil || doc.Comps["schemas"]["Account"] == nil {
				t.Fatal("no Error or Account schema")
			}
		})
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestConsoleIsServed: the console's page and files answer on both listeners without
// credentials, with the security headers; the operator listener's page signs in with the
// operator token; /console redirects; an unknown file is 404; a write is 405.
func TestConsoleIsServed(t *testing.T) {
	t.Parallel()
	pub, op := listeners(t)
	for _, tc := range []struct {
		hc                    *fasthttp.HostClient
		path, ctype, contains string
	}{
		{pub, "/console/", "text/html", `data-listener="public"`},
		{op, "/console/", "text/html", `data-listener="operator"`},
		{pub, "/console/app.js", "text/javascript", "use strict"},
		{pub, "/console/style.css", "text/css", "body"},
		{op, "/console/vendor/uplot/uPlot.iife.min.js", "text/javascript", "uPlot"},
	} {
		r := must(t, tc.hc, 200, testkit.Request{Method: "GET", Path: tc.path})
		if !strings.HasPrefix(r.Header["Content-Type"], tc.ctype) || !strings.Contains(string(r.Body), tc.contains) {
			t.Errorf("%s: %q, body without %q", tc.path, r.Header["Content-Type"], tc.contains)
		}
		for h, want := range map[string]string{"Content-Security-Policy": console.CSP, "X-Content-Type-Options": "nosniff",
			"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if r.Header[h] != want {
				t.Errorf("%s: %s %q, want %q", tc.path, h, r.Header[h], want)
			}
		}
	}
	if !strings.Contains(console.CSP, "script-src 'self';") || strings.Contains(console.CSP, "unsafe") {
		t.Errorf("CSP %q", console.CSP)
	}
	if r := must(t, pub, 301, testkit.Request{Method: "GET", Path: "/console"}); !strings.HasSuffix(r.Header["Location"], "/console/") {
		t.Errorf("redirect to %q", r.Header["Location"])
	}
	must(t, pub, 404, testkit.Request{Method: "GET", Path: "/console/nothing.js"})
	must(t, op, 404, testkit.Request{Method: "GET", Path: "/console/vendor/"})
	must(t, pub, 405, testkit.Request{Method: "POST", Path: "/console/", Body: "{}"})
	must(t, op, 405, testkit.Request{Method: "DELETE", Path: "/openapi.json"})
}
