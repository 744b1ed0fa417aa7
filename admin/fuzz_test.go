package admin

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
)

// serveDirect runs handler on one request without a network (for the fuzz target).
func serveDirect(h fasthttp.RequestHandler, method, path, auth, ctype string, body []byte) (int, []byte) {
	var q fasthttp.Request
	q.Header.SetMethod(method)
	q.SetRequestURI(path)
	if auth != "" {
		q.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		q.Header.SetContentType(ctype)
	}
	q.SetBody(body)
	var rc fasthttp.RequestCtx
	rc.Init(&q, nil, nil)
	h(&rc)
	return rc.Response.StatusCode(), append([]byte(nil), rc.Response.Body()...)
}

// FuzzCreateUpdateJSON feeds arbitrary bytes as the body of every request that carries
// account fields (public create and update, operator create and update), as JSON and as a
// form. Whatever the bytes, the answer is never a 5xx, never a panic, and always JSON.
func FuzzCreateUpdateJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"Support Team"}`,
		`{"name":"x","description":null,"email":"a@b.example","permissions":{"calls":false,"subaccounts":"true"}}`,
		`{"name":"x","rate_limit":"1000","enabled":"false","use_parent_balance":false,"credit_limit":"25.50"}`,
		`{"kyc_mode":"customer_use","email":"k@example.com","business_type":"retail"}`,
		`{"status":"suspended"}`, `{"status":"active","enabled":true}`, `{"status":"closed"}`,
		`{"credit_limit":1e3}`, `{"credit_limit":"0.0000001"}`, `{"credit_limit":-0}`, `{"rate_limit":1.5}`,
		`{"rate_limit":99999999999999999999999}`, `{"name":"a","name":"b"}`, `{"permissions":{"x":1}}`,
		`{"permissions":[]}`, `{"name":"\u0000"}`, `{"name":"\ud800"}`, `{"max_subaccounts":3,"currency":"EUR"}`,
		`{}`, ``, `null`, `[]`, `"x"`, `{"name":`, `{"name":"x"}garbage`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`,
		"name=Team&enabled=false&permissions%5Bsms%5D=0", "permissions.calls=true&permissions[calls]=false",
		"%zz=1", "name=%ff%fe", "=&&=",
	} {
		f.Add([]byte(s))
	}
	st := openStore(f, balance.Options{DataDir: f.TempDir()})
	api := New(Options{Store: st, OperatorToken: testOperatorToken, MaxBodyBytes: 4096})
	bearer := "Bearer " + testOperatorToken
	code, out := serveDirect(api.Operator, "POST", "/admin/v1/Account/", bearer, "application/json", []byte(`{"name":"Fuzz"}`))
	if code != 201 {
		f.Fatalf("creating the main account: %d %s", code, out)
	}
	var m struct{ AuthID, AuthToken string }
	var raw map[string]any
	_ = json.Unmarshal(out, &raw)
	m.AuthID, m.AuthToken = raw["auth_id"].(string), raw["auth_token"].(string)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(m.AuthID+":"+m.AuthToken))
	code, out = serveDirect(api.Public, "POST", "/v1/Account/"+m.AuthID+"/Subaccount/", basic, "application/json", []byte(`{"name":"Kid"}`))
	if code != 201 {
		f.Fatalf("creating the child: %d %s", code, out)
	}
	_ = json.Unmarshal(out, &raw)
	kid := raw["auth_id"].(string)

	targets := []struct {
		h            fasthttp.RequestHandler
		method, path string
		auth         string
	}{
		{api.Public, "POST", "/v1/Account/" + m.AuthID + "/Subaccount/", basic},
		{api.Public, "PATCH", "/v1/Account/" + m.AuthID + "/Subaccount/" + kid + "/", basic},
		{api.Public, "POST", "/v1/Account/" + m.AuthID + "/Subaccount/" + kid + "/", basic},
		{api.Operator, "POST", "/admin/v1/Account/", bearer},
		{api.Operator, "PATCH", "/admin/v1/Account/" + kid + "/", bearer},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, tg := range targets {
			for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
				code, out := serveDirect(tg.h, tg.method, tg.path, tg.auth, ct, body)
				if code >= 500 {
					t.Fatalf("%s %s (%s) %q: %d %s", tg.method, tg.path, ct, body, code, out)
				}
				if !json.Valid(out) {
					t.Fatalf("%s %s (%s) %q: answer is not JSON: %s", tg.method, tg.path, ct, body, out)
				}
			}
		}
	})
}
