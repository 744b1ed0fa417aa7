package testkit

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// recorder is a testing.TB that keeps what Errorf reports instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// fixed serves, until the test ends, a listener that answers every request with status and
// a JSON body.
func fixed(t *testing.T, status int, body string) *fasthttp.HostClient {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		rc.SetStatusCode(status)
		rc.SetContentType("application/json")
		rc.SetBodyString(body)
	}}
	go srv.Serve(ln) //nolint:errcheck // ends when the listener closes
	t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close() })
	return &fasthttp.HostClient{Addr: "kit.test", Dial: func(string) (net.Conn, error) { return ln.Dial() },
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
}

const (
	goodBalance = `{"auth_id":"SA_A","billing_auth_id":"MA_B","balance":"1.00","credit_limit":"0.00","available":"1.00","currency":"USD","use_parent_balance":true}`
	goodError   = `{"status":"error","error":{"code":"INVALID_REQUEST","message":"m","details":{"field":"amount"}},"request_id":"r"}`
)

// TestDoChecksTheOpenAPIDocument: Do reports a request or an answer the listener's document
// does not describe, skips the request (not the answer) of an Invalid one, and leaves paths
// the document does not have alone.
func TestDoChecksTheOpenAPIDocument(t *testing.T) {
	c := &Cred{ID: "MA_B", Token: "t"}
	transfer := Request{Method: "POST", Path: "/v1/Account/MA_B/Transfer/", Cred: c, ContentType: "application/json"}
	for _, tc := range []struct {
		name   string
		status int
		answer string
		r      Request
		want   string // in the one report; "": none
	}{
		{"good read", 200, goodBalance, Request{Path: "/v1/Account/SA_A/Balance/", Cred: c}, ""},
		{"answer lacks a field", 200, `{"auth_id":"SA_A"}`, Request{Path: "/v1/Account/SA_A/Balance/", Cred: c}, "the answer 200"},
		{"answer has a float", 200, strings.Replace(goodBalance, `"1.00"`, `1.0`, 1), Request{Path: "/v1/Account/SA_A/Balance/", Cred: c}, "the answer 200"},
		{"undocumented status", 418, goodError, Request{Path: "/v1/Account/SA_A/Balance/", Cred: c}, "the answer 418"},
		{"error answer not the error body", 400, `{"error":"bad"}`, Request{Path: "/v1/Account/SA_A/Usage/?start=x", Cred: c}, "the answer 400"},
		{"operator path", 200, `{"meta":{"limit":20,"offset":0,"total_count":0,"next":null,"previous":null},"objects":[]}`,
			Request{Path: "/admin/v1/Account/", Bearer: "op"}, ""},
		{"bad request", 400, goodError, with(transfer, `{"to":"SA_A","amount":"1e3"}`, false), "the request POST"},
		{"bad request sent on purpose", 400, goodError, with(transfer, `{"to":"SA_A","amount":"1e3"}`, true), ""},
		{"bad request on purpose, bad answer", 200, `{}`, with(transfer, `{"amount":"x"}`, true), "the answer 200"},
		{"unknown field", 400, goodError, with(transfer, `{"to":"SA_A","amount":"1","colour":"red"}`, false), "the request POST"},
		{"path not described", 200, `{"anything":1}`, Request{Path: "/v1/Account/SA_A/Nothing/", Cred: c}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			Do(rec, fixed(t, tc.status, tc.answer), tc.r)
			switch {
			case tc.want == "" && len(rec.errs) > 0:
				t.Fatalf("reported %q", rec.errs)
			case tc.want != "" && (len(rec.errs) != 1 || !strings.Contains(rec.errs[0], tc.want)):
				t.Fatalf("reported %q, want one report with %q", rec.errs, tc.want)
			}
		})
	}
}

func with(r Request, body string, invalid bool) Request {
	r.Body, r.Invalid = body, invalid
	return r
}
