package admin

import (
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

// TestNoRouteUnderAnAccount: a public request under /v1/Account/{auth_id}/ that is no
// management resource is, once authenticated, 404 ROUTE_NOT_FOUND (API.md §3) whatever
// account the path names; without valid credentials it is 401 with the Basic challenge
// (and counts as a failed authentication). Other unknown paths, and the operator API's,
// stay 404 NOT_FOUND.
func TestNoRouteUnderAnAccount(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m, other := e.main(""), e.main("")
		c := m.cred()
		wrong := testkit.Cred{ID: m.id, Token: strings.Repeat("x", 40)}
		for _, k := range []struct {
			method, path string
			cred         *testkit.Cred
			bearer       string
			want         int
			code         string
		}{
			{"GET", "/v1/Account/" + m.id + "/Nothing/", &c, "", 404, "ROUTE_NOT_FOUND"},
			{"POST", "/v1/Account/" + m.id + "/Call/", &c, "", 404, "ROUTE_NOT_FOUND"},
			{"GET", "/v1/Account/" + m.id + "/Subaccount/" + other.id + "/Token/Nothing/", &c, "", 404, "ROUTE_NOT_FOUND"},
			{"GET", "/v1/Account/" + other.id + "/Nothing/", &c, "", 404, "ROUTE_NOT_FOUND"},
			{"GET", "/v1/Account/" + m.id + "/Nothing/", nil, "", 401, "INVALID_CREDENTIALS"},
			{"GET", "/v1/Account/" + m.id + "/Nothing/", &wrong, "", 401, "INVALID_CREDENTIALS"},
			{"GET", "/v1/Account/", &c, "", 404, "NOT_FOUND"},
			{"GET", "/v2/Account/" + m.id + "/Nothing/", &c, "", 404, "NOT_FOUND"},
			{"GET", "/admin/v1/Account/" + m.id + "/Nothing/", nil, testOperatorToken, 404, "NOT_FOUND"},
		} {
			r := e.do(testkit.Request{Method: k.method, Path: k.path, Cred: k.cred, Bearer: k.bearer})
			code, _ := r.ErrCode(t)
			if r.Status != k.want || code != k.code {
				t.Errorf("%s %s: %d %s, want %d %s", k.method, k.path, r.Status, r.Body, k.want, k.code)
			}
			if k.want == 401 && r.Header["Www-Authenticate"] != `Basic realm="gateway"` {
				t.Errorf("%s %s: 401 without the Basic challenge: %q", k.method, k.path, r.Header["Www-Authenticate"])
			}
		}
	})
}

// TestNoRouteCountsFailedAuthentication: guessing credentials on a path that is no resource
// is limited like on any other: past the limit, 429 TOO_MANY_AUTH_FAILURES.
func TestNoRouteCountsFailedAuthentication(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		lim := &countingLimiter{max: 2}
		e := newEnv(t, st, func(o *Options) { o.AuthLimiter = lim })
		m := e.main("")
		wrong := testkit.Cred{ID: m.id, Token: strings.Repeat("x", 40)}
		var codes []string
		for range 3 {
			code, _ := e.do(testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Nothing/", Cred: &wrong}).ErrCode(t)
			codes = append(codes, code)
		}
		if codes[0] != "INVALID_CREDENTIALS" || codes[2] != "TOO_MANY_AUTH_FAILURES" {
			t.Fatalf("answers %v: the failures were not counted", codes)
		}
	})
}

// countingLimiter throttles every client once max authentications have failed.
type countingLimiter struct {
	mu          sync.Mutex
	max, failed int
}

func (l *countingLimiter) Throttled(*fasthttp.RequestCtx) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed >= l.max
}

func (l *countingLimiter) Failed(*fasthttp.RequestCtx) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed++
	return l.failed > l.max
}
