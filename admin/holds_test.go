package admin

import (
	"context"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// openCall opens a call on a's account through the store, as the gateway's admit does: a
// hold of upstream up, 0.60 a minute by the second, grants of 60 s.
func openCall(t *testing.T, st *balance.Store, a account, root string, chain []string, up string) string {
	t.Helper()
	spec := balance.NewCallSpec(balance.CallSpec{Tariff: model.Tariff{Rate: 600_000, First: 1, Next: 1},
		Grant: 60, Max: 600, Min: 5, RingTimeout: 10, Grace: 10, Commit: true, Upstream: up})
	req := &balance.AdmitRequest{Keys: balance.AdmitKeys(root, a.id, chain), TokenHash: []byte(policy.HashToken([]byte(a.tok)).Hex()),
		Permission: model.PermCalls, Route: "call.create", RequestID: []byte(policy.NewTransferID()),
		Call: &balance.CallRequest{HoldID: policy.NewHoldID(), Spec: spec}}
	var d balance.Decision
	if err := st.Admit(context.Background(), req, &d); err != nil || !d.Admitted {
		t.Fatalf("admit a call: %+v %v", d, err)
	}
	return req.Call.HoldID
}

// TestHoldEndpoints: the backend reads, extends, settles and voids holds on the operator
// listener, with the operator token or its own (which reaches its own routes' holds and
// nothing else); replays answer the same object, another body after the end is 409
// hold_ended; tenants list the open holds of their subtree.
func TestHoldEndpoints(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, func(o *Options) { o.UpstreamTokens = map[string]string{"voice": "voice-secret", "sms": "sms-secret"} })
		m := e.main(`{"name":"M"}`)
		c := e.child(m, `{"name":"C"}`)
		e.op("POST", "/admin/v1/Account/"+m.id+"/Credit/", `{"amount":"10.00"}`)
		id := openCall(t, st, c, m.id, []string{m.id}, "voice")
		other := openCall(t, st, c, m.id, []string{m.id}, "fax")

		voice := func(method, path, body string) testkit.Answer {
			return e.do(testkit.Request{Method: method, Path: path, Bearer: "voice-secret", Body: body})
		}
		h := voice("GET", "/admin/v1/Hold/"+id+"/", "")
		if o := h.JSON(t); h.Status != 200 || o["hold_id"] != id || o["status"] != "open" || o["granted_seconds"] != 60.0 ||
			o["held"] != "0.60" || o["auth_id"] != c.id || o["billing_auth_id"] != m.id || o["ended_at"] != nil || o["final"] != false {
			t.Fatalf("read: %d %s", h.Status, h.Body)
		}
		for _, r := range []testkit.Answer{
			voice("GET", "/admin/v1/Hold/"+other+"/", ""),               // another backend's hold
			voice("GET", "/admin/v1/Hold/HL_00000000000000000000/", ""), // no such hold
			voice("GET", "/admin/v1/Account/", ""),                      // not a hold endpoint
		} {
			if code, _ := r.ErrCode(t); r.Status != 403 || code != "FORBIDDEN" {
				t.Fatalf("a backend's token beyond its holds: %d %s", r.Status, r.Body)
			}
		}
		if r := e.op("GET", "/admin/v1/Hold/HL_00000000000000000000/", ""); r.Status != 404 {
			t.Fatalf("unknown hold for the operator: %d", r.Status)
		}
		if r := voice("POST", "/admin/v1/Hold/"+id+"/Extend/", `{"answered_seconds":50}`); r.Status != 200 || r.JSON(t)["granted_seconds"] != 120.0 {
			t.Fatalf("extend: %d %s", r.Status, r.Body)
		}
		cc := c.cred()
		l := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/Hold/?status=open&limit=1", Cred: &cc}).JSON(t)
		meta := l["meta"].(map[string]any)
		if meta["total_count"] != 2.0 || len(l["objects"].([]any)) != 1 || meta["next"] == nil {
			t.Fatalf("tenant list: %v", l)
		}
		if r := e.do(testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/Hold/?status=settled", Cred: &cc}); r.Status != 400 {
			t.Fatalf("status=settled: %d", r.Status)
		}
		for body, field := range map[string]string{`{}`: "duration", `{"duration":-1}`: "duration", `{"duration":10,"cost":"1"}`: "cost",
			`{"cost":"-0.01"}`: "cost", `{"cost":"1e2"}`: "cost", `{"seconds":3}`: "seconds"} {
			r := e.do(testkit.Request{Method: "POST", Path: "/admin/v1/Hold/" + id + "/Settle/", Bearer: "voice-secret", Body: body, Invalid: true})
			if _, d := r.ErrCode(t); r.Status != 400 || d["field"] != field {
				t.Fatalf("settle %s: %d %s", body, r.Status, r.Body)
			}
		}
		s1 := voice("POST", "/admin/v1/Hold/"+id+"/Settle/", `{"duration":90}`)
		if o := s1.JSON(t); s1.Status != 200 || o["status"] != "settled" || o["charged"] != "0.90" || o["ended_at"] == nil {
			t.Fatalf("settle: %d %s", s1.Status, s1.Body)
		}
		if s2 := voice("POST", "/admin/v1/Hold/"+id+"/Settle/", `{"duration":90}`); s2.Status != 200 || string(s2.Body) != string(s1.Body) {
			t.Fatalf("replay: %d %s", s2.Status, s2.Body)
		}
		for _, path := range []string{"Settle/", "Void/"} {
			body := `{"duration":91}`
			if path == "Void/" {
				body = `{}`
			}
			r := voice("POST", "/admin/v1/Hold/"+id+"/"+path, body)
			if _, d := r.ErrCode(t); r.Status != 409 || d["reason"] != "hold_ended" {
				t.Fatalf("%s after settle: %d %s", path, r.Status, r.Body)
			}
		}
		if r := e.op("POST", "/admin/v1/Hold/"+other+"/Void/", `{}`); r.Status != 200 || r.JSON(t)["status"] != "voided" {
			t.Fatalf("operator void: %d %s", r.Status, r.Body)
		}
		b := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/Balance/", Cred: &cc}).JSON(t)
		if b["balance"] != "9.10" || b["held"] != "0.00" || b["available"] != "9.10" {
			t.Fatalf("balance %v", b)
		}
	})
}
