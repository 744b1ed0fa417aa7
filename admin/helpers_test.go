package admin

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
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
	return testkit.OpenStore(t, o)
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

// do sends r, as JSON when it has a body and no content type of its own; an answer without
// X-Request-ID fails the test.
func (e *env) do(r testkit.Request) testkit.Answer {
	e.t.Helper()
	if r.Body != "" && r.ContentType == "" {
		r.ContentType = "application/json"
	}
	out := testkit.Do(e.t, e.hc, r)
	if out.Header["X-Request-Id"] == "" {
		e.t.Fatalf("%s %s: answer %d without X-Request-ID", r.Method, r.Path, out.Status)
	}
	return out
}

// must fails the test unless the answer has status want.
func (e *env) must(want int, r testkit.Request) testkit.Answer {
	e.t.Helper()
	got := e.do(r)
	if got.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", r.Method, r.Path, got.Status, want, got.Body)
	}
	return got
}

// account is a created account with its clear token.
type account struct {
	id, tok string
	obj     map[string]any
}

func (a account) cred() testkit.Cred { return testkit.Cred{ID: a.id, Token: a.tok} }

// main creates a main account through the operator API.
func (e *env) main(body string) account {
	e.t.Helper()
	if body == "" {
		body = `{"name":"Main"}`
	}
	r := e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/", Bearer: testOperatorToken, Body: body})
	return toAccount(e.t, r)
}

// child creates a subaccount of parent with parent's own credentials.
func (e *env) child(parent account, body string) account {
	e.t.Helper()
	return e.childBy(parent.cred(), parent.id, body)
}

// childBy creates a subaccount of parentID with caller's credentials.
func (e *env) childBy(caller testkit.Cred, parentID, body string) account {
	e.t.Helper()
	if body == "" {
		body = `{"name":"Child"}`
	}
	r := e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + parentID + "/Subaccount/", Cred: &caller, Body: body})
	return toAccount(e.t, r)
}

func toAccount(t *testing.T, r testkit.Answer) account {
	t.Helper()
	m := r.JSON(t)
	return account{id: m["auth_id"].(string), tok: m["auth_token"].(string), obj: m}
}

func (e *env) op(method, path, body string) testkit.Answer {
	e.t.Helper()
	return e.do(testkit.Request{Method: method, Path: path, Bearer: testOperatorToken, Body: body})
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
