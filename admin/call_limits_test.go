package admin

import (
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

// TestCallLimitFields: max_concurrent_calls and calls_per_second are set by the operator
// or an ancestor (0 = none), read back with active_calls; the account itself cannot set
// them; the balance shows held and available.
func TestCallLimitFields(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main(`{"name":"M","max_concurrent_calls":50,"calls_per_second":"10"}`)
		if m.obj["max_concurrent_calls"] != 50.0 || m.obj["calls_per_second"] != 10.0 || m.obj["active_calls"] != 0.0 {
			t.Fatalf("main %v", m.obj)
		}
		c := e.child(m, `{"name":"C","max_concurrent_calls":5}`)
		if c.obj["max_concurrent_calls"] != 5.0 || c.obj["calls_per_second"] != 0.0 {
			t.Fatalf("child %v", c.obj)
		}
		path := "/v1/Account/" + m.id + "/Subaccount/" + c.id + "/"
		mc := m.cred()
		u := e.must(200, testkit.Request{Method: "PATCH", Path: path, Cred: &mc, Body: `{"calls_per_second":3,"max_concurrent_calls":"0"}`}).JSON(t)
		if u["calls_per_second"] != 3.0 || u["max_concurrent_calls"] != 0.0 {
			t.Fatalf("updated %v", u)
		}
		// the account itself cannot raise its own limits
		cc := c.cred()
		if r := e.do(testkit.Request{Method: "PATCH", Path: path, Cred: &cc, Body: `{"calls_per_second":100}`}); r.Status != 403 {
			t.Fatalf("self update: %d %s", r.Status, r.Body)
		}
		if r := e.op("PATCH", "/admin/v1/Account/"+c.id+"/", `{"calls_per_second":7}`); r.Status != 200 || r.JSON(t)["calls_per_second"] != 7.0 {
			t.Fatalf("operator update: %d %s", r.Status, r.Body)
		}
		for _, body := range []string{`{"calls_per_second":-1}`, `{"calls_per_second":"many"}`, `{"max_concurrent_calls":1000001}`, `{"max_concurrent_calls":1.5}`} {
			r := e.do(testkit.Request{Method: "PATCH", Path: path, Cred: &mc, Body: body, Invalid: true})
			if _, d := r.ErrCode(t); r.Status != 400 || (d["field"] != "calls_per_second" && d["field"] != "max_concurrent_calls") {
				t.Fatalf("%s: %d %s", body, r.Status, r.Body)
			}
		}
		e.op("POST", "/admin/v1/Account/"+m.id+"/Credit/", `{"amount":"5.00"}`)
		b := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/Balance/", Cred: &cc}).JSON(t)
		if b["balance"] != "5.00" || b["held"] != "0.00" || b["available"] != "5.00" {
			t.Fatalf("balance %v", b)
		}
	})
}
