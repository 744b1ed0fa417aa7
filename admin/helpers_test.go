package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/config"
)

const testOperatorToken = "op-secret-token-for-tests"

// backend opens a store for a test.
type backend struct {
	name string
	open func(t *testing.T) *balance.Store
}

var backends = []backend{
	{"redis", func(t *testing.T) *balance.Store {
		return openStore(t, balance.Options{Redis: "redis://" + redistest.Start(t) + "/0"})
	}},
	{"embedded", func(t *testing.T) *balance.Store {
		return openStore(t, balance.Options{DataDir: t.TempDir()})
	}},
}

func openStore(t testing.TB, o balance.Options) *balance.Store {
	t.Helper()
	st, err := balance.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is the injected clock: real time plus an offset the test moves forward.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) reset() {
	c.mu.Lock()
	c.off = 0
	c.mu.Unlock()
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is an API on a store behind a real fasthttp server on an in-memory listener.
type env struct {
	t     *testing.T
	st    *balance.Store
	api   *API
	hc    *fasthttp.HostClient
	clock *clock

	mu          sync.Mutex
	invalidated []string
}

// newEnv serves a new API over st; tweak may change the options.
func newEnv(t *testing.T, st *balance.Store, tweak func(*Options)) *env {
	t.Helper()
	e := &env{t: t, st: st, clock: &clock{}}
	o := Options{
		Store: st, OperatorToken: testOperatorToken, MaxBodyBytes: 4096, Now: e.clock.now,
		TokenGrace: config.DefaultTokenGrace, // as serve passes token_grace
		Invalidate: func(id string) {
			e.mu.Lock()
			e.invalidated = append(e.invalidated, id)
			e.mu.Unlock()
		},
	}
	if tweak != nil {
		tweak(&o)
	}
	e.api = New(o)
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		if bytes.HasPrefix(rc.Path(), []byte("/admin/")) {
			e.api.Operator(rc)
		} else {
			e.api.Public(rc)
		}
	}, MaxRequestBodySize: 1 << 20}
	go srv.Serve(ln) //nolint:errcheck // ends when the listener closes
	t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close() })
	e.hc = &fasthttp.HostClient{Addr: "gateway.test", Dial: func(string) (net.Conn, error) { return ln.Dial() },
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	return e
}

// cred are account credentials sent as headers or as HTTP Basic.
type cred struct {
	id, tok string
	basic   bool
}

func (c cred) as(basic bool) cred { c.basic = basic; return c }

// res is an answer.
type res struct {
	status int
	body   []byte
	hdr    map[string]string
}

func (r res) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v\n%s", r.status, err, r.body)
	}
	return m
}

// errCode returns the error code of an error body, and its details.
func (r res) errCode(t *testing.T) (string, map[string]any) {
	t.Helper()
	m := r.json(t)
	if m["status"] != "error" {
		t.Fatalf("not an error body: %s", r.body)
	}
	e := m["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	return e["code"].(string), d
}

// req describes one request.
type req struct {
	method, path string
	cred         *cred
	bearer       string
	ctype        string
	body         string
	hdr          map[string]string
}

func (e *env) do(r req) res {
	e.t.Helper()
	q, p := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(q)
	defer fasthttp.ReleaseResponse(p)
	q.Header.SetMethod(r.method)
	q.SetRequestURI("http://gateway.test" + r.path)
	if r.cred != nil {
		if r.cred.basic {
			q.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(r.cred.id+":"+r.cred.tok)))
		} else {
			q.Header.Set("X-Auth-ID", r.cred.id)
			q.Header.Set("X-Auth-Token", r.cred.tok)
		}
	}
	if r.bearer != "" {
		q.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	for k, v := range r.hdr {
		q.Header.Set(k, v)
	}
	if r.body != "" {
		ct := r.ctype
		if ct == "" {
			ct = "application/json"
		}
		q.Header.SetContentType(ct)
		q.SetBodyString(r.body)
	}
	if err := e.hc.Do(q, p); err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	out := res{status: p.StatusCode(), body: append([]byte(nil), p.Body()...), hdr: map[string]string{}}
	for k, v := range p.Header.All() {
		out.hdr[string(k)] = string(v)
	}
	if out.hdr["X-Request-Id"] == "" {
		e.t.Fatalf("%s %s: answer %d without X-Request-ID", r.method, r.path, out.status)
	}
	return out
}

// must fails the test unless the answer has status want.
func (e *env) must(want int, r req) res {
	e.t.Helper()
	got := e.do(r)
	if got.status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", r.method, r.path, got.status, want, got.body)
	}
	return got
}

// account is a created account with its clear token.
type account struct {
	id, tok string
	obj     map[string]any
}

func (a account) cred() cred { return cred{id: a.id, tok: a.tok} }

// main creates a main account through the operator API.
func (e *env) main(body string) account {
	e.t.Helper()
	if body == "" {
		body = `{"name":"Main"}`
	}
	r := e.must(201, req{method: "POST", path: "/admin/v1/Account/", bearer: testOperatorToken, body: body})
	return toAccount(e.t, r)
}

// child creates a subaccount of parent with parent's own credentials.
func (e *env) child(parent account, body string) account {
	e.t.Helper()
	return e.childBy(parent.cred(), parent.id, body)
}

// childBy creates a subaccount of parentID with caller's credentials.
func (e *env) childBy(caller cred, parentID, body string) account {
	e.t.Helper()
	if body == "" {
		body = `{"name":"Child"}`
	}
	r := e.must(201, req{method: "POST", path: "/v1/Account/" + parentID + "/Subaccount/", cred: &caller, body: body})
	return toAccount(e.t, r)
}

func toAccount(t *testing.T, r res) account {
	t.Helper()
	m := r.json(t)
	return account{id: m["auth_id"].(string), tok: m["auth_token"].(string), obj: m}
}

func (e *env) op(method, path, body string) res {
	e.t.Helper()
	return e.do(req{method: method, path: path, bearer: testOperatorToken, body: body})
}

func (e *env) wasInvalidated(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.invalidated {
		if x == id {
			return true
		}
	}
	return false
}

// forEachBackend runs fn against every store backend, each with its own store.
func forEachBackend(t *testing.T, fn func(t *testing.T, st *balance.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}
