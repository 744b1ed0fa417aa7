package admin

import (
	"strings"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

// tree is main M with children A (may create subaccounts) and B, and A's child A1.
type tree struct{ m, a, b, a1 account }

func (e *env) tree() tree {
	e.t.Helper()
	m := e.main("")
	a := e.child(m, `{"name":"A","permissions":{"subaccounts":true}}`)
	b := e.child(m, `{"name":"B"}`)
	a1 := e.child(a, `{"name":"A1"}`)
	return tree{m, a, b, a1}
}

func TestAccessAndCredentials(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		tr := e.tree()
		for _, basic := range []bool{false, true} {
			form := map[bool]string{false: "headers", true: "basic"}[basic]
			sub := func(c account) *testkit.Cred { cr := c.cred().As(basic); return &cr }
			wrong := testkit.Cred{ID: tr.a.id, Token: strings.Repeat("x", 40), Basic: basic}
			unknown := testkit.Cred{ID: "SA_" + strings.Repeat("Q", 20), Token: tr.a.tok, Basic: basic}
			malformed := testkit.Cred{ID: "nope", Token: "short", Basic: basic}
			cases := []struct {
				name   string
				cred   *testkit.Cred
				method string
				path   string
				want   int
				code   string
			}{
				{"self", sub(tr.a), "GET", "/v1/Account/" + tr.a.id + "/", 200, ""},
				{"self without slash", sub(tr.a), "GET", "/v1/Account/" + tr.a.id, 200, ""},
				{"no credentials", nil, "GET", "/v1/Account/" + tr.a.id + "/", 401, "INVALID_CREDENTIALS"},
				{"wrong token", &wrong, "GET", "/v1/Account/" + tr.a.id + "/", 401, "INVALID_CREDENTIALS"},
				{"unknown id", &unknown, "GET", "/v1/Account/" + tr.a.id + "/", 401, "INVALID_CREDENTIALS"},
				{"malformed", &malformed, "GET", "/v1/Account/" + tr.a.id + "/", 401, "INVALID_CREDENTIALS"},
				{"sibling", sub(tr.a), "GET", "/v1/Account/" + tr.b.id + "/", 403, "FORBIDDEN"},
				{"sibling's child list", sub(tr.b), "GET", "/v1/Account/" + tr.a.id + "/Subaccount/", 403, "FORBIDDEN"},
				{"sibling via own path", sub(tr.a), "GET", "/v1/Account/" + tr.a.id + "/Subaccount/" + tr.b.id + "/", 403, "FORBIDDEN"},
				{"child to parent", sub(tr.a), "GET", "/v1/Account/" + tr.m.id + "/", 403, "FORBIDDEN"},
				{"grandchild to root", sub(tr.a1), "GET", "/v1/Account/" + tr.m.id + "/Subaccount/", 403, "FORBIDDEN"},
				{"nonexistent path account", sub(tr.m), "GET", "/v1/Account/SA_" + strings.Repeat("Z", 20) + "/", 403, "FORBIDDEN"},
				{"malformed path account", sub(tr.m), "GET", "/v1/Account/whatever/", 403, "FORBIDDEN"},
				{"other tree", sub(tr.m), "GET", "/v1/Account/" + e.main("").id + "/", 403, "FORBIDDEN"},
				{"parent to grandchild", sub(tr.m), "GET", "/v1/Account/" + tr.a1.id + "/", 200, ""},
				{"parent to grandchild via child", sub(tr.m), "GET", "/v1/Account/" + tr.a.id + "/Subaccount/" + tr.a1.id + "/", 200, ""},
				{"grandchild not a direct child", sub(tr.m), "GET", "/v1/Account/" + tr.m.id + "/Subaccount/" + tr.a1.id + "/", 404, "NOT_FOUND"},
				{"parent to child", sub(tr.a), "GET", "/v1/Account/" + tr.a.id + "/Subaccount/" + tr.a1.id + "/", 200, ""},
				{"child updates parent", sub(tr.a1), "PATCH", "/v1/Account/" + tr.m.id + "/Subaccount/" + tr.a.id + "/", 403, "FORBIDDEN"},
				{"unknown path", sub(tr.a), "GET", "/v1/Account/" + tr.a.id + "/Nothing/", 404, "ROUTE_NOT_FOUND"},
				{"not an API path", sub(tr.a), "GET", "/", 404, "NOT_FOUND"},
				{"wrong method", sub(tr.a), "DELETE", "/v1/Account/" + tr.a.id + "/", 405, "METHOD_NOT_ALLOWED"},
			}
			for _, c := range cases {
				t.Run(form+"/"+c.name, func(t *testing.T) {
					r := e.do(testkit.Request{Method: c.method, Path: c.path, Cred: c.cred})
					if r.Status != c.want {
						t.Fatalf("status %d, want %d: %s", r.Status, c.want, r.Body)
					}
					if c.code != "" {
						if code, _ := r.ErrCode(t); code != c.code {
							t.Fatalf("code %s, want %s", code, c.code)
						}
					}
					if c.want == 401 && r.Header["Www-Authenticate"] != `Basic realm="gateway"` {
						t.Fatalf("WWW-Authenticate = %q", r.Header["Www-Authenticate"])
					}
				})
			}
		}
	})
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[1].open(t), nil)
	r := e.do(testkit.Request{Method: "GET", Path: "/nothing", Header: map[string]string{"X-Request-ID": "abc-123"}})
	if r.Header["X-Request-Id"] != "abc-123" {
		t.Fatalf("sane request id not reused: %q", r.Header["X-Request-Id"])
	}
	if m := r.JSON(t); m["request_id"] != "abc-123" {
		t.Fatalf("error body request_id = %v", m["request_id"])
	}
	r = e.do(testkit.Request{Method: "GET", Path: "/nothing", Header: map[string]string{"X-Request-ID": "bad id with spaces"}})
	if id := r.Header["X-Request-Id"]; id == "" || strings.Contains(id, " ") {
		t.Fatalf("insane request id kept: %q", id)
	}
	r = e.do(testkit.Request{Method: "GET", Path: "/admin/v1/Account/", Bearer: testOperatorToken})
	if r.Status != 200 || r.Header["X-Request-Id"] == "" {
		t.Fatalf("operator answer %d without request id", r.Status)
	}
}

func TestOperatorAuth(t *testing.T) {
	t.Parallel()
	st := backends[1].open(t)
	e := newEnv(t, st, nil)
	cases := []struct {
		name, auth string
		want       int
	}{
		{"none", "", 401},
		{"wrong", "Bearer nope", 401},
		{"prefix of token", "Bearer " + testOperatorToken[:5], 401},
		{"basic", "Basic b3A6c2VjcmV0", 401},
		{"right", "Bearer " + testOperatorToken, 200},
		{"right, lower-case scheme", "bearer " + testOperatorToken, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			if c.auth != "" {
				h["Authorization"] = c.auth
			}
			r := e.do(testkit.Request{Method: "GET", Path: "/admin/v1/Account/", Header: h})
			if r.Status != c.want {
				t.Fatalf("status %d, want %d: %s", r.Status, c.want, r.Body)
			}
			if c.want == 401 {
				if code, _ := r.ErrCode(t); code != "INVALID_CREDENTIALS" {
					t.Fatalf("code %s", code)
				}
				if r.Header["Www-Authenticate"] == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
		})
	}
	// Account credentials never open the operator API, and no operator token refuses all.
	m := e.main("")
	r := e.do(testkit.Request{Method: "GET", Path: "/admin/v1/Account/" + m.id + "/", Cred: &testkit.Cred{ID: m.id, Token: m.tok}})
	if r.Status != 401 {
		t.Fatalf("account credentials on operator API: %d", r.Status)
	}
	e2 := newEnv(t, st, func(o *Options) { o.OperatorToken = "" })
	if r := e2.do(testkit.Request{Method: "GET", Path: "/admin/v1/Account/", Bearer: "x"}); r.Status != 401 {
		t.Fatalf("empty operator token: %d", r.Status)
	}
	if r := e.op("GET", "/admin/v1/Nothing/", ""); r.Status != 404 {
		t.Fatalf("unknown operator path: %d", r.Status)
	}
	if r := e.op("GET", "/admin/v1/Account/MA_"+strings.Repeat("0", 20)+"/", ""); r.Status != 404 {
		t.Fatalf("unknown account on operator API: %d", r.Status)
	}
}
