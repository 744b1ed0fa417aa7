package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// BareProxy returns a fasthttp handler that forwards every request, as it came, to the
// upstream base URL over pooled keep-alive connections (at most maxConns) and answers with the
// upstream's answer, or 502 when the upstream cannot be reached. It checks nothing — no
// credentials, no route, no limit, no money: a floor for what any proxy costs, for `gateway
// bench --bare` to measure the gateway against.
func BareProxy(upstream string, maxConns int, timeout time.Duration) (fasthttp.RequestHandler, error) {
	hc, _, err := hostClient(upstream, maxConns, timeout)
	if err != nil {
		return nil, err
	}
	hc.Name = "bare-proxy"
	return func(ctx *fasthttp.RequestCtx) {
		if err := hc.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Response.Reset()
			ctx.SetStatusCode(fasthttp.StatusBadGateway)
		}
	}, nil
}

// proxyUsage is the help text of `gateway bench proxy`.
const proxyUsage = `Usage: gateway bench proxy --upstream URL [--listen ADDR]

Runs a bare fasthttp reverse proxy: every request is forwarded, as it came, to URL over
keep-alive connections, and nothing is checked. Start it in its own process next to the
gateway, forwarding to the same upstream, and give its address to "gateway bench --bare",
which then reports the gateway against it (and, on Linux, both processes' CPU per request).
Runs until SIGINT or SIGTERM.

Flags:
`

// proxyMain runs `gateway bench proxy`.
func proxyMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, proxyUsage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:9100", "`address` to listen on")
	upstream := fs.String("upstream", "", "upstream base `URL` (required)")
	conns := fs.Int("max-conns", 512, "most connections to the upstream")
	timeout := fs.Duration("timeout", DefaultTimeout, "per request to the upstream: connection wait, write and read each")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *upstream == "" || fs.NArg() > 0 || *conns <= 0 || *timeout <= 0 {
		fmt.Fprintln(stderr, "gateway bench proxy: give --upstream URL (and positive --max-conns, --timeout), no arguments")
		return 2
	}
	h, err := BareProxy(*upstream, *conns, *timeout)
	if err != nil {
		fmt.Fprintln(stderr, "gateway bench proxy:", err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "gateway bench proxy:", err)
		return 1
	}
	srv := &fasthttp.Server{Handler: h, Name: "bare-proxy", ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Shutdown() }()
	fmt.Fprintf(stderr, "bare proxy on http://%s → %s\n", ln.Addr(), *upstream)
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(stderr, "gateway bench proxy:", err)
		return 1
	}
	return 0
}
