package admin

import (
	"net"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

func TestOperatorAccounts(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		r := e.op("POST", "/admin/v1/Account/", `{"name":"Acme","currency":"EUR","rate_limit":50,"credit_limit":"10","max_subaccounts":7,"email":"ops@acme.example"}`)
		if r.Status != 201 {
			t.Fatalf("create main: %d %s", r.Status, r.Body)
		}
		m := toAccount(t, r)
		o := m.obj
		if !strings.HasPrefix(m.id, "MA_") || !tokenRE.MatchString(m.tok) || o["currency"] != "EUR" || o["rate_limit"] != 50.0 ||
			o["credit_limit"] != "10.00" || o["max_subaccounts"] != 7.0 || o["email"] != "ops@acme.example" || o["depth"] != 0.0 ||
			o["root_auth_id"] != m.id || o["permissions"].(map[string]any)["subaccounts"] != true || o["balance"] != "0.00" {
			t.Fatalf("main object %s", r.Body)
		}
		// Children share the root's currency; the main's token works on the public API.
		c := e.child(m, "")
		if c.obj["currency"] != "EUR" {
			t.Fatalf("child currency %v", c.obj["currency"])
		}
		// Defaults: USD.
		if d := e.main(`{"name":"D"}`); d.obj["currency"] != "USD" || d.obj["rate_limit"] != 1000.0 || d.obj["max_subaccounts"] != 1000.0 {
			t.Fatalf("defaults %v", d.obj)
		}
		for body, field := range map[string]string{
			`{"name":"x","currency":"usd"}`:          "currency",
			`{"name":"x","currency":"EURO"}`:         "currency",
			`{"name":"x","currency":5}`:              "currency",
			`{"currency":"USD"}`:                     "name",
			`{"name":"x","rate_limit":-1}`:           "rate_limit",
			`{"name":"x","credit_limit":"1.5e2"}`:    "credit_limit",
			`{"name":"x","max_subaccounts":"many"}`:  "max_subaccounts",
			`{"name":"x","parent":"MA_X"}`:           "parent",
			`{"name":"x","kyc_mode":"customer_use"}`: "kyc_mode",
		} {
			r := e.do(testkit.Request{Method: "POST", Path: "/admin/v1/Account/", Bearer: testOperatorToken, Body: body, Invalid: true})
			if r.Status != 400 {
				t.Fatalf("%s: %d", body, r.Status)
			}
			if _, d := r.ErrCode(t); d["field"] != field {
				t.Fatalf("%s: details %v", body, d)
			}
		}
		// Read and update any account, a subaccount included.
		u := e.op("PATCH", "/admin/v1/Account/"+c.id+"/", `{"rate_limit":"20","permissions":{"calls":false},"use_parent_balance":false}`)
		if u.Status != 200 {
			t.Fatalf("operator update: %d %s", u.Status, u.Body)
		}
		if uo := u.JSON(t); uo["rate_limit"] != 20.0 || uo["permissions"].(map[string]any)["calls"] != false || uo["balance"] != "0.00" {
			t.Fatalf("operator update %v", uo)
		}
		// The balance mode switches one way only; main accounts always have their own.
		for _, path := range []string{"/admin/v1/Account/" + c.id + "/", "/admin/v1/Account/" + m.id + "/"} {
			r := e.op("PATCH", path, `{"use_parent_balance":true}`)
			if code, d := r.ErrCode(t); r.Status != 409 || code != "CONFLICT" || d["reason"] != "shared_balance" {
				t.Fatalf("%s: %d %s", path, r.Status, r.Body)
			}
		}
		if r := e.op("GET", "/admin/v1/Account/"+c.id+"/", ""); r.Status != 200 || r.JSON(t)["auth_token"] != "<redacted>" {
			t.Fatalf("operator read %d %s", r.Status, r.Body)
		}
		if r := e.op("DELETE", "/admin/v1/Account/"+c.id+"/", ""); r.Status != 405 || r.Header["Allow"] != "GET, POST, PATCH" {
			t.Fatalf("operator delete: %d %v", r.Status, r.Header)
		}
	})
}

func TestCreditAndBalance(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main(`{"name":"M","currency":"GBP"}`)
		credit := "/admin/v1/Account/" + m.id + "/Credit/"
		r := e.op("POST", credit, `{"amount":"10.00","reference":"top-up 1"}`)
		if r.Status != 201 {
			t.Fatalf("credit: %d %s", r.Status, r.Body)
		}
		tr := r.JSON(t)
		if !strings.HasPrefix(tr["transfer_id"].(string), "TR_") || tr["from"] != nil || tr["to"] != m.id || tr["amount"] != "10.00" ||
			tr["currency"] != "GBP" || tr["reference"] != "top-up 1" || tr["kind"] != "credit" || tr["to_balance_after"] != "10.00" ||
			tr["from_balance_after"] != nil || !timeRE.MatchString(tr["created_at"].(string)) {
			t.Fatalf("transfer %s", r.Body)
		}
		// JSON numbers are read exactly.
		if r := e.op("POST", credit, `{"amount":0.1}`); r.Status != 201 || r.JSON(t)["to_balance_after"] != "10.10" {
			t.Fatalf("credit 0.1: %d %s", r.Status, r.Body)
		}
		// Taking away below -credit_limit: 402 with details, nothing moved.
		r = e.op("POST", credit, `{"amount":"-10.100001"}`)
		code, d := r.ErrCode(t)
		if r.Status != 402 || code != "INSUFFICIENT_BALANCE" || d["available"] != "10.10" || d["required"] != "10.100001" || d["currency"] != "GBP" {
			t.Fatalf("below floor: %d %s", r.Status, r.Body)
		}
		for _, basic := range []bool{false, true} {
			mc := m.cred().As(basic)
			b := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Balance/", Cred: &mc}).JSON(t)
			if b["balance"] != "10.10" || b["available"] != "10.10" || b["billing_auth_id"] != m.id || b["use_parent_balance"] != false || b["currency"] != "GBP" {
				t.Fatalf("balance %v", b)
			}
		}
		// With a credit_limit the floor moves.
		e.must(200, testkit.Request{Method: "PATCH", Path: "/admin/v1/Account/" + m.id + "/", Bearer: testOperatorToken, Body: `{"credit_limit":"5"}`})
		if r := e.op("POST", credit, `{"amount":"-15"}`); r.Status != 201 || r.JSON(t)["to_balance_after"] != "-4.90" {
			t.Fatalf("within credit: %d %s", r.Status, r.Body)
		}
		// A shared-balance child bills to the main; crediting it is 409 shared_balance.
		c := e.child(m, "")
		cc := c.cred()
		b := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/Balance/", Cred: &cc}).JSON(t)
		if b["auth_id"] != c.id || b["billing_auth_id"] != m.id || b["balance"] != "-4.90" || b["credit_limit"] != "5.00" || b["available"] != "0.10" || b["use_parent_balance"] != true {
			t.Fatalf("shared balance %v", b)
		}
		r = e.op("POST", "/admin/v1/Account/"+c.id+"/Credit/", `{"amount":"1"}`)
		if code, d := r.ErrCode(t); r.Status != 409 || code != "CONFLICT" || d["reason"] != "shared_balance" {
			t.Fatalf("credit shared: %d %s", r.Status, r.Body)
		}
		// Bad amounts.
		for body, field := range map[string]string{
			`{"amount":"0"}`: "amount", `{"amount":"1e3"}`: "amount", `{"amount":1e3}`: "amount", `{"amount":"0.0000001"}`: "amount",
			`{"amount":"9007199254.740992"}`: "amount", `{"amount":null}`: "amount", `{}`: "amount", `{"amount":"1","memo":"x"}`: "memo",
			`{"amount":"1","reference":7}`: "reference",
		} {
			r := e.do(testkit.Request{Method: "POST", Path: credit, Bearer: testOperatorToken, Body: body, Invalid: true})
			if _, d := r.ErrCode(t); r.Status != 400 || d["field"] != field {
				t.Fatalf("%s: %d %s", body, r.Status, r.Body)
			}
		}
		// Over the largest balance the store holds.
		m2 := e.main("")
		e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + m2.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"1"}`})
		r = e.op("POST", "/admin/v1/Account/"+m2.id+"/Credit/", `{"amount":"9007199254.740991"}`)
		if _, d := r.ErrCode(t); r.Status != 400 || d["field"] != "amount" {
			t.Fatalf("over range: %d %s", r.Status, r.Body)
		}
		if b := e.op("GET", "/admin/v1/Account/"+m.id+"/", "").JSON(t); b["balance"] != "-4.90" {
			t.Fatalf("balance moved by refused credits: %v", b["balance"])
		}
	})
}

func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	st := openStore(t, balance.Options{Redis: "redis://" + addr, DialTimeout: 200e6})
	e := newEnv(t, st, nil)
	r := e.do(testkit.Request{Method: "GET", Path: "/v1/Account/MA_" + strings.Repeat("A", 20) + "/",
		Cred: &testkit.Cred{ID: "MA_" + strings.Repeat("A", 20), Token: strings.Repeat("a", 40)}})
	if code, _ := r.ErrCode(t); r.Status != 503 || code != "STORE_UNAVAILABLE" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	r = e.op("POST", "/admin/v1/Account/", `{"name":"x"}`)
	if r.Status != 503 {
		t.Fatalf("operator create on a dead store: %d %s", r.Status, r.Body)
	}
}
