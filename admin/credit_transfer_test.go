package admin

import (
	"strings"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
)

// creditOf reads an account's credit_limit as the operator sees it.
func (e *env) creditOf(id string) string {
	e.t.Helper()
	return e.must(200, req{method: "GET", path: "/admin/v1/Account/" + id + "/", bearer: testOperatorToken}).json(e.t)["credit_limit"].(string)
}

// TestTenantCannotSetCreditLimit: a main account that was never credited cannot give its own
// subaccount credit_limit (at creation or on update) and pull it back as spendable credit.
// Only the operator sets credit_limit directly; the refusal names the credit transfer and
// writes nothing.
func TestTenantCannotSetCreditLimit(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		mc := m.cred()
		subs := "/v1/Account/" + m.id + "/Subaccount/"
		forbidden := func(r res, what string) {
			t.Helper()
			code, d := r.errCode(t)
			msg := r.json(t)["error"].(map[string]any)["message"].(string)
			if r.status != 403 || code != "FORBIDDEN" || d["field"] != "credit_limit" ||
				!strings.Contains(msg, "/v1/Account/"+m.id+"/CreditTransfer/") {
				t.Fatalf("%s: %d %s", what, r.status, r.body)
			}
		}
		forbidden(e.do(req{method: "POST", path: subs, cred: &mc,
			body: `{"name":"mule","use_parent_balance":false,"credit_limit":"1000000.00"}`}), "create")
		forbidden(e.do(req{method: "POST", path: subs, cred: &mc, ctype: "application/x-www-form-urlencoded",
			body: "name=mule&use_parent_balance=false&credit_limit=1000000"}), "form create")
		forbidden(e.do(req{method: "POST", path: subs, cred: &mc, body: `{"name":"zero","credit_limit":"0"}`}), "create with 0")
		if n := e.must(200, req{method: "GET", path: subs, cred: &mc}).json(t)["meta"].(map[string]any)["total_count"]; n != 0.0 {
			t.Fatalf("%v children after refused creates", n)
		}

		c := e.child(m, `{"name":"mule","use_parent_balance":false}`)
		for _, method := range []string{"POST", "PATCH"} {
			forbidden(e.do(req{method: method, path: subs + c.id + "/", cred: &mc,
				body: `{"name":"renamed","credit_limit":"1000000.00"}`}), method+" update")
		}
		if o := e.must(200, req{method: "GET", path: subs + c.id + "/", cred: &mc}).json(t); o["credit_limit"] != "0.00" || o["name"] != "mule" {
			t.Fatalf("refused updates wrote: %v", o)
		}
		// A reseller cannot give its own customer credit either.
		r := e.child(m, `{"name":"reseller","use_parent_balance":false,"permissions":{"subaccounts":true}}`)
		rc := r.cred()
		g := e.childBy(rc, r.id, `{"name":"customer","use_parent_balance":false}`)
		res := e.do(req{method: "PATCH", path: "/v1/Account/" + r.id + "/Subaccount/" + g.id + "/", cred: &rc, body: `{"credit_limit":"5"}`})
		if code, _ := res.errCode(t); res.status != 403 || code != "FORBIDDEN" || !strings.Contains(string(res.body), "/v1/Account/"+r.id+"/CreditTransfer/") {
			t.Fatalf("reseller update: %d %s", res.status, res.body)
		}

		// The rest of the exploit finds nothing to pull: no credit, no money.
		for _, path := range []string{"/CreditTransfer/", "/Transfer/"} {
			res := e.do(req{method: "POST", path: "/v1/Account/" + m.id + path, cred: &mc, body: `{"to":"` + c.id + `","amount":"-1000000.00"}`})
			if code, _ := res.errCode(t); res.status != 402 || code != "INSUFFICIENT_BALANCE" {
				t.Fatalf("pull through %s: %d %s", path, res.status, res.body)
			}
		}
		b := e.must(200, req{method: "GET", path: "/v1/Account/" + m.id + "/Balance/", cred: &mc}).json(t)
		if b["balance"] != "0.00" || b["credit_limit"] != "0.00" || b["available"] != "0.00" {
			t.Fatalf("main after the attempt: %v", b)
		}

		// The operator sets credit_limit directly, on any account.
		for _, id := range []string{m.id, c.id, g.id} {
			e.must(200, req{method: "PATCH", path: "/admin/v1/Account/" + id + "/", bearer: testOperatorToken, body: `{"credit_limit":"5"}`})
			if got := e.creditOf(id); got != "5.00" {
				t.Fatalf("operator's credit_limit on %s: %s", id, got)
			}
		}
	})
}

// TestCreditTransfers: POST …/CreditTransfer/ moves credit_limit between {auth_id} and a
// direct child, both ways, all or nothing, idempotent, recorded in the ledger; the sum of
// credit limits in the tree stays what the operator gave.
func TestCreditTransfers(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main(`{"name":"M","credit_limit":"10"}`)
		c := e.child(m, `{"name":"own","use_parent_balance":false}`)
		shared := e.child(m, `{"name":"shared"}`)
		g := e.child(m, `{"name":"reseller","use_parent_balance":false,"permissions":{"subaccounts":true}}`)
		gc := e.child(g, `{"name":"grandchild","use_parent_balance":false}`)
		other := e.main("")
		otherChild := e.child(other, `{"name":"x","use_parent_balance":false}`)
		mc := m.cred()
		path := "/v1/Account/" + m.id + "/CreditTransfer/"
		credits := func() string {
			return e.creditOf(m.id) + " " + e.creditOf(c.id) + " " + e.creditOf(g.id) + " " + e.creditOf(gc.id)
		}

		r := e.must(201, req{method: "POST", path: path, cred: &mc, body: `{"to":"` + c.id + `","amount":"4.00","reference":"april"}`})
		tr := r.json(t)
		if tr["from"] != m.id || tr["to"] != c.id || tr["amount"] != "4.00" || tr["kind"] != "credit_transfer" || tr["reference"] != "april" ||
			tr["from_balance_after"] != "6.00" || tr["to_balance_after"] != "4.00" || tr["currency"] != "USD" ||
			!strings.HasPrefix(tr["transfer_id"].(string), "TR_") {
			t.Fatalf("credit transfer %s", r.body)
		}
		// Negative pulls back; form bodies work as well.
		r = e.must(201, req{method: "POST", path: path, cred: &mc, ctype: "application/x-www-form-urlencoded", body: "to=" + c.id + "&amount=-1.50"})
		if tr = r.json(t); tr["from"] != c.id || tr["to"] != m.id || tr["amount"] != "1.50" || tr["from_balance_after"] != "2.50" || tr["to_balance_after"] != "7.50" {
			t.Fatalf("pull %s", r.body)
		}
		// Credit moved, money did not.
		cc := c.cred()
		b := e.must(200, req{method: "GET", path: "/v1/Account/" + c.id + "/Balance/", cred: &cc}).json(t)
		if b["balance"] != "0.00" || b["credit_limit"] != "2.50" || b["available"] != "2.50" || e.balanceOf(m) != "0.00" {
			t.Fatalf("child's balance after credit transfers: %v", b)
		}

		// The child spends 2.00 on credit; it can give back only 0.50 now.
		e.must(201, req{method: "POST", path: "/admin/v1/Account/" + c.id + "/Credit/", bearer: testOperatorToken, body: `{"amount":"-2"}`})
		before := credits()
		for _, tc := range []struct {
			body   string
			status int
			code   string
			field  string
		}{
			{`{"to":"` + c.id + `","amount":"0"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"-0.00"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"abc"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"1e3"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":"0.0000001"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `","amount":true}`, 400, "INVALID_REQUEST", "amount"},
			{`{"to":"` + c.id + `"}`, 400, "INVALID_REQUEST", "amount"},
			{`{"amount":"1"}`, 400, "INVALID_REQUEST", "to"},
			{`{"to":"nope","amount":"1"}`, 400, "INVALID_REQUEST", "to"},
			{`{"to":5,"amount":"1"}`, 400, "INVALID_REQUEST", "to"},
			{`{"to":"` + c.id + `","amount":"1","currency":"EUR"}`, 400, "INVALID_REQUEST", "currency"},
			{`{"to":"` + c.id + `","amount":"1","credit_limit":"1"}`, 400, "INVALID_REQUEST", "credit_limit"},
			{`{"to":"SA_AAAAAAAAAAAAAAAAAAAA","amount":"1"}`, 403, "FORBIDDEN", ""},
			{`{"to":"` + otherChild.id + `","amount":"1"}`, 403, "FORBIDDEN", ""},
			{`{"to":"` + gc.id + `","amount":"1"}`, 400, "INVALID_REQUEST", "to"},
			{`{"to":"` + m.id + `","amount":"1"}`, 400, "INVALID_REQUEST", "to"},
			{`{"to":"` + shared.id + `","amount":"1"}`, 409, "CONFLICT", ""},
			{`{"to":"` + c.id + `","amount":"-0.500001"}`, 402, "INSUFFICIENT_BALANCE", ""},
			{`{"to":"` + c.id + `","amount":"7.500001"}`, 402, "INSUFFICIENT_BALANCE", ""},
		} {
			r := e.do(req{method: "POST", path: path, cred: &mc, body: tc.body})
			code, d := r.errCode(t)
			if r.status != tc.status || code != tc.code || (tc.field != "" && d["field"] != tc.field) {
				t.Errorf("%s: %d %s", tc.body, r.status, r.body)
			}
		}
		if got := credits(); got != before || e.balanceOf(c) != "-2.00" || e.balanceOf(m) != "0.00" {
			t.Fatalf("refusals changed credit %s to %s", before, got)
		}
		// 402 details name the giver and what it could give.
		r = e.do(req{method: "POST", path: path, cred: &mc, body: `{"to":"` + c.id + `","amount":"-1"}`})
		if _, d := r.errCode(t); d["auth_id"] != c.id || d["available"] != "0.50" || d["required"] != "1.00" || d["currency"] != "USD" ||
			!strings.Contains(r.json(t)["error"].(map[string]any)["message"].(string), "credit") {
			t.Fatalf("402 details %s", r.body)
		}
		r = e.do(req{method: "POST", path: path, cred: &mc, body: `{"to":"` + shared.id + `","amount":"1"}`})
		if _, d := r.errCode(t); d["reason"] != "shared_balance" || d["auth_id"] != shared.id {
			t.Fatalf("409 details %s", r.body)
		}
		// Exactly to the child's floor is allowed.
		e.must(201, req{method: "POST", path: path, cred: &mc, body: `{"to":"` + c.id + `","amount":"-0.50"}`})

		// A child cannot take credit from its parent, nor give any upwards.
		if r := e.do(req{method: "POST", path: path, cred: &cc, body: `{"to":"` + c.id + `","amount":"1"}`}); r.status != 403 {
			t.Fatalf("child on its parent's path: %d %s", r.status, r.body)
		}
		if r := e.do(req{method: "POST", path: "/v1/Account/" + c.id + "/CreditTransfer/", cred: &cc, body: `{"to":"` + m.id + `","amount":"1"}`}); r.status != 403 {
			t.Fatalf("child giving to its parent: %d %s", r.status, r.body)
		}
		// A reseller passes on credit it holds, with its own credentials; the main can do it
		// on its behalf (the reseller's path is in the main's reach).
		e.must(201, req{method: "POST", path: path, cred: &mc, body: `{"to":"` + g.id + `","amount":"3"}`})
		gcred := g.cred()
		e.must(201, req{method: "POST", path: "/v1/Account/" + g.id + "/CreditTransfer/", cred: &gcred, body: `{"to":"` + gc.id + `","amount":"1"}`})
		e.must(201, req{method: "POST", path: "/v1/Account/" + g.id + "/CreditTransfer/", cred: &mc, body: `{"to":"` + gc.id + `","amount":"0.25"}`})
		if got := credits(); got != "5.00 2.00 1.75 1.25" {
			t.Fatalf("credits after passing on: %s", got)
		}

		// Idempotency-Key: the same request again answers the first answer and moves nothing;
		// a different request with the key is a 409; the key of a credit transfer does not
		// replay a transfer.
		key := map[string]string{"Idempotency-Key": "credit-c-1"}
		first := e.must(201, req{method: "POST", path: path, cred: &mc, body: `{"to":"` + c.id + `","amount":"1"}`, hdr: key})
		again := e.must(201, req{method: "POST", path: path, cred: &mc, body: `{"to":"` + c.id + `","amount":"1"}`, hdr: key})
		if first.json(t)["transfer_id"] != again.json(t)["transfer_id"] || again.hdr["Idempotent-Replayed"] != "true" || first.hdr["Idempotent-Replayed"] != "" {
			t.Fatalf("replay: %s / %s", first.body, again.body)
		}
		r = e.do(req{method: "POST", path: path, cred: &mc, body: `{"to":"` + c.id + `","amount":"2"}`, hdr: key})
		if code, d := r.errCode(t); r.status != 409 || code != "CONFLICT" || d["reason"] != "idempotency_key_reused" {
			t.Fatalf("key reused: %d %s", r.status, r.body)
		}
		if got := credits(); got != "4.00 3.00 1.75 1.25" {
			t.Fatalf("credits after replays: %s", got)
		}
		e.must(201, req{method: "POST", path: "/admin/v1/Account/" + m.id + "/Credit/", bearer: testOperatorToken, body: `{"amount":"5"}`})
		if r := e.must(201, req{method: "POST", path: "/v1/Account/" + m.id + "/Transfer/", cred: &mc, body: `{"to":"` + c.id + `","amount":"1"}`, hdr: key}); r.hdr["Idempotent-Replayed"] != "" || r.json(t)["kind"] != "transfer" {
			t.Fatalf("a transfer with a credit transfer's key: %s", r.body)
		}

		// The ledger lists credit transfers with the transfers, newest first.
		l := e.must(200, req{method: "GET", path: "/v1/Account/" + m.id + "/Transfer/?subaccount=" + c.id, cred: &mc}).json(t)
		var kinds []string
		for _, o := range l["objects"].([]any) {
			kinds = append(kinds, o.(map[string]any)["kind"].(string))
		}
		if strings.Join(kinds, ",") != "transfer,credit_transfer,credit_transfer,credit_transfer,credit_transfer" {
			t.Fatalf("ledger of the main with the child: %v", kinds)
		}
		l = e.must(200, req{method: "GET", path: "/v1/Account/" + g.id + "/Transfer/", cred: &gcred}).json(t)
		if n := l["meta"].(map[string]any)["total_count"]; n != 3.0 {
			t.Fatalf("reseller's ledger: %v", l)
		}
		// The tree holds exactly the credit the operator gave the main.
		var sum model.Amount
		for _, id := range []string{m.id, c.id, shared.id, g.id, gc.id} {
			a, err := model.ParseAmount(e.creditOf(id))
			if err != nil {
				t.Fatal(err)
			}
			sum += a
		}
		if sum != 10_000_000 {
			t.Fatalf("the tree's credit is %v, the operator gave 10.00", sum)
		}
		// POST only.
		r = e.do(req{method: "GET", path: path, cred: &mc})
		if r.status != 405 || r.hdr["Allow"] != "POST" {
			t.Fatalf("GET: %d %v", r.status, r.hdr)
		}
	})
}
