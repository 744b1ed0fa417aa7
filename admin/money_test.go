package admin

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// balanceOf reads the balance field of GET …/Balance/ as the account itself sees it.
func (e *env) balanceOf(a account) string {
	e.t.Helper()
	c := a.cred()
	r := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + a.id + "/Balance/", Cred: &c})
	return r.JSON(e.t)["balance"].(string)
}

func TestTransfers(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + m.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"100"}`})
		c := e.child(m, `{"name":"own","use_parent_balance":false}`)
		shared := e.child(m, `{"name":"shared"}`)
		g := e.child(m, `{"name":"reseller","use_parent_balance":false,"permissions":{"subaccounts":true}}`)
		gc := e.child(g, `{"name":"grandchild","use_parent_balance":false}`)
		other := e.main("")
		otherChild := e.child(other, `{"name":"x","use_parent_balance":false}`)
		mc := m.cred()
		path := "/v1/Account/" + m.id + "/Transfer/"

		r := e.must(201, testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"25.50","reference":"march"}`})
		tr := r.JSON(t)
		if tr["from"] != m.id || tr["to"] != c.id || tr["amount"] != "25.50" || tr["kind"] != "transfer" || tr["reference"] != "march" ||
			tr["from_balance_after"] != "74.50" || tr["to_balance_after"] != "25.50" || tr["currency"] != "USD" {
			t.Fatalf("transfer %s", r.Body)
		}
		// A negative amount pulls from the child; form bodies work as well.
		mb := mc.As(true)
		r = e.must(201, testkit.Request{Method: "POST", Path: path, Cred: &mb, ContentType: "application/x-www-form-urlencoded", Body: "to=" + c.id + "&amount=-0.50"})
		if tr = r.JSON(t); tr["from"] != c.id || tr["to"] != m.id || tr["amount"] != "0.50" {
			t.Fatalf("pull %s", r.Body)
		}
		if e.balanceOf(m) != "75.00" || e.balanceOf(c) != "25.00" {
			t.Fatalf("balances %s %s", e.balanceOf(m), e.balanceOf(c))
		}

		// Bad input: a clear error and nothing moved.
		for _, tc := range []struct {
			body   string
			status int
			code   string
			field  string
		}{
			{`{"to":"` + c.id + `","amount":"0"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"0.0000001"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"1e3"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":1e3}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"abc"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"99999999999999999999"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"1","currency":"EUR"}`, 400, "INVALID_REQUEST", "currency"},
			{`{"to":"` + c.id + `","amount":"1","extra":1}`, 400, "INVALID_REQUEST", "extra"},
			{`{"to":"nope","amount":"1"}`, 400, "INVALID_REQUEST", "to"},
			{`{"to":"SA_AAAAAAAAAAAAAAAAAAAA","amount":"1"}`, 403, "FORBIDDEN", ""},
			{`{"to":"` + otherChild.id + `","amount":"1"}`, 403, "FORBIDDEN", ""},
			{`{"to":"` + gc.id + `","amount":"1"}`, 400, "INVALID_REQUEST", "to"},
			{`{"to":"` + shared.id + `","amount":"1"}`, 409, "CONFLICT", ""},
			{`{"to":"` + c.id + `","amount":"75.000001"}`, 402, "INSUFFICIENT_BALANCE", ""},
			{`{"to":"` + c.id + `","amount":"-25.000001"}`, 402, "INSUFFICIENT_BALANCE", ""},
		} {
			r := e.do(testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: tc.body, Invalid: tc.status == 400})
			code, d := r.ErrCode(t)
			if r.Status != tc.status || code != tc.code || (tc.field != "" && d["field"] != tc.field) {
				t.Errorf("%s: %d %s", tc.body, r.Status, r.Body)
			}
		}
		if e.balanceOf(m) != "75.00" || e.balanceOf(c) != "25.00" || e.balanceOf(gc) != "0.00" {
			t.Fatalf("refusals moved money: %s %s", e.balanceOf(m), e.balanceOf(c))
		}
		// The child cannot move its parent's money; a sibling path is forbidden.
		cc := c.cred()
		if r := e.do(testkit.Request{Method: "POST", Path: path, Cred: &cc, Body: `{"to":"` + c.id + `","amount":"1"}`}); r.Status != 403 {
			t.Fatalf("child moving parent's money: %d", r.Status)
		}
		// 402 details name the payer.
		r = e.do(testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"-30"}`})
		if _, d := r.ErrCode(t); d["auth_id"] != c.id || d["available"] != "25.00" || d["required"] != "30.00" || d["currency"] != "USD" {
			t.Fatalf("402 details %s", r.Body)
		}
	})
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		c := e.child(m, `{"name":"own","use_parent_balance":false}`)
		credit := func(key, body string) testkit.Answer {
			return e.do(testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + m.id + "/Credit/", Bearer: testOperatorToken, Body: body, Header: map[string]string{"Idempotency-Key": key}})
		}
		first := credit("top-up-1", `{"amount":"10"}`)
		again := credit("top-up-1", `{"amount":"10"}`)
		if first.Status != 201 || again.Status != 201 || first.JSON(t)["transfer_id"] != again.JSON(t)["transfer_id"] || again.Header["Idempotent-Replayed"] != "true" {
			t.Fatalf("credit retry: %s / %s", first.Body, again.Body)
		}
		if r := credit("top-up-1", `{"amount":"11"}`); r.Status != 409 {
			t.Fatalf("key reuse: %d %s", r.Status, r.Body)
		} else if _, d := r.ErrCode(t); d["reason"] != "idempotency_key_reused" {
			t.Fatalf("key reuse details %s", r.Body)
		}
		if e.balanceOf(m) != "10.00" {
			t.Fatalf("balance after retries %s", e.balanceOf(m))
		}
		// Concurrent retries of one transfer: one movement, one answer.
		mc := m.cred()
		var wg sync.WaitGroup
		ids := make([]string, 20)
		for i := range ids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := e.do(testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Transfer/", Cred: &mc,
					Body: `{"to":"` + c.id + `","amount":"1.25"}`, Header: map[string]string{"Idempotency-Key": "pay-c"}})
				if r.Status == 201 {
					ids[i] = fmt.Sprint(r.JSON(t)["transfer_id"])
				}
			}(i)
		}
		wg.Wait()
		for _, id := range ids {
			if id == "" || id != ids[0] {
				t.Fatalf("concurrent retries answered %v", ids)
			}
		}
		if e.balanceOf(m) != "8.75" || e.balanceOf(c) != "1.25" {
			t.Fatalf("after concurrent retries %s %s", e.balanceOf(m), e.balanceOf(c))
		}
		if r := e.do(testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Transfer/", Cred: &mc, Body: `{"to":"` + c.id + `","amount":"1"}`,
			Header: map[string]string{"Idempotency-Key": "has space"}}); r.Status != 400 {
			t.Fatalf("bad key: %d", r.Status)
		}
	})
}

func TestTransferLedger(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + m.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"100","reference":"seed"}`})
		c1 := e.child(m, `{"name":"a","use_parent_balance":false}`)
		c2 := e.child(m, `{"name":"b","use_parent_balance":false}`)
		mc := m.cred()
		for i := 0; i < 7; i++ {
			for _, c := range []account{c1, c2} {
				e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Transfer/", Cred: &mc, Body: `{"to":"` + c.id + `","amount":"1"}`})
			}
		}
		seen := map[string]bool{}
		total := 0
		for off := 0; ; off += 4 {
			r := e.must(200, testkit.Request{Method: "GET", Path: fmt.Sprintf("/v1/Account/%s/Transfer/?limit=4&offset=%d", m.id, off), Cred: &mc})
			out := r.JSON(t)
			total = int(out["meta"].(map[string]any)["total_count"].(float64))
			objs := out["objects"].([]any)
			if len(objs) == 0 {
				break
			}
			for _, o := range objs {
				id := o.(map[string]any)["transfer_id"].(string)
				if seen[id] {
					t.Fatalf("duplicate %s across pages", id)
				}
				seen[id] = true
			}
		}
		if total != 15 || len(seen) != 15 {
			t.Fatalf("total %d, seen %d; want 15", total, len(seen))
		}
		r := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Transfer/?subaccount=" + c1.id, Cred: &mc})
		if n := r.JSON(t)["meta"].(map[string]any)["total_count"]; n != 7.0 {
			t.Fatalf("filtered by subaccount: %v", n)
		}
		// The child sees its own side only.
		cc := c1.cred()
		r = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c1.id + "/Transfer/", Cred: &cc})
		if n := r.JSON(t)["meta"].(map[string]any)["total_count"]; n != 7.0 {
			t.Fatalf("child's ledger: %v", n)
		}
		if r := e.do(testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Transfer/?start=yesterday", Cred: &mc}); r.Status != 400 {
			t.Fatalf("bad start: %d", r.Status)
		}
		// Closing a child with money returns it to the parent as a ledger record of kind close.
		e.must(200, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/" + c2.id + "/", Cred: &mc, Body: `{"status":"closed"}`})
		r = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Transfer/?limit=1", Cred: &mc})
		last := r.JSON(t)["objects"].([]any)[0].(map[string]any)
		if last["kind"] != "close" || last["from"] != c2.id || last["amount"] != "7.00" {
			t.Fatalf("close record %v", last)
		}
		// Deleting returns it as kind delete.
		e.must(204, testkit.Request{Method: "DELETE", Path: "/v1/Account/" + m.id + "/Subaccount/" + c1.id + "/", Cred: &mc})
		r = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Transfer/?limit=1", Cred: &mc})
		last = r.JSON(t)["objects"].([]any)[0].(map[string]any)
		if last["kind"] != "delete" || last["from"] != c1.id || last["amount"] != "7.00" {
			t.Fatalf("delete record %v", last)
		}
		if e.balanceOf(m) != "100.00" {
			t.Fatalf("main after close and delete %s", e.balanceOf(m))
		}
	})
}

// TestUsageAndCascadeReturns: usage per route and day, for one account and summed over its
// subtree; and a cascade delete returns every own balance of the subtree to the parent, one
// ledger record each.
func TestUsageAndCascadeReturns(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		ctx := context.Background()
		m := e.main("")
		e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + m.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"10"}`})
		r := e.child(m, `{"name":"reseller","use_parent_balance":false,"permissions":{"subaccounts":true}}`)
		c := e.child(r, `{"name":"customer","use_parent_balance":false}`)
		c2 := e.child(r, `{"name":"shared customer"}`)
		mc := m.cred()
		e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Transfer/", Cred: &mc, Body: `{"to":"` + r.id + `","amount":"3"}`})
		rc := r.cred()
		e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + r.id + "/Transfer/", Cred: &rc, Body: `{"to":"` + c.id + `","amount":"1.25"}`})

		// Admit a few requests straight through the store's admit script.
		admit := func(a account, route string, price model.Amount) {
			rec, err := st.Account(ctx, a.id)
			if err != nil {
				t.Fatal(err)
			}
			var d balance.Decision
			req := &balance.AdmitRequest{Keys: balance.AdmitKeys(rec.Root, rec.ID, rec.Chain), CallerPos: 0,
				TokenHash: []byte(policy.HashToken([]byte(a.tok)).Hex()), Price: price, Route: route,
				RequestID: []byte(policy.NewTransferID())}
			if err := st.Admit(ctx, req, &d); err != nil || !d.Admitted {
				t.Fatalf("admit %s: %v %+v", a.id, err, d)
			}
		}
		admit(c, "call", 10_000)
		admit(c, "call", 10_000)
		admit(c, "sms", 5_000)
		admit(c2, "call", 10_000)
		admit(r, "call", 10_000)

		today := time.Now().UTC().Format(time.DateOnly)
		cc := c.cred()
		out := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/Usage/", Cred: &cc}).JSON(t)
		rows := out["objects"].([]any)
		if len(rows) != 2 {
			t.Fatalf("customer usage %v", out)
		}
		call := rows[0].(map[string]any)
		if call["date"] != today || call["route"] != "call" || call["count"] != 2.0 || call["charged"] != "0.02" {
			t.Fatalf("customer call usage %v", call)
		}
		out = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + r.id + "/Usage/?include_subaccounts=true&start=" + today + "&end=" + today, Cred: &rc}).JSON(t)
		rows = out["objects"].([]any)
		if len(rows) != 2 || rows[0].(map[string]any)["count"] != 4.0 || rows[0].(map[string]any)["charged"] != "0.04" || rows[1].(map[string]any)["count"] != 1.0 {
			t.Fatalf("subtree usage %v", out)
		}
		out = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + r.id + "/Usage/", Cred: &rc}).JSON(t)
		if rows = out["objects"].([]any); len(rows) != 1 || rows[0].(map[string]any)["count"] != 1.0 {
			t.Fatalf("reseller's own usage %v", out)
		}
		out = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + r.id + "/Usage/?include_subaccounts=true&start=2000-01-01&end=2000-01-31", Cred: &rc}).JSON(t)
		if rows = out["objects"].([]any); len(rows) != 0 {
			t.Fatalf("usage outside the window %v", out)
		}
		for _, bad := range []string{"start=22-11-2026", "end=tomorrow", "include_subaccounts=maybe"} {
			if r := e.do(testkit.Request{Method: "GET", Path: "/v1/Account/" + r.id + "/Usage/?" + bad, Cred: &rc}); r.Status != 400 {
				t.Fatalf("%s: %d", bad, r.Status)
			}
		}

		// Cascade: reseller (1.75 - two calls = 1.73) and customer (1.25 - 0.025 = 1.225) go back to the main.
		mainSubtree := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Usage/?include_subaccounts=true", Cred: &mc}).JSON(t)
		mainOwn := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Usage/", Cred: &mc}).JSON(t)
		e.must(204, testkit.Request{Method: "DELETE", Path: "/v1/Account/" + m.id + "/Subaccount/" + r.id + "/?cascade=true", Cred: &mc})
		// The deleted subtree's usage is folded into the main's: its subtree sums are what they
		// were, its own usage (it made no call) stays empty.
		if out := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Usage/?include_subaccounts=true", Cred: &mc}).JSON(t); !reflect.DeepEqual(out, mainSubtree) || len(out["objects"].([]any)) != 2 {
			t.Fatalf("the main's subtree usage after the cascade %v, before %v", out, mainSubtree)
		}
		if out := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Usage/", Cred: &mc}).JSON(t); !reflect.DeepEqual(out, mainOwn) || len(out["objects"].([]any)) != 0 {
			t.Fatalf("the main's own usage after the cascade %v, before %v", out, mainOwn)
		}
		out = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Transfer/?limit=2", Cred: &mc}).JSON(t)
		got := map[string]string{}
		for _, o := range out["objects"].([]any) {
			tr := o.(map[string]any)
			if tr["kind"] != "delete" || tr["to"] != m.id {
				t.Fatalf("cascade record %v", tr)
			}
			got[tr["from"].(string)] = tr["amount"].(string)
		}
		if got[r.id] != "1.73" || got[c.id] != "1.225" {
			t.Fatalf("cascade returns %v", got)
		}
		if b := e.balanceOf(m); b != "9.955" { // 7 + 1.73 + 1.225
			t.Fatalf("main after cascade %s", b)
		}
	})
}
