package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// TestNumbersThroughTheListeners wires the listeners as serve does, with a call route that
// checks the caller-ID field "from": the operator adds a number, the main account moves it
// to a subaccount and the subaccount gives it back through the public listener with the
// number written as %2B and as +; a call from the subaccount's own number is forwarded, one
// from a number the path account does not own is 403 NUMBER_NOT_OWNED, and that refusal
// shows on the operator listener's /metrics under its reason and outcome.
func TestNumbersThroughTheListeners(t *testing.T) {
	voice, sms, stop, err := gateway.StartSandbox()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	stk := startStackWith(t, []policy.RouteSpec{{Name: "voice.call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/",
		Upstream: "voice", Permission: "calls", Price: "0.0100", CallerID: "from"}},
		map[string]gateway.Upstream{"voice": {URL: voice}, "sms": {URL: sms}}, stackOptions{})
	bearer := "Bearer " + stk.opToken
	ma := testkit.NewMain(t, stk.ops, stk.opToken, "Acme", "1.00")
	r := testkit.Do(t, stk.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + ma.ID + "/Subaccount/", Cred: &ma,
		Body: `{"name":"S"}`, ContentType: "application/json"})
	var sa struct {
		AuthID    string `json:"auth_id"`
		AuthToken string `json:"auth_token"`
	}
	if err := json.Unmarshal(r.Body, &sa); r.Status != 201 || err != nil {
		t.Fatalf("subaccount: %d %s", r.Status, r.Body)
	}
	sub := testkit.Cred{ID: sa.AuthID, Token: sa.AuthToken}
	const n = "+14155550100"
	if r := get(t, stk.ops, "POST", "/admin/v1/Account/"+ma.ID+"/Number/", bearer, `{"number":"`+n+`"}`); r.status != 201 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	owner := func(want string) {
		t.Helper()
		r := get(t, stk.ops, "GET", "/admin/v1/Number/%2B14155550100/", bearer, "")
		if r.status != 200 || !strings.Contains(r.body, `"auth_id":"`+want+`"`) {
			t.Fatalf("look-up: %d %s, want %s", r.status, r.body, want)
		}
	}
	pub := func(c testkit.Cred, method, path, body string) testkit.Answer {
		t.Helper()
		req := testkit.Request{Method: method, Path: path, Cred: &c, Body: body}
		if body != "" {
			req.ContentType = "application/json"
		}
		return testkit.Do(t, stk.pub, req)
	}
	if a := pub(ma, "POST", "/v1/Account/"+ma.ID+"/Number/%2B14155550100/", `{"auth_id":"`+sub.ID+`"}`); a.Status != 200 {
		t.Fatalf("move (%%2B): %d %s", a.Status, a.Body)
	}
	owner(sub.ID)
	if a := pub(sub, "GET", "/v1/Account/"+sub.ID+"/Number/"+n+"/", ""); a.Status != 200 {
		t.Fatalf("read (+): %d %s", a.Status, a.Body)
	}

	call := "/v1/Account/%s/Call/"
	if a := pub(sub, "POST", strings.Replace(call, "%s", sub.ID, 1), `{"to":"+15550100","from":"`+n+`"}`); a.Status != 201 {
		t.Fatalf("a call from the subaccount's number: %d %s", a.Status, a.Body)
	}
	a := pub(ma, "POST", strings.Replace(call, "%s", ma.ID, 1), `{"to":"+15550100","from":"`+n+`"}`)
	if code, d := a.ErrCode(t); a.Status != 403 || code != "NUMBER_NOT_OWNED" || d["number"] != n || d["field"] != "from" {
		t.Fatalf("a call from the subaccount's number on the main account: %d %s", a.Status, a.Body)
	}
	if a := pub(sub, "POST", strings.Replace(call, "%s", sub.ID, 1), `{"to":"+15550100"}`); a.Status != 400 {
		t.Fatalf("a call without from: %d %s", a.Status, a.Body)
	}

	m := get(t, stk.ops, "GET", "/metrics", bearer, "")
	for _, want := range []string{
		`gateway_refusals_total{reason="number_not_owned"} 1`,
		`gateway_requests_total{outcome="number_not_owned",route="voice.call"} 1`,
		`gateway_requests_total{outcome="ok",route="voice.call"} 1`,
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if a := pub(sub, "DELETE", "/v1/Account/"+sub.ID+"/Number/%2B14155550100/", ""); a.Status != 204 {
		t.Fatalf("give back (%%2B): %d %s", a.Status, a.Body)
	}
	owner(ma.ID)
}
