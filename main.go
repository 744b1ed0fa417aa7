// Command gateway is the tenant gateway: an enforcing reverse proxy in front of voice and SMS
// backends, with the subaccount management, money and operator APIs.
//
// main wires: config → store → policy, balance → gateway, admin → listeners. Nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tenantgw/gateway/admin"
	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `gateway — a tenant gateway for telephony platforms

Usage:
  gateway serve [--config FILE]   run the gateway: the public listener (proxied routes and
                                  account management) and the operator listener (operator
                                  API, /metrics, /healthz, /readyz, /debug/pprof/).
                                  With no file every setting takes its default: the embedded
                                  store under ./data and built-in sandbox upstreams, so it
                                  works end to end at once. GATEWAY_<SETTING> environment
                                  variables override the file (e.g. GATEWAY_LISTEN,
                                  GATEWAY_STORE_REDIS); GATEWAY_OPERATOR_TOKEN sets the
                                  operator token.
  gateway bench [flags]           drive a running gateway with load and report throughput,
                                  latency percentiles and the money charged; --direct URL
                                  measures an upstream in the same run, --tenants N --subs M
                                  spreads the load over N × M seeded subaccounts; "gateway
                                  bench proxy" is a bare proxy to compare with (gateway bench -h)
  gateway version                 print the version
  gateway help                    this text (also --help, -h)

Run "gateway serve --help" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		file := fs.String("config", "", "YAML configuration `file` (default: none, every setting at its default)")
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: gateway serve [--config FILE]\n\nRuns the gateway until SIGINT or SIGTERM, then stops gracefully:\nno new connections, in-flight requests finish (their charges and refunds complete),\nthe store is flushed.")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if err := serve(*file, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "gateway:", err)
			return 1
		}
		return 0
	case "bench":
		return bench.Main(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "gateway", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "gateway: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

func serve(file string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(file, os.Environ())
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	balance.SetLogger(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, err := balance.Open(ctx, storeOptions(cfg))
	if err != nil {
		return err
	}
	defer store.Close() // last: after the listeners stopped, so the final snapshot is complete
	// The only Prometheus registry; the operator listener serves it on /metrics.
	reg := newRegistry()
	if err := store.Instrument(reg); err != nil {
		return err
	}

	opToken, err := operatorToken(cfg, stdout)
	if err != nil {
		return err
	}

	if cfg.Sandbox {
		voice, sms, stopSandbox, err := gateway.StartSandbox()
		if err != nil {
			return err
		}
		defer stopSandbox()
		setURL(&cfg, "voice", voice)
		setURL(&cfg, "sms", sms)
		log.Info("sandbox upstreams started", "voice", voice, "sms", sms)
	}

	// The auth-failure limit: one for the public listener (proxied routes and management
	// API count together), one for the operator listener, so that failures on the public
	// listener never lock the operator out.
	lo, err := authLimitOptions(cfg)
	if err != nil {
		return err
	}
	pubLimit, opLimit := gateway.NewAuthLimiter(lo), gateway.NewAuthLimiter(lo)

	var gw *gateway.Gateway
	ao := adminOptions(cfg)
	ao.Store, ao.OperatorToken, ao.Logger, ao.AuthLimiter, ao.OperatorAuthLimiter = store, opToken, log, pubLimit, opLimit
	if ao.UpstreamTokens, err = upstreamTokens(cfg); err != nil {
		return err
	}
	ao.Invalidate = func(id string) { // this instance at once, the others through the store
		gw.Invalidate(id)
		if err := store.PublishInvalidation(context.Background(), id); err != nil {
			log.Warn("publishing a cache invalidation", "auth_id", id, "err", err)
		}
	}
	api := admin.New(ao)
	gwMetrics, err := gateway.NewMetrics(reg)
	if err != nil {
		return err
	}
	gwo := gatewayOptions(cfg)
	gwo.Store, gwo.AuthLimiter, gwo.Fallback, gwo.Logger, gwo.Metrics = store, pubLimit, api.Public, log, gwMetrics
	gw, err = gateway.New(gwo)
	if err != nil {
		return err
	}
	defer gw.Close()
	sub := store.SubscribeInvalidations(ctx, gw.ApplyInvalidation) // changes made by other instances
	defer sub.Close()
	// Daily usage older than limits.usage_retention is compacted into months in the
	// background; stopped (and waited for) before the store closes.
	cctx, stopCompactor := context.WithCancel(ctx)
	compacted := make(chan struct{})
	go func() {
		defer close(compacted)
		balance.NewCompactor(store, cfg.Limits.UsageRetention.Std(), nil).Run(cctx, log)
	}()
	defer func() { stopCompactor(); <-compacted }()
	// Call holds whose lifetime ended are resolved by a reaper on every instance.
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		balance.NewReaper(store).Run(cctx, log)
	}()
	defer func() { stopCompactor(); <-reaped }()

	ops := newOperatorServer(api, store, reg, log, cfg.Limits.MaxBodyBytes)

	pub, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	opl, err := net.Listen("tcp", cfg.OperatorListen)
	if err != nil {
		pub.Close()
		return fmt.Errorf("operator_listen: %w", err)
	}
	storeKind := "redis"
	if store.Embedded() {
		storeKind = "embedded (" + cfg.Store.DataDir + ")"
	}
	log.Info("gateway serving", "version", version, "public", pub.Addr().String(), "operator", opl.Addr().String(), "store", storeKind)

	errc := make(chan error, 2)
	go func() { errc <- gw.Serve(pub) }()
	go func() { errc <- ops.Serve(opl) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests")
	case err = <-errc:
		log.Error("listener failed", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e := gw.Shutdown(sctx); e != nil {
		log.Warn("public listener shutdown", "err", e)
	}
	if e := ops.ShutdownWithContext(sctx); e != nil {
		log.Warn("operator listener shutdown", "err", e)
	}
	return err
}

func setURL(cfg *config.Config, name, url string) {
	u := cfg.Upstreams[name]
	u.URL = url
	cfg.Upstreams[name] = u
}

// upstreamTokens are the backends' own tokens (API.md §6): GATEWAY_UPSTREAMS_<NAME>_TOKEN,
// else the upstream's token_file, else its token; an upstream with none has no token.
func upstreamTokens(cfg config.Config) (map[string]string, error) {
	out := make(map[string]string)
	for name, u := range cfg.Upstreams {
		t := strings.TrimSpace(os.Getenv(config.UpstreamTokenEnv(name)))
		if t == "" && u.TokenFile != "" {
			b, err := os.ReadFile(u.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("upstreams.%s.token_file: %w", name, err)
			}
			if t = strings.TrimSpace(string(b)); t == "" {
				return nil, fmt.Errorf("upstreams.%s.token_file: %s is empty", name, u.TokenFile)
			}
		}
		if t == "" {
			t = u.Token
		}
		if t != "" {
			out[name] = t
		}
	}
	return out, nil
}

// operatorToken: GATEWAY_OPERATOR_TOKEN, else operator_token_file, else one is generated and
// printed once. With the embedded store a generated token is kept in data_dir/operator_token
// so that it stays the same across restarts on a laptop.
func operatorToken(cfg config.Config, stdout io.Writer) (string, error) {
	if t := strings.TrimSpace(os.Getenv("GATEWAY_OPERATOR_TOKEN")); t != "" {
		return t, nil
	}
	if cfg.OperatorTokenFile != "" {
		b, err := os.ReadFile(cfg.OperatorTokenFile)
		if err != nil {
			return "", fmt.Errorf("operator_token_file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("operator_token_file: %s is empty", cfg.OperatorTokenFile)
		}
		return t, nil
	}
	var keep string
	if cfg.Store.Embedded() && cfg.Store.DataDir != "" {
		keep = filepath.Join(cfg.Store.DataDir, "operator_token")
		if b, err := os.ReadFile(keep); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
	}
	t := policy.NewToken()
	if keep != "" {
		if err := os.WriteFile(keep, []byte(t+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("store.data_dir: keeping the operator token: %w", err)
		}
		fmt.Fprintf(stdout, "operator token (kept in %s): %s\n", keep, t)
	} else {
		fmt.Fprintf(stdout, "operator token (generated for this run): %s\n", t)
	}
	return t, nil
}
