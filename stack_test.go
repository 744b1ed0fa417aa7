package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/admin"
	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// stack is a whole gateway in the test process, wired as serve wires it: a real Redis, one
// Prometheus registry, the instrumented store, gateway metrics, the management API as the
// public listener's fallback, the operator listener with /metrics, health and pprof.
type stack struct {
	store    *balance.Store
	gw       *gateway.Gateway
	api      *admin.API
	pub, ops *fasthttp.HostClient
	opToken  string
	logs     *logBuffer // everything both listeners log, DEBUG included
}

// logBuffer collects log output; safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startStack starts a stack on loopback with routes and upstreams; everything stops when
// the test ends.
func startStack(t *testing.T, routes []policy.RouteSpec, ups map[string]gateway.Upstream) *stack {
	t.Helper()
	return startStackWith(t, routes, ups, stackOptions{})
}

// stackOptions are what tests vary in a stack; the zero value is startStack's.
type stackOptions struct {
	level     slog.Level          // what stack.logs keeps; default INFO and up
	authLimit int                 // auth failures per minute on each listener, as serve wires them; 0: one no test reaches
	trusted   []netip.Prefix      // limits.trusted_proxies
	calls     []*balance.CallSpec // the routes' call blocks, by index
}

// startStackWith is startStack with o.
// startSandboxStack starts the sandbox upstreams (until the test ends) and a stack in front
// of them with one route, voice.call (POST …/Call/, permission calls, price 0.0100).
func startSandboxStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	voice, sms, stop, err := gateway.StartSandbox()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return startStackWith(t, []policy.RouteSpec{{Name: "voice.call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/",
		Upstream: "voice", Permission: "calls", Price: "0.0100"}},
		map[string]gateway.Upstream{"voice": {URL: voice}, "sms": {URL: sms}}, o)
}

func startStackWith(t *testing.T, routes []policy.RouteSpec, ups map[string]gateway.Upstream, o stackOptions) *stack {
	t.Helper()
	s := &stack{opToken: "stack-operator-token", logs: &logBuffer{}}
	store, err := balance.Open(context.Background(), balance.Options{Redis: "redis://" + redistest.Start(t) + "/0", PoolSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s.store = store
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: o.level}))
	reg := newRegistry()
	if err := store.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	gm, err := gateway.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if o.authLimit == 0 {
		o.authLimit = 1 << 30 // config has no "no limit"
	}
	limit := func() *gateway.AuthLimiter {
		return gateway.NewAuthLimiter(gateway.AuthLimitOptions{PerMinute: o.authLimit, TrustedProxies: o.trusted})
	}
	pubLimit := limit()
	// The default configuration's settings, as serve passes them, with the test's routes.
	ao := adminOptions(config.Default())
	ao.Store, ao.OperatorToken, ao.Logger, ao.AuthLimiter, ao.OperatorAuthLimiter = store, s.opToken, log, pubLimit, limit()
	ao.Invalidate = func(id string) { s.gw.Invalidate(id) }
	s.api = admin.New(ao)
	gwo := gatewayOptions(config.Default())
	gwo.Store, gwo.Fallback, gwo.Logger, gwo.Metrics, gwo.AuthLimiter = store, s.api.Public, log, gm, pubLimit
	gwo.Routes, gwo.Upstreams, gwo.Calls = routes, ups, o.calls
	s.gw, err = gateway.New(gwo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.gw.Close() })
	s.pub = serveOn(t, s.gw.Server())
	s.ops = serveOn(t, newOperatorServer(s.api, store, reg, log, 0))
	s.pub.MaxConns, s.ops.MaxConns = 256, 64
	return s
}
