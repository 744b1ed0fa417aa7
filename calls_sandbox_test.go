package main

import (
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// TestSandboxVoiceSettlesItsCalls: end to end on one machine, as the README's tour shows it:
// a call route's call holds money; the sandbox voice backend answers with a call id, talks a
// second and settles the hold through the operator API; the Balance shows the money held,
// then charged.
func TestSandboxVoiceSettlesItsCalls(t *testing.T) {
	sb, err := gateway.StartSandboxCalls(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Stop)
	call := config.DefaultCall()
	call.Rate = "0.60" // 0.01 a second
	routes := []policy.RouteSpec{{Name: "voice.call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/",
		Upstream: "voice", Permission: "calls", Price: "0.0100"}}
	stk := startStackWith(t, routes, map[string]gateway.Upstream{"voice": {URL: sb.VoiceURL}, "sms": {URL: sb.SMSURL}},
		stackOptions{calls: []*balance.CallSpec{balance.CallSpecOf(&call, "voice")}})
	sb.SandboxCalls("http://"+stk.ops.Addr, stk.opToken)

	ma := testkit.NewMain(t, stk.ops, stk.opToken, "Acme", "10.00")
	a := testkit.Do(t, stk.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + ma.ID + "/Call/", Cred: &ma, Body: `{"to":"+14155550111"}`})
	id := a.Header["X-Call-Hold-Id"]
	if a.Status != 201 || id == "" || a.Header["X-Call-Max-Duration"] != "600" || a.JSON(t)["call_uuid"] == nil {
		t.Fatalf("call: %d %v %s", a.Status, a.Header, a.Body)
	}
	bal := func() map[string]any {
		return testkit.Do(t, stk.pub, testkit.Request{Method: "GET", Path: "/v1/Account/" + ma.ID + "/Balance/", Cred: &ma}).JSON(t)
	}
	if b := bal(); b["balance"] != "9.99" || b["held"] != "6.00" || b["available"] != "3.99" {
		t.Fatalf("while the call talks: %v", b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		h := testkit.Do(t, stk.ops, testkit.Request{Method: "GET", Path: "/admin/v1/Hold/" + id + "/", Bearer: stk.opToken}).JSON(t)
		if h["status"] == "settled" {
			// one second talked; billed by the minute (60/60) at 0.60 a minute
			if h["charged"] != "0.60" {
				t.Fatalf("settled hold %v", h)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not settle its call: %v", h)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b := bal(); b["balance"] != "9.39" || b["held"] != "0.00" || b["available"] != "9.39" {
		t.Fatalf("after the call: %v", b)
	}
}
