package admin

import (
	"strings"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

func TestBodies(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		c := e.child(m, "")
		form := "application/x-www-form-urlencoded"
		long := `{"name":"` + strings.Repeat("x", 5000) + `"}` // over MaxBodyBytes (4096)
		for _, basic := range []bool{false, true} {
			mc := m.cred().As(basic)
			create := "/v1/Account/" + m.id + "/Subaccount/"
			update := create + c.id + "/"
			cases := []struct {
				name, method, path, ctype, body string
				want                            int
				field                           string // details.field of a 400
			}{
				{"unknown field", "POST", create, "", `{"name":"x","colour":"red"}`, 400, "colour"},
				{"unknown field on update", "PATCH", update, "", `{"nmae":"x"}`, 400, "nmae"},
				{"unknown permission", "PATCH", update, "", `{"permissions":{"fax":true}}`, 400, "permissions.fax"},
				{"max_subaccounts is the operator's", "PATCH", update, "", `{"max_subaccounts":5}`, 400, "max_subaccounts"},
				{"wrong type: name", "POST", create, "", `{"name":5}`, 400, "name"},
				{"wrong type: rate_limit", "PATCH", update, "", `{"rate_limit":"abc"}`, 400, "rate_limit"},
				{"wrong type: rate_limit float", "PATCH", update, "", `{"rate_limit":10.5}`, 400, "rate_limit"},
				{"wrong type: enabled", "PATCH", update, "", `{"enabled":"maybe"}`, 400, "enabled"},
				{"wrong type: permissions", "PATCH", update, "", `{"permissions":true}`, 400, "permissions"},
				{"wrong type: permission flag", "PATCH", update, "", `{"permissions":{"sms":3}}`, 400, "permissions.sms"},
				{"wrong type: description", "PATCH", update, "", `{"description":[]}`, 400, "description"},
				{"null name", "PATCH", update, "", `{"name":null}`, 400, "name"},
				{"empty name", "POST", create, "", `{"name":"  "}`, 400, "name"},
				{"missing name", "POST", create, "", `{}`, 400, "name"},
				{"rate_limit 0", "PATCH", update, "", `{"rate_limit":0}`, 400, "rate_limit"},
				{"rate_limit too big", "PATCH", update, "", `{"rate_limit":1000001}`, 400, "rate_limit"},
				{"bad status", "PATCH", update, "", `{"status":"gone"}`, 400, "status"},
				{"status and enabled disagree", "PATCH", update, "", `{"status":"active","enabled":false}`, 400, "enabled"},
				{"create closed", "POST", create, "", `{"name":"x","status":"closed"}`, 400, "status"},
				{"bad email", "PATCH", update, "", `{"email":"not an email"}`, 400, "email"},
				{"bad kyc_mode", "PATCH", update, "", `{"kyc_mode":"business"}`, 400, "kyc_mode"},
				{"credit_limit exponent", "PATCH", update, "", `{"credit_limit":"1e3"}`, 400, "credit_limit"},
				{"credit_limit number exponent", "PATCH", update, "", `{"credit_limit":1e3}`, 400, "credit_limit"},
				{"credit_limit 7 digits", "PATCH", update, "", `{"credit_limit":"0.0000001"}`, 400, "credit_limit"},
				{"credit_limit negative", "PATCH", update, "", `{"credit_limit":"-1"}`, 400, "credit_limit"},
				{"duplicate field", "PATCH", update, "", `{"name":"a","name":"b"}`, 400, "name"},
				{"malformed JSON", "POST", create, "", `{"name":`, 400, ""},
				{"not an object", "POST", create, "", `["name"]`, 400, ""},
				{"trailing data", "POST", create, "", `{"name":"x"} {}`, 400, ""},
				{"control character", "POST", create, "", `{"name":"a\u0000b"}`, 400, "name"},
				{"over-long body", "POST", create, "", long, 413, ""},
				{"over-long update", "PATCH", update, "", long, 413, ""},
				{"form unknown field", "POST", create, form, "name=x&colour=red", 400, "colour"},
				{"form wrong integer", "POST", create, form, "name=x&rate_limit=abc", 400, "rate_limit"},
				{"form duplicate", "POST", create, form, "name=x&name=y", 400, "name"},
				{"form duplicate permission", "POST", create, form, "name=x&permissions[calls]=true&permissions.calls=false", 400, "permissions.calls"},
				{"form not UTF-8", "POST", create, form, "name=%ff", 400, ""},
				{"delete unknown field", "DELETE", update, "", `{"cascde":true}`, 400, "cascde"},
				{"delete bad cascade", "DELETE", update + "?cascade=maybe", "", "", 400, "cascade"},
			}
			for _, k := range cases {
				t.Run(map[bool]string{false: "headers/", true: "basic/"}[basic]+k.name, func(t *testing.T) {
					r := e.do(testkit.Request{Method: k.method, Path: k.path, Cred: &mc, ContentType: k.ctype, Body: k.body, Invalid: true})
					if r.Status != k.want {
						t.Fatalf("status %d, want %d: %s", r.Status, k.want, r.Body)
					}
					code, d := r.ErrCode(t)
					if k.want == 413 && code != "PAYLOAD_TOO_LARGE" || k.want == 400 && code != "INVALID_REQUEST" {
						t.Fatalf("code %s", code)
					}
					if k.field != "" && d["field"] != k.field {
						t.Fatalf("details %v, want field %s", d, k.field)
					}
				})
			}
		}
		// Nothing of the refused creates exists.
		l := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &testkit.Cred{ID: m.id, Token: m.tok}}).JSON(t)
		if n := l["meta"].(map[string]any)["total_count"]; n != 1.0 {
			t.Fatalf("%v children after refused creates", n)
		}
	})
}

// Existing client code: form bodies, booleans and integers as strings, cascade in the body.
func TestSDKCompatibility(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		mc := m.cred().As(true) // Basic, as the SDKs send it
		form := "application/x-www-form-urlencoded"
		r := e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &mc, ContentType: form,
			Body: "name=Support+Team&enabled=false&rate_limit=250&permissions%5Bsms%5D=false&permissions.subaccounts=true&use_parent_balance=false&description="})
		o := toAccount(t, r).obj
		id := o["auth_id"].(string)
		if o["name"] != "Support Team" || o["status"] != "suspended" || o["enabled"] != false || o["rate_limit"] != 250.0 ||
			o["credit_limit"] != "0.00" || o["use_parent_balance"] != false || o["balance"] != "0.00" || o["description"] != nil {
			t.Fatalf("form create: %s", r.Body)
		}
		if p := o["permissions"].(map[string]any); p["sms"] != false || p["subaccounts"] != true || p["calls"] != true {
			t.Fatalf("form permissions %v", p)
		}
		// JSON with strings for booleans and integers.
		u := e.must(200, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/" + id + "/", Cred: &mc,
			Body: `{"enabled":"true","rate_limit":"1000","permissions":{"sms":"True"}}`}).JSON(t)
		if u["status"] != "active" || u["rate_limit"] != 1000.0 || u["permissions"].(map[string]any)["sms"] != true {
			t.Fatalf("string booleans: %v", u)
		}
		// credit_limit is the operator's; a JSON number is read exactly.
		u = e.must(200, testkit.Request{Method: "PATCH", Path: "/admin/v1/Account/" + id + "/", Bearer: testOperatorToken, Body: `{"credit_limit":0.1}`}).JSON(t)
		if u["credit_limit"] != "0.10" {
			t.Fatalf("operator's credit_limit: %v", u)
		}
		// Form update with PATCH, email and business_type; then null them in JSON.
		u = e.must(200, testkit.Request{Method: "PATCH", Path: "/v1/Account/" + m.id + "/Subaccount/" + id + "/", Cred: &mc, ContentType: form,
			Body: "email=ops%40example.com&business_type=retail&description=Line+one"}).JSON(t)
		if u["email"] != "ops@example.com" || u["business_type"] != "retail" || u["description"] != "Line one" {
			t.Fatalf("form update: %v", u)
		}
		u = e.must(200, testkit.Request{Method: "PATCH", Path: "/v1/Account/" + m.id + "/Subaccount/" + id + "/", Cred: &mc,
			Body: `{"email":null,"business_type":""}`}).JSON(t)
		if u["email"] != nil || u["business_type"] != nil || u["description"] != "Line one" {
			t.Fatalf("null update: %v", u)
		}
		// Empty update answers the object unchanged.
		e.must(200, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/" + id + "/", Cred: &mc})
	})
}

// TestCurlStyleJSON: curl -d '{…}' labels a JSON body as a form; it is read as JSON.
func TestCurlStyleJSON(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		r := e.do(testkit.Request{Method: "POST", Path: "/admin/v1/Account/", Bearer: testOperatorToken,
			ContentType: "application/x-www-form-urlencoded", Body: `{"name": "Acme Telecom", "currency": "EUR"}`})
		if r.Status != 201 || r.JSON(t)["currency"] != "EUR" || r.JSON(t)["name"] != "Acme Telecom" {
			t.Fatalf("curl-style JSON: %d %s", r.Status, r.Body)
		}
		// A real form still works.
		r = e.do(testkit.Request{Method: "POST", Path: "/admin/v1/Account/", Bearer: testOperatorToken,
			ContentType: "application/x-www-form-urlencoded", Body: "name=Form+Co&currency=GBP"})
		if r.Status != 201 || r.JSON(t)["currency"] != "GBP" || r.JSON(t)["name"] != "Form Co" {
			t.Fatalf("form: %d %s", r.Status, r.Body)
		}
	})
}
