package gateway

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// recorded is what an upstream received.
type recorded struct {
	method, uri string
	proto       string              // the request line's HTTP version
	header      map[string][]string // the header section, lower-case names
	trailer     string              // the trailer section as received, "" when none
	body        []byte
}

func (r recorded) get(name string) string {
	v := r.header[strings.ToLower(name)]
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// recorder is a real upstream on loopback that records every request and answers as told.
type recorder struct {
	mu     sync.Mutex
	reqs   []recorded
	status atomic.Int32 // answer status; default 200
	delay  atomic.Int64 // ns to wait before answering
	url    string
	gate   chan struct{}          // when non-nil, answers wait for it
	cost   atomic.Pointer[string] // when set, answers carry X-Usage-Cost: *cost
}

func startRecorder(t testing.TB) *recorder {
	t.Helper()
	r := &recorder{}
	r.status.Store(200)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: r.serve}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Shutdown() })
	r.url = "http://" + ln.Addr().String()
	return r
}

func (r *recorder) serve(rc *fasthttp.RequestCtx) {
	rec := recorded{method: string(rc.Method()), uri: string(rc.RequestURI()), proto: string(rc.Request.Header.Protocol()),
		header: map[string][]string{}, body: append([]byte(nil), rc.PostBody()...)}
	if len(rc.Request.Header.PeekTrailerKeys()) > 0 {
		rec.trailer = string(rc.Request.Header.TrailerHeader())
	}
	for k, v := range rc.Request.Header.All() {
		n := strings.ToLower(string(k))
		rec.header[n] = append(rec.header[n], string(v))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	gate := r.gate
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if d := r.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	rc.SetStatusCode(int(r.status.Load()))
	rc.SetContentType("application/json")
	rc.Response.Header.Set("X-Upstream", "yes")
	rc.Response.Header.Set("X-Charge", "999")
	if c := r.cost.Load(); c != nil {
		rc.Response.Header.Set("X-Usage-Cost", *c)
	}
	rc.SetBodyString(`{"api_id":"x"}`)
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func (r *recorder) count() int { return len(r.requests()) }

// fixture: a real redis-server, a gateway on loopback, two recording upstreams.
type fixture struct {
	t     testing.TB
	store *balance.Store
	gw    *Gateway
	addr  string
	voice *recorder
	sms   *recorder
	hc    *fasthttp.HostClient
}

var testRoutes = []policy.RouteSpec{
	{Name: "voice.call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", KYC: true, Price: "0.0100"},
	{Name: "voice.cdr", Method: "GET", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "cdr", Price: "0"},
	{Name: "sms.send", Method: "POST", Path: "/v1/Account/{auth_id}/Message/", Upstream: "sms", Permission: "sms", Price: "0.0050"},
}

func openRedis(t testing.TB) *balance.Store {
	t.Helper()
	return testkit.OpenStore(t, balance.Options{Redis: "redis://" + redistest.Start(t) + "/0", PoolSize: 256})
}

// unreachedAuthLimit is an auth-failure limit (a minute) that no test reaches: the fixture's,
// so that tests of bad credentials are not cut short by 429s (config has no "no limit").
const unreachedAuthLimit = 1 << 30

func newFixture(t testing.TB, edit func(o *Options)) *fixture {
	t.Helper()
	return newFixtureOn(t, openRedis(t), edit)
}

// newFixtureOn serves a gateway on store with recording upstreams, until the test ends.
func newFixtureOn(t testing.TB, store *balance.Store, edit func(o *Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, store: store, voice: startRecorder(t), sms: startRecorder(t)}
	o := Options{
		Store:  f.store,
		Routes: testRoutes,
		Upstreams: map[string]Upstream{
			"voice": {URL: f.voice.url, Timeout: 2 * time.Second, ConnectTimeout: time.Second},
			"sms":   {URL: f.sms.url, Timeout: 2 * time.Second, ConnectTimeout: time.Second},
		},
		AuthFailuresPerMinute: unreachedAuthLimit,
	}
	if edit != nil {
		edit(&o)
	}
	o.Store = storeOr(o.Store, f.store)
	gw, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gw
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw.Server() // made here, before Serve and Shutdown use it from two goroutines
	done := make(chan struct{})
	go func() { defer close(done); gw.Serve(ln) }() //nolint:errcheck
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
		<-done
		gw.Close()
	})
	f.addr = ln.Addr().String()
	f.hc = &fasthttp.HostClient{Addr: f.addr, MaxConns: 1024, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	return f
}

func storeOr(s Store, def *balance.Store) Store {
	if s == nil {
		return def
	}
	return s
}

// mk creates an account under parent (nil = main) and credits it (own balance) with credit.
func (f *fixture) mk(parent *testkit.Account, credit string, opts ...testkit.Option) *testkit.Account {
	f.t.Helper()
	return testkit.NewAccount(f.t, f.store, parent, credit, opts...)
}

func (f *fixture) bal(a *testkit.Account) model.Amount {
	f.t.Helper()
	return testkit.Balance(f.t, f.store, a)
}

// call is one request to the gateway.
type call struct {
	method, path string
	as           *testkit.Account // credentials (headers); nil = none
	basic        bool             // send them as Basic instead
	tok          string           // overrides as.Token
	header       map[string]string
	body         string
	invalid      bool // an invalid request on purpose: the OpenAPI check skips the request
}

func (f *fixture) do(c call) testkit.Answer {
	f.t.Helper()
	r := testkit.Request{Method: c.method, Path: c.path, Header: c.header, Body: c.body, Invalid: c.invalid}
	if r.Method == "" {
		r.Method = "POST"
	}
	if c.as != nil {
		cr := c.as.Cred().As(c.basic)
		if c.tok != "" {
			cr.Token = c.tok
		}
		r.Cred = &cr
	}
	return testkit.Do(f.t, f.hc, r)
}

func callPath(a *testkit.Account) string { return "/v1/Account/" + a.ID + "/Call/" }
func smsPath(a *testkit.Account) string  { return "/v1/Account/" + a.ID + "/Message/" }

type policyRouteSpec = policy.RouteSpec

func hashHex(tok string) string { return policy.HashToken([]byte(tok)).Hex() }
