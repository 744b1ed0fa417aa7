package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// TestNoRouteUnderAnAccount: on the public listener, an authenticated request under
// /v1/Account/{auth_id}/ whose method and path are neither a management resource nor a
// configured route is 404 ROUTE_NOT_FOUND (API.md §3), whatever account the path names; the
// same request without valid credentials is 401; a path outside /v1/Account/{auth_id}/ stays
// the management API's 404 NOT_FOUND; routes and management resources answer as before.
func TestNoRouteUnderAnAccount(t *testing.T) {
	stk := startStack(t, []policy.RouteSpec{{Name: "voice.call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/",
		Upstream: "voice", Permission: "calls", Price: "0"}},
		map[string]gateway.Upstream{"voice": {URL: "http://127.0.0.1:1"}})
	mk := func() (id, basic string) {
		ma := testkit.NewMain(t, stk.ops, stk.opToken, "Acme", "")
		return ma.ID, testkit.BasicAuth(ma.ID, ma.Token)
	}
	id, basic := mk()
	other, _ := mk()
	wrong := testkit.BasicAuth(id, strings.Repeat("x", 40))
	for _, c := range []struct {
		method, path, auth string
		status             int
		code               string
	}{
		{"GET", "/v1/Account/" + id + "/Call/", basic, 404, "ROUTE_NOT_FOUND"}, // the route is POST only
		{"POST", "/v1/Account/" + id + "/Nothing/", basic, 404, "ROUTE_NOT_FOUND"},
		{"GET", "/v1/Account/" + id + "/Balance/Nothing/", basic, 404, "ROUTE_NOT_FOUND"},
		{"GET", "/v1/Account/" + id + "/Subaccount/SA_" + strings.Repeat("Q", 20) + "/Nothing/", basic, 404, "ROUTE_NOT_FOUND"},
		{"GET", "/v1/Account/" + other + "/Nothing/", basic, 404, "ROUTE_NOT_FOUND"}, // says nothing of other accounts
		{"GET", "/v1/Account/whatever/Nothing/", basic, 404, "ROUTE_NOT_FOUND"},
		{"POST", "/v1/Account/" + id + "/Nothing/", "", 401, "INVALID_CREDENTIALS"},
		{"POST", "/v1/Account/" + id + "/Nothing/", wrong, 401, "INVALID_CREDENTIALS"},
		{"GET", "/nowhere", basic, 404, "NOT_FOUND"},
		{"GET", "/v1/Account/", basic, 404, "NOT_FOUND"},
		{"GET", "/v1/Account/" + id + "/Balance/", basic, 200, ""},
		{"DELETE", "/v1/Account/" + id + "/Balance/", basic, 405, "METHOD_NOT_ALLOWED"},
	} {
		r := get(t, stk.pub, c.method, c.path, c.auth, "")
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(r.body), &body)
		if r.status != c.status || body.Error.Code != c.code {
			t.Errorf("%s %s (auth %t): %d %s, want %d %s", c.method, c.path, c.auth != "", r.status, r.body, c.status, c.code)
		}
	}
}
