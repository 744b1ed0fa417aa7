package testkit

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// Cred are account credentials, sent as X-Auth-ID/X-Auth-Token headers or, with Basic, as
// HTTP Basic.
type Cred struct {
	ID, Token string
	Basic     bool
}

// As is c sent as HTTP Basic (basic) or as headers.
func (c Cred) As(basic bool) Cred { c.Basic = basic; return c }

// Cred is the account's credentials, sent as headers.
func (a *Account) Cred() Cred { return Cred{ID: a.ID, Token: a.Token} }

// BasicAuth is the Authorization value of HTTP Basic credentials id:tok.
func BasicAuth(id, tok string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+tok))
}

// Request is one HTTP request. Credentials are set first, then Bearer (an Authorization
// header, replacing Basic credentials), then Header, then the body with ContentType when both
// are set: a later one replaces an earlier one's header of the same name.
type Request struct {
	Method, Path string // Path with its query; Method "" is fasthttp's default, GET
	Cred         *Cred  // nil: no account credentials
	Bearer       string // the operator token; "": none
	ContentType  string // sent with a Body; "": no Content-Type of its own
	Header       map[string]string
	Body         string // "": no body
	// Invalid: the test sends an invalid request on purpose; Do does not validate the request
	// against the OpenAPI document (its answer still is).
	Invalid bool
	// Unchecked: the listener is not the gateway's API (a test's stand-in handler); Do
	// validates neither the request nor the answer.
	Unchecked bool
}

// ErrorBody is the error body of API.md §3.
type ErrorBody struct {
	Status string `json:"status"`
	Error  struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// Answer is what a listener answered.
type Answer struct {
	Status int
	Header map[string]string // canonical names; the last value of a repeated header
	Body   []byte
	Err    ErrorBody // decoded when Status >= 400 and the body is JSON; zero otherwise
}

// Do sends r to hc's listener (the URL's host is hc.Addr) and returns the answer; a transport
// error fails the test, and so does a request (unless r.Invalid) or an answer (unless
// r.Unchecked) that does not match the listener's OpenAPI document (openapi.go).
func Do(t testing.TB, hc *fasthttp.HostClient, r Request) Answer {
	t.Helper()
	q, p := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(q)
	defer fasthttp.ReleaseResponse(p)
	q.Header.SetMethod(r.Method)
	q.SetRequestURI("http://" + hc.Addr + r.Path)
	if c := r.Cred; c != nil {
		if c.Basic {
			q.Header.Set("Authorization", BasicAuth(c.ID, c.Token))
		} else {
			q.Header.Set("X-Auth-ID", c.ID)
			q.Header.Set("X-Auth-Token", c.Token)
		}
	}
	if r.Bearer != "" {
		q.Header.Set("Authorization", "Bearer "+r.Bearer)
	}
	for k, v := range r.Header {
		q.Header.Set(k, v)
	}
	if r.Body != "" {
		if r.ContentType != "" {
			q.Header.SetContentType(r.ContentType)
		}
		q.SetBodyString(r.Body)
	}
	if err := hc.Do(q, p); err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	checkOpenAPI(t, r, q, p)
	return AnswerOf(p)
}

// AnswerOf is the answer p holds, copied out of it (p may be released afterwards).
func AnswerOf(p *fasthttp.Response) Answer {
	a := Answer{Status: p.StatusCode(), Header: map[string]string{}, Body: append([]byte(nil), p.Body()...)}
	for k, v := range p.Header.All() {
		a.Header[string(k)] = string(v)
	}
	if a.Status >= 400 && strings.HasPrefix(a.Header["Content-Type"], "application/json") {
		_ = json.Unmarshal(a.Body, &a.Err)
	}
	return a
}

// JSON decodes the answer's body as a JSON object; anything else fails the test.
func (a Answer) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v\n%s", a.Status, err, a.Body)
	}
	return m
}

// ErrCode returns the code of an error body, and its details; an answer that is not an error
// body fails the test.
func (a Answer) ErrCode(t testing.TB) (string, map[string]any) {
	t.Helper()
	m := a.JSON(t)
	if m["status"] != "error" {
		t.Fatalf("not an error body: %s", a.Body)
	}
	e := m["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	return e["code"].(string), d
}
