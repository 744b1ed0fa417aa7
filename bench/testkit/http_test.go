package testkit

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// echo serves, until the test ends, a listener that answers with the request's credential
// headers and content type as its own X-Got-* headers, and 401 with an error body when asked
// for /fail.
func echo(t *testing.T) *fasthttp.HostClient {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		for _, h := range []string{"Authorization", "X-Auth-ID", "X-Auth-Token", "Content-Type"} {
			rc.Response.Header.Set("X-Got-"+h, string(rc.Request.Header.Peek(h)))
		}
		if string(rc.Path()) == "/fail" {
			rc.SetStatusCode(401)
			rc.SetContentType("application/json")
			rc.SetBodyString(`{"status":"error","error":{"code":"INVALID_CREDENTIALS","message":"m","details":{"k":"v"}},"request_id":"r1"}`)
			return
		}
		rc.SetBody(rc.PostBody())
	}}
	go srv.Serve(ln) //nolint:errcheck // ends when the listener closes
	t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close() })
	return &fasthttp.HostClient{Addr: "kit.test", Dial: func(string) (net.Conn, error) { return ln.Dial() },
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
}

func TestDoSendsCredentialsAsDocumented(t *testing.T) {
	hc := echo(t)
	c := Cred{ID: "SA_X", Token: "tok"}
	for _, tc := range []struct {
		name                  string
		r                     Request
		authz, id, tok, ctype string
	}{
		{name: "headers", r: Request{Cred: &c}, id: "SA_X", tok: "tok"},
		{name: "basic", r: Request{Cred: new(c.As(true))}, authz: BasicAuth("SA_X", "tok")},
		{name: "bearer replaces basic", r: Request{Cred: new(c.As(true)), Bearer: "op"}, authz: "Bearer op"},
		{name: "header replaces bearer", r: Request{Bearer: "op", Header: map[string]string{"Authorization": "raw"}}, authz: "raw"},
		{name: "content type with a body", r: Request{Method: "POST", Body: "{}", ContentType: "application/json"}, ctype: "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Path = "/ok"
			a := Do(t, hc, tc.r)
			if a.Status != 200 || string(a.Body) != tc.r.Body {
				t.Fatalf("answer %d %q", a.Status, a.Body)
			}
			for h, want := range map[string]string{"Authorization": tc.authz, "X-Auth-Id": tc.id, "X-Auth-Token": tc.tok} {
				if got := a.Header["X-Got-"+h]; got != want {
					t.Errorf("%s sent as %q, want %q", h, got, want)
				}
			}
			if tc.ctype != "" && a.Header["X-Got-Content-Type"] != tc.ctype {
				t.Errorf("Content-Type sent as %q, want %q", a.Header["X-Got-Content-Type"], tc.ctype)
			}
		})
	}
}

func TestDoDecodesTheErrorBody(t *testing.T) {
	a := Do(t, echo(t), Request{Method: "GET", Path: "/fail"})
	if a.Status != 401 || a.Err.Status != "error" || a.Err.Error.Code != "INVALID_CREDENTIALS" || a.Err.Error.Message != "m" ||
		a.Err.Error.Details["k"] != "v" || a.Err.RequestID != "r1" {
		t.Fatalf("answer %d, error body %+v", a.Status, a.Err)
	}
	if code, d := a.ErrCode(t); code != "INVALID_CREDENTIALS" || d["k"] != "v" {
		t.Fatalf("ErrCode: %q %v", code, d)
	}
}
