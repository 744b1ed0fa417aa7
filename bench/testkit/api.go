package testkit

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

// NewMain creates a main account named name through the operator API behind hc (Bearer
// opToken) and, when credit is not "", credits it that amount the same way; it returns the
// account's credentials, to be sent as headers. A create not answered 201 with the account's
// auth_id and auth_token, or a credit not answered 201, fails the test.
func NewMain(t testing.TB, hc *fasthttp.HostClient, opToken, name, credit string) Cred {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	r := Do(t, hc, Request{Method: "POST", Path: "/admin/v1/Account/", Bearer: opToken, Body: string(body)})
	var ma struct {
		AuthID    string `json:"auth_id"`
		AuthToken string `json:"auth_token"`
	}
	if err := json.Unmarshal(r.Body, &ma); r.Status != 201 || err != nil || ma.AuthID == "" || ma.AuthToken == "" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if credit != "" {
		body, _ = json.Marshal(map[string]string{"amount": credit})
		r := Do(t, hc, Request{Method: "POST", Path: "/admin/v1/Account/" + ma.AuthID + "/Credit/", Bearer: opToken, Body: string(body)})
		if r.Status != 201 {
			t.Fatalf("credit: %d %s", r.Status, r.Body)
		}
	}
	return Cred{ID: ma.AuthID, Token: ma.AuthToken}
}
