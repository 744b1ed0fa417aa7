package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/tenantgw/gateway/admin"
	"github.com/tenantgw/gateway/balance"
)

// newOperatorServer serves the operator listener: /healthz, /readyz, /metrics,
// /debug/pprof/ and the operator API under /admin/.
func newOperatorServer(api *admin.API, store *balance.Store, log *slog.Logger) *fasthttp.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	h := func(rc *fasthttp.RequestCtx) {
		path := string(rc.Path())
		switch {
		case path == "/healthz":
			rc.SetContentType("text/plain; charset=utf-8")
			rc.SetBodyString("ok\n")
		case path == "/readyz":
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			rc.SetContentType("text/plain; charset=utf-8")
			if err := store.Ping(ctx); err != nil {
				rc.SetStatusCode(fasthttp.StatusServiceUnavailable)
				rc.SetBodyString("store unavailable\n")
				return
			}
			rc.SetBodyString("ready\n")
		case path == "/metrics":
			metrics(rc)
		case strings.HasPrefix(path, "/debug/pprof"):
			pprofhandler.PprofHandler(rc)
		default:
			api.Operator(rc)
		}
	}
	return &fasthttp.Server{Handler: h, Name: "gateway-operator", ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, NoDefaultServerHeader: true}
}
