package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/admin"
	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
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
	return startStackLogging(t, routes, ups, slog.LevelInfo)
}

// startStackLogging is startStack logging from level up into stack.logs.
func startStackLogging(t *testing.T, routes []policy.RouteSpec, ups map[string]gateway.Upstream, level slog.Level) *stack {
	t.Helper()
	s := &stack{opToken: "stack-operator-token", logs: &logBuffer{}}
	store, err := balance.Open(context.Background(), balance.Options{Redis: "redis://" + redistest.Start(t) + "/0", PoolSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s.store = store
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: level}))
	reg := newRegistry()
	if err := store.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	gm, err := gateway.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s.api = admin.New(admin.Options{Store: store, OperatorToken: s.opToken, Logger: log,
		Invalidate: func(id string) { s.gw.Invalidate(id) }})
	s.gw, err = gateway.New(gateway.Options{Store: store, Fallback: s.api.Public, Logger: log, Metrics: gm,
		Routes: routes, Upstreams: ups, AuthFailuresPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.gw.Close() })
	s.pub = serveOn(t, s.gw.Server())
	s.ops = serveOn(t, newOperatorServer(s.api, store, reg, log, 0))
	s.pub.MaxConns, s.ops.MaxConns = 256, 64
	return s
}
