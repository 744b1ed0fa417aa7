package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
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
	"github.com/tenantgw/gateway/gateway"
)

// newRegistry is the one Prometheus registry of the process (no global one): the Go and
// process collectors here; main passes it to the store (balance.Store.Instrument) and the
// gateway (gateway.NewMetrics), and the operator listener exports it on /metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newOperatorServer serves the operator listener: /healthz, /readyz, /metrics (reg, in the
// Prometheus text format), /debug/pprof/ and the operator API under /admin/. None of these
// but the management API is on the public listener. /metrics, /debug/pprof/ and the
// operator API need the operator token (Authorization: Bearer); /healthz and /readyz are
// open, for load balancers. A body over maxBody bytes is refused (413) from its
// Content-Length, before it is read.
func newOperatorServer(api *admin.API, store *balance.Store, reg *prometheus.Registry, log *slog.Logger, maxBody int) *fasthttp.Server {
	// /metrics and /debug/pprof/ need the operator token, as the operator API does.
	metrics := api.RequireOperator(fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry: reg, ErrorLog: promErrorLog{log}, MaxRequestsInFlight: 4})))
	index, profile := api.RequireOperator(pprofIndex), api.RequireOperator(pprofhandler.PprofHandler)
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
				log.Warn("readyz: store unavailable", "err", err)
				rc.SetStatusCode(fasthttp.StatusServiceUnavailable)
				rc.SetBodyString("store unavailable\n")
				return
			}
			rc.SetBodyString("ready\n")
		case path == "/metrics":
			metrics(rc)
		case path == "/debug/pprof/" || path == "/debug/pprof":
			// fasthttp's pprofhandler answers 404 to a path ending in '/', the index included.
			index(rc)
		case strings.HasPrefix(path, "/debug/pprof/"):
			profile(rc)
		default:
			api.Operator(rc)
		}
	}
	// The public listener's settings, timeouts and error answers (gateway.NewServer's
	// defaults); a longer write timeout for /debug/pprof/profile, which answers after the
	// seconds it samples.
	return gateway.NewServer(gateway.ServerOptions{Name: "gateway-operator", Handler: h, MaxBodyBytes: maxBody,
		WriteTimeout: 60 * time.Second, Logger: log})
}

// pprofIndex is net/http/pprof's index page (the list of profiles) at /debug/pprof/.
var pprofIndex = fasthttpadaptor.NewFastHTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	r.URL.Path = "/debug/pprof/"
	pprof.Index(w, r)
})

// promErrorLog sends promhttp's errors (a collector failing during a scrape) to the log.
type promErrorLog struct{ l *slog.Logger }

func (p promErrorLog) Println(v ...any) { p.l.Error("metrics scrape", "err", fmt.Sprint(v...)) }
