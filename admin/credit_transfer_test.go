package admin

import (
	"strings"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// creditOf reads an account's credit_limit as the operator sees it.
func (e *env) creditOf(id string) string {
	e.t.Helper()
	return e.must(200, testkit.Request{Method: "GET", Path: "/admin/v1/Account/" + id + "/", Bearer: testOperatorToken}).JSON(e.t)["credit_limit"].(string)
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
		forbidden := func(r testkit.Answer, what string) {
			t.Helper()
			code, d := r.ErrCode(t)
			msg := r.JSON(t)["error"].(map[string]any)["message"].(string)
			if r.Status != 403 || code != "FORBIDDEN" || d["field"] != "credit_limit" ||
				!strings.Contains(msg, "/v1/Account/"+m.id+"/CreditTransfer/") {
				t.Fatalf("%s: %d %s", what, r.Status, r.Body)
			}
		}
		forbidden(e.do(testkit.Request{Method: "POST", Path: subs, Cred: &mc,
			Body: `{"name":"mule","use_parent_balance":false,"credit_limit":"1000000.00"}`}), "create")
		forbidden(e.do(testkit.Request{Method: "POST", Path: subs, Cred: &mc, ContentType: "application/x-www-form-urlencoded",
			Body: "name=mule&use_parent_balance=false&credit_limit=1000000"}), "form create")
		forbidden(e.do(testkit.Request{Method: "POST", Path: subs, Cred: &mc, Body: `{"name":"zero","credit_limit":"0"}`}), "create with 0")
		if n := e.must(200, testkit.Request{Method: "GET", Path: subs, Cred: &mc}).JSON(t)["meta"].(map[string]any)["total_count"]; n != 0.0 {
			t.Fatalf("%v children after refused creates", n)
		}

		c := e.child(m, `{"name":"mule","use_parent_balance":false}`)
		for _, method := range []string{"POST", "PATCH"} {
			forbidden(e.do(testkit.Request{Method: method, Path: subs + c.id + "/", Cred: &mc,
				Body: `{"name":"renamed","credit_limit":"1000000.00"}`}), method+" update")
		}
		if o := e.must(200, testkit.Request{Method: "GET", Path: subs + c.id + "/", Cred: &mc}).JSON(t); o["credit_limit"] != "0.00" || o["name"] != "mule" {
			t.Fatalf("refused updates wrote: %v", o)
		}
		// A reseller cannot give its own customer credit either.
		r := e.child(m, `{"name":"reseller","use_parent_balance":false,"permissions":{"subaccounts":true}}`)
		rc := r.cred()
		g := e.childBy(rc, r.id, `{"name":"customer","use_parent_balance":false}`)
		res := e.do(testkit.Request{Method: "PATCH", Path: "/v1/Account/" + r.id + "/Subaccount/" + g.id + "/", Cred: &rc, Body: `{"credit_limit":"5"}`})
		if code, _ := res.ErrCode(t); res.Status != 403 || code != "FORBIDDEN" || !strings.Contains(string(res.Body), "/v1/Account/"+r.id+"/CreditTransfer/") {
			t.Fatalf("reseller update: %d %s", res.Status, res.Body)
		}

		// The rest of the exploit finds nothing to pull: no credit, no money.
		for _, path := range []string{"/CreditTransfer/", "/Transfer/"} {
			res := e.do(testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"-1000000.00"}`})
			if code, _ := res.ErrCode(t); res.Status != 402 || code != "INSUFFICIENT_BALANCE" {
				t.Fatalf("pull through %s: %d %s", path, res.Status, res.Body)
			}
		}
		b := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Balance/", Cred: &mc}).JSON(t)
		if b["balance"] != "0.00" || b["credit_limit"] != "0.00" || b["available"] != "0.00" {
			t.Fatalf("main after the attempt: %v", b)
		}

		// The operator sets credit_limit directly, on any account.
		for _, id := range []string{m.id, c.id, g.id} {
			e.must(200, testkit.Request{Method: "PATCH", Path: "/admin/v1/Account/" + id + "/", Bearer: testOperatorToken, Body: `{"credit_limit":"5"}`})
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

		r := e.must(201, testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"4.00","reference":"april"}`})
		tr := r.JSON(t)
		if tr["from"] != m.id || tr["to"] != c.id || tr["amount"] != "4.00" || tr["kind"] != "credit_transfer" || tr["reference"] != "april" ||
			tr["from_balance_after"] != "6.00" || tr["to_balance_after"] != "4.00" || tr["currency"] != "USD" ||
			!strings.HasPrefix(tr["transfer_id"].(string), "TR_") {
			t.Fatalf("credit transfer %s", r.Body)
		}
		// Negative pulls back; form bodies work as well.
		r = e.must(201, testkit.Request{Method: "POST", Path: path, Cred: &mc, ContentType: "application/x-www-form-urlencoded", Body: "to=" + c.id + "&amount=-1.50"})
		if tr = r.JSON(t); tr["from"] != c.id || tr["to"] != m.id || tr["amount"] != "1.50" || tr["from_balance_after"] != "2.50" || tr["to_balance_after"] != "7.50" {
			t.Fatalf("pull %s", r.Body)
		}
		// Credit moved, money did not.
		cc := c.cred()
		b := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/Balance/", Cred: &cc}).JSON(t)
		if b["balance"] != "0.00" || b["credit_limit"] != "2.50" || b["available"] != "2.50" || e.balanceOf(m) != "0.00" {
			t.Fatalf("child's balance after credit transfers: %v", b)
		}

		// The child spends 2.00 on credit; it can give back only 0.50 now.
		e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + c.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"-2"}`})
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
			r := e.do(testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: tc.body, Invalid: tc.status == 400})
			code, d := r.ErrCode(t)
			if r.Status != tc.status || code != tc.code || (tc.field != "" && d["field"] != tc.field) {
				t.Errorf("%s: %d %s", tc.body, r.Status, r.Body)
			}
		}
		if got := credits(); got != before || e.balanceOf(c) != "-2.00" || e.balanceOf(m) != "0.00" {
			t.Fatalf("refusals changed credit %s to %s", before, got)
		}
		// 402 details name the giver and what it could give.
		r = e.do(testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"-1"}`})
		if _, d := r.ErrCode(t); d["auth_id"] != c.id || d["available"] != "0.50" || d["required"] != "1.00" || d["currency"] != "USD" ||
			!strings.Contains(r.JSON(t)["error"].(map[string]any)["message"].(string), "credit") {
			t.Fatalf("402 details %s", r.Body)
		}
		r = e.do(testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + shared.id + `","amount":"1"}`})
		if _, d := r.ErrCode(t); d["reason"] != "shared_balance" || d["auth_id"] != shared.id {
			t.Fatalf("409 details %s", r.Body)
		}
		// Exactly to the child's floor is allowed.
		e.must(201, testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"-0.50"}`})

		// A child cannot take credit from its parent, nor give any upwards.
		if r := e.do(testkit.Request{Method: "POST", Path: path, Cred: &cc, Body: `{"to":"` + c.id + `","amount":"1"}`}); r.Status != 403 {
			t.Fatalf("child on its parent's path: %d %s", r.Status, r.Body)
		}
		if r := e.do(testkit.Request{Method: "POST", Path: "/v1/Account/" + c.id + "/CreditTransfer/", Cred: &cc, Body: `{"to":"` + m.id + `","amount":"1"}`}); r.Status != 403 {
			t.Fatalf("child giving to its parent: %d %s", r.Status, r.Body)
		}
		// A reseller passes on credit it holds, with its own credentials; the main can do it
		// on its behalf (the reseller's path is in the main's reach).
		e.must(201, testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + g.id + `","amount":"3"}`})
		gcred := g.cred()
		e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + g.id + "/CreditTransfer/", Cred: &gcred, Body: `{"to":"` + gc.id + `","amount":"1"}`})
		e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + g.id + "/CreditTransfer/", Cred: &mc, Body: `{"to":"` + gc.id + `","amount":"0.25"}`})
		if got := credits(); got != "5.00 2.00 1.75 1.25" {
			t.Fatalf("credits after passing on: %s", got)
		}

		// Idempotency-Key: the same request again answers the first answer and moves nothing;
		// a different request with the key is a 409; the key of a credit transfer does not
		// replay a transfer.
		key := map[string]string{"Idempotency-Key": "credit-c-1"}
		first := e.must(201, testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"1"}`, Header: key})
		again := e.must(201, testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"1"}`, Header: key})
		if first.JSON(t)["transfer_id"] != again.JSON(t)["transfer_id"] || again.Header["Idempotent-Replayed"] != "true" || first.Header["Idempotent-Replayed"] != "" {
			t.Fatalf("replay: %s / %s", first.Body, again.Body)
		}
		r = e.do(testkit.Request{Method: "POST", Path: path, Cred: &mc, Body: `{"to":"` + c.id + `","amount":"2"}`, Header: key})
		if code, d := r.ErrCode(t); r.Status != 409 || code != "CONFLICT" || d["reason"] != "idempotency_key_reused" {
			t.Fatalf("key reused: %d %s", r.Status, r.Body)
		}
		if got := credits(); got != "4.00 3.00 1.75 1.25" {
			t.Fatalf("credits after replays: %s", got)
		}
		e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + m.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"5"}`})
		if r := e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Transfer/", Cred: &mc, Body: `{"to":"` + c.id + `","amount":"1"}`, Header: key}); r.Header["Idempotent-Replayed"] != "" || r.JSON(t)["kind"] != "transfer" {
			t.Fatalf("a transfer with a credit transfer's key: %s", r.Body)
		}

		// The ledger lists credit transfers with the transfers, newest first.
		l := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Transfer/?subaccount=" + c.id, Cred: &mc}).JSON(t)
		var kinds []string
		for _, o := range l["objects"].([]any) {
			kinds = append(kinds, o.(map[string]any)["kind"].(string))
		}
		if strings.Join(kinds, ",") != "transfer,credit_transfer,credit_transfer,credit_transfer,credit_transfer" {
			t.Fatalf("ledger of the main with the child: %v", kinds)
		}
		l = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + g.id + "/Transfer/", Cred: &gcred}).JSON(t)
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
		r = e.do(testkit.Request{Method: "GET", Path: path, Cred: &mc})
		if r.Status != 405 || r.Header["Allow"] != "POST" {
			t.Fatalf("GET: %d %v", r.Status, r.Header)
		}
	})
}
