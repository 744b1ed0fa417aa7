package admin

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tenantgw/gateway/balance"
)

// balanceOf reads the balance field of GET …/Balance/ as the account itself sees it.
func (e *env) balanceOf(a account) string {
	e.t.Helper()
	c := a.cred()
	r := e.must(200, req{method: "GET", path: "/v1/Account/" + a.id + "/Balance/", cred: &c})
	return r.json(e.t)["balance"].(string)
}

func TestTransfers(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		e.must(201, req{method: "POST", path: "/admin/v1/Account/" + m.id + "/Credit/", bearer: testOperatorToken, body: `{"amount":"100"}`})
		c := e.child(m, `{"name":"own","use_parent_balance":false}`)
		shared := e.child(m, `{"name":"shared"}`)
		g := e.child(m, `{"name":"reseller","use_parent_balance":false,"permissions":{"subaccounts":true}}`)
		gc := e.child(g, `{"name":"grandchild","use_parent_balance":false}`)
		other := e.main("")
		otherChild := e.child(other, `{"name":"x","use_parent_balance":false}`)
		mc := m.cred()
		path := "/v1/Account/" + m.id + "/Transfer/"

		r := e.must(201, req{method: "POST", path: path, cred: &mc, body: `{"to":"` + c.id + `","amount":"25.50","reference":"march"}`})
		tr := r.json(t)
		if tr["from"] != m.id || tr["to"] != c.id || tr["amount"] != "25.50" || tr["kind"] != "transfer" || tr["reference"] != "march" ||
			tr["from_balance_after"] != "74.50" || tr["to_balance_after"] != "25.50" || tr["currency"] != "USD" {
			t.Fatalf("transfer %s", r.body)
		}
		// A negative amount pulls from the child; form bodies work as well.
		mb := mc.as(true)
		r = e.must(201, req{method: "POST", path: path, cred: &mb, ctype: "application/x-www-form-urlencoded", body: "to=" + c.id + "&amount=-0.50"})
		if tr = r.json(t); tr["from"] != c.id || tr["to"] != m.id || tr["amount"] != "0.50" {
			t.Fatalf("pull %s", r.body)
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
			r := e.do(req{method: "POST", path: path, cred: &mc, body: tc.body})
			code, d := r.errCode(t)
			if r.status != tc.status || code != tc.code || (tc.field != "" && d["field"] != tc.field) {
				t.Errorf("%s: %d %s", tc.body, r.status, r.body)
			}
		}
		if e.balanceOf(m) != "75.00" || e.balanceOf(c) != "25.00" || e.balanceOf(gc) != "0.00" {
			t.Fatalf("refusals moved money: %s %s", e.balanceOf(m), e.balanceOf(c))
		}
		// The child cannot move its parent's money; a sibling path is forbidden.
		cc := c.cred()
		if r := e.do(req{method: "POST", path: path, cred: &cc, body: `{"to":"` + c.id + `","amount":"1"}`}); r.status != 403 {
			t.Fatalf("child moving parent's money: %d", r.status)
		}
		// 402 details name the payer.
		r = e.do(req{method: "POST", path: path, cred: &mc, body: `{"to":"` + c.id + `","amount":"-30"}`})
		if _, d := r.errCode(t); d["auth_id"] != c.id || d["available"] != "25.00" || d["required"] != "30.00" || d["currency"] != "USD" {
			t.Fatalf("402 details %s", r.body)
		}
	})
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		c := e.child(m, `{"name":"own","use_parent_balance":false}`)
		credit := func(key, body string) res {
			return e.do(req{method: "POST", path: "/admin/v1/Account/" + m.id + "/Credit/", bearer: testOperatorToken, body: body, hdr: map[string]string{"Idempotency-Key": key}})
		}
		first := credit("top-up-1", `{"amount":"10"}`)
		again := credit("top-up-1", `{"amount":"10"}`)
		if first.status != 201 || again.status != 201 || first.json(t)["transfer_id"] != again.json(t)["transfer_id"] || again.hdr["Idempotent-Replayed"] != "true" {
			t.Fatalf("credit retry: %s / %s", first.body, again.body)
		}
		if r := credit("top-up-1", `{"amount":"11"}`); r.status != 409 {
			t.Fatalf("key reuse: %d %s", r.status, r.body)
		} else if _, d := r.errCode(t); d["reason"] != "idempotency_key_reused" {
			t.Fatalf("key reuse details %s", r.body)
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
				r := e.do(req{method: "POST", path: "/v1/Account/" + m.id + "/Transfer/", cred: &mc,
					body: `{"to":"` + c.id + `","amount":"1.25"}`, hdr: map[string]string{"Idempotency-Key": "pay-c"}})
				if r.status == 201 {
					ids[i] = fmt.Sprint(r.json(t)["transfer_id"])
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
		if r := e.do(req{method: "POST", path: "/v1/Account/" + m.id + "/Transfer/", cred: &mc, body: `{"to":"` + c.id + `","amount":"1"}`,
			hdr: map[string]string{"Idempotency-Key": "has space"}}); r.status != 400 {
			t.Fatalf("bad key: %d", r.status)
		}
	})
}

func TestTransferLedger(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		e.must(201, req{method: "POST", path: "/admin/v1/Account/" + m.id + "/Credit/", bearer: testOperatorToken, body: `{"amount":"100","reference":"seed"}`})
		c1 := e.child(m, `{"name":"a","use_parent_balance":false}`)
		c2 := e.child(m, `{"name":"b","use_parent_balance":false}`)
		mc := m.cred()
		for i := 0; i < 7; i++ {
			for _, c := range []account{c1, c2} {
				e.must(201, req{method: "POST", path: "/v1/Account/" + m.id + "/Transfer/", cred: &mc, body: `{"to":"` + c.id + `","amount":"1"}`})
			}
		}
		seen := map[string]bool{}
		total := 0
		for off := 0; ; off += 4 {
			r := e.must(200, req{method: "GET", path: fmt.Sprintf("/v1/Account/%s/Transfer/?limit=4&offset=%d", m.id, off), cred: &mc})
			out := r.json(t)
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
		r := e.must(200, req{method: "GET", path: "/v1/Account/" + m.id + "/Transfer/?subaccount=" + c1.id, cred: &mc})
		if n := r.json(t)["meta"].(map[string]any)["total_count"]; n != 7.0 {
			t.Fatalf("filtered by subaccount: %v", n)
		}
		// The child sees its own side only.
		cc := c1.cred()
		r = e.must(200, req{method: "GET", path: "/v1/Account/" + c1.id + "/Transfer/", cred: &cc})
		if n := r.json(t)["meta"].(map[string]any)["total_count"]; n != 7.0 {
			t.Fatalf("child's ledger: %v", n)
		}
		if r := e.do(req{method: "GET", path: "/v1/Account/" + m.id + "/Transfer/?start=yesterday", cred: &mc}); r.status != 400 {
			t.Fatalf("bad start: %d", r.status)
		}
		// Closing a child with money returns it to the parent as a ledger record of kind close.
		e.must(200, req{method: "POST", path: "/v1/Account/" + m.id + "/Subaccount/" + c2.id + "/", cred: &mc, body: `{"status":"closed"}`})
		r = e.must(200, req{method: "GET", path: "/v1/Account/" + m.id + "/Transfer/?limit=1", cred: &mc})
		last := r.json(t)["objects"].([]any)[0].(map[string]any)
		if last["kind"] != "close" || last["from"] != c2.id || last["amount"] != "7.00" {
			t.Fatalf("close record %v", last)
		}
		// Deleting returns it as kind delete.
		e.must(204, req{method: "DELETE", path: "/v1/Account/" + m.id + "/Subaccount/" + c1.id + "/", cred: &mc})
		r = e.must(200, req{method: "GET", path: "/v1/Account/" + m.id + "/Transfer/?limit=1", cred: &mc})
		last = r.json(t)["objects"].([]any)[0].(map[string]any)
		if last["kind"] != "delete" || last["from"] != c1.id || last["amount"] != "7.00" {
			t.Fatalf("delete record %v", last)
		}
		if e.balanceOf(m) != "100.00" {
			t.Fatalf("main after close and delete %s", e.balanceOf(m))
		}
	})
}
