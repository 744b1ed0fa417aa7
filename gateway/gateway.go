// Package gateway is the enforcing proxy of the public listener (API.md §5): for every
// request that matches a configured route it authenticates the caller, applies the access
// rule, admits the request in one atomic store call (status, permissions, KYC, rate limits
// and the debit of the whole chain), forwards it to the route's upstream with trusted
// headers, refunds exactly once when the upstream fails, and answers with X-Request-ID,
// X-Charge and the RateLimit headers. Requests that match no route go to Options.Fallback
// (the management API) or get 404 ROUTE_NOT_FOUND.
//
// Contracts:
//   - A *Gateway is safe for concurrent use. Its handler never keeps a *fasthttp.RequestCtx
//     or its slices after it returns.
//   - Exactly one store round trip per admitted or refused request whose accounts are
//     cached; none for a request refused before the store (malformed or wrong credentials on
//     a cached account, foreign account, unknown route).
//   - The account cache holds only immutable facts and token hashes, bounded by
//     Options.CacheBytes. Status, permissions, limits and money are read by the admit script,
//     so a suspension takes effect on the very next request on every instance. Rotation,
//     close and delete must call Invalidate; even without it the admit script re-checks the
//     token, so a stale cache never admits a revoked token.
//   - Money: a refused request is charged nothing; an admitted one is debited once and, on
//     upstream failure (connect error, timeout, 5xx), refunded once (keyed by an internal
//     request id, so a retried refund cannot pay twice).
//   - Shutdown stops accepting, lets in-flight requests finish (their refunds included) and
//     then returns; Close releases the cache and idle upstream connections.
//
// Files by concern: handler.go is ServeFastHTTP, the steps of a request in order; auth.go the
// credentials (read by policy/wire) and the access rule; admit.go the admit; forward.go the
// upstream request; charge.go refund, settlement and compensation; respond.go what the client
// receives. In this package rc is always the *fasthttp.RequestCtx, ctx a context.Context.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// Store is what the gateway needs of the store; *balance.Store implements it.
type Store interface {
	balance.Admitter
	// Refund returns an admitted request's charge, exactly once.
	Refund(ctx context.Context, req *balance.AdmitRequest) (model.Amount, bool, error)
	// Settle makes an admitted request's charge what the upstream reported, exactly once.
	Settle(ctx context.Context, req *balance.AdmitRequest, cost model.Amount) (model.Amount, bool, error)
	// Account reads an account by id (balance.ErrNotFound when there is none).
	Account(ctx context.Context, id string) (*model.Account, error)
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// EndHold ends a call's hold (the gateway voids the hold of a call that did not start).
	EndHold(ctx context.Context, id string, op balance.HoldOp, value int64) (*balance.Hold, bool, error)
}

var _ Store = (*balance.Store)(nil)

// Upstream is one backend the routes forward to.
type Upstream struct {
	// URL is "http://host:port" or "https://host:port" (no path).
	URL string
	// Timeout bounds the whole exchange with the upstream (write request, read answer);
	// 0: config.DefaultUpstreamTimeout. Exceeding it answers 504 UPSTREAM_TIMEOUT and refunds.
	Timeout time.Duration
	// ConnectTimeout bounds establishing a connection; 0: config.DefaultConnectTimeout.
	// Failing answers 502.
	ConnectTimeout time.Duration
	// MaxConns bounds the open connections to the upstream; 0: config.DefaultMaxConns. With Pipeline it
	// bounds the requests in flight to the upstream instead (MaxConns/Pipeline per
	// connection); a request that finds every connection full waits up to ConnectTimeout
	// for room, then answers 502.
	MaxConns int
	// Pipeline > 0 sends requests to the upstream HTTP/1.1-pipelined over at most Pipeline
	// connections (pipeline.go): each request goes on the connection with the fewest
	// waiting, without waiting for the answers before it. Far fewer connections and system
	// calls under load (one write can carry many requests, one read many answers), at a
	// price: the upstream must answer pipelined requests in order (RFC 9112 §9.3; most
	// HTTP/1.1 servers do), a slow answer holds up those behind it on its connection (when
	// one times out, those behind it on the connection answer 504 with it), and a
	// connection that breaks or that the upstream closes fails every request waiting on it
	// (each answers 502 and is refunded). 0 (the default) = one request per connection at a
	// time.
	Pipeline int
	// PipelineDelay is how long a pipelined connection that finds no more requests queued
	// waits for some before it writes: the requests that arrive meanwhile go out in the
	// same system call (and the upstream answers them in one). 0 writes at once, as
	// pipeline_delay: 0s does: taken as it is, since zero is a valid setting (config's
	// default, config.DefaultPipelineDelay, is what a configured upstream holds). Unused
	// without Pipeline.
	PipelineDelay time.Duration
	// MaxResponseBytes bounds the upstream's answer body; 0: config.DefaultMaxResponseBytes.
	// A larger answer is treated as garbage: 502 and a refund.
	MaxResponseBytes int
}

// Options configure a Gateway. The settings among them hold what config produced (main maps
// a config.Config to them); one left zero takes config's default (config.Default…), so a
// zero Options runs as the default configuration. The rules of the settings are
// config.Validate's: New gives values config refuses no meaning of their own, and fails only
// for what it cannot build — an upstream URL it cannot forward to as it is, a route naming
// no upstream, a route policy.CompileRoutes cannot compile.
type Options struct {
	// Store is the store the gateway admits and refunds in. Required.
	Store Store
	// Routes are the configured proxied routes. Every route's Upstream must be a key of
	// Upstreams.
	Routes []policy.RouteSpec
	// Calls are the call blocks of Routes, by index (balance.CallSpecOf of each route's
	// call block): a route with one is a call route (API.md §8). Nil or shorter: plain routes.
	Calls []*balance.CallSpec
	// Upstreams by name.
	Upstreams map[string]Upstream
	// MaxBodyBytes bounds a request body; 0: config.DefaultMaxBodyBytes (NewServer). Larger:
	// 413 PAYLOAD_TOO_LARGE. It applies to the server made by Server/Serve/ListenAndServe.
	MaxBodyBytes int
	// AuthLimiter is the public listener's auth-failure limit, shared with the management
	// API (main hands it the same one); its clock should be Now. Nil: New makes one from
	// AuthFailuresPerMinute, AuthLimiterEntries, TrustedProxies and Now, which are
	// otherwise unused.
	AuthLimiter *AuthLimiter
	// AuthFailuresPerMinute is how many authentication failures a client address may have
	// per minute before it gets 429 TOO_MANY_AUTH_FAILURES; 0: config's default
	// (NewAuthLimiter).
	AuthFailuresPerMinute int
	// AuthLimiterEntries bounds the client addresses tracked; 0: NewAuthLimiter's default.
	AuthLimiterEntries int
	// TrustedProxies are load balancers in front of the public listener: a request whose peer
	// is one of them counts, for the auth-failure limit, against the nearest address in its
	// X-Forwarded-For that is not a trusted proxy. Anyone else's X-Forwarded-For is ignored.
	// The upstream's X-Forwarded-For is the trusted proxy's with the proxy appended, or the
	// peer alone (see appendForwardedFor). Like AuthFailuresPerMinute, used only to make the
	// AuthLimiter: with one given, its trusted proxies are the gateway's, for both.
	TrustedProxies []netip.Prefix
	// CacheBytes is the byte budget of the account cache; 0: config.DefaultCacheBytes.
	CacheBytes int64
	// NegativeCacheTTL is how long an unknown auth_id is remembered as unknown; 0:
	// config.DefaultNegativeCacheTTL.
	NegativeCacheTTL time.Duration
	// RefreshAfter: a token that does not match a cached account that was read longer ago
	// than this makes the gateway re-read the account once (a rotation made through another
	// instance); default 1s, so that a new token works everywhere within a second even when
	// pub/sub invalidation is down. Bad tokens therefore cost at most one store read per
	// account per RefreshAfter.
	RefreshAfter time.Duration
	// RefundTimeout bounds a refund call; default 5s. Refunds run even while shutting down.
	RefundTimeout time.Duration
	// Fallback serves every request that matches no route (main wires the management API
	// here). Nil: 404 ROUTE_NOT_FOUND.
	Fallback fasthttp.RequestHandler
	// Logger receives errors that are not the client's fault (WARN/ERROR) and one DEBUG
	// line per refusal; nil discards them. Never a token.
	Logger *slog.Logger
	// Metrics the gateway counts into (made by NewMetrics on the operator listener's
	// registry); nil: counted but not exported (Stats still reads them).
	Metrics *Metrics
	// Now is the clock (tests); nil: time.Now. The store's clock decides rate limits.
	Now func() time.Time
	// ReadTimeout, WriteTimeout and IdleTimeout of the server made by Server; 0: NewServer's
	// defaults.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// maxCompensations bounds the compensating refunds (see compensate) running at once.
const maxCompensations = 4096

// Gateway is the enforcing proxy. Create it with New.
type Gateway struct {
	store    Store
	routes   *policy.Routes
	ups      []*upstream         // by route index
	calls    []*balance.CallSpec // by route index; nil for a plain route
	upByName map[string]*upstream
	cache    *factsCache
	limiter  *AuthLimiter
	auth     *authLimiter // limiter's buckets; nil = no limit
	fallback fasthttp.RequestHandler
	log      *slog.Logger
	now      func() time.Time
	metrics  *metrics
	opts     Options

	pool      sync.Pool
	inflight  atomic.Int64
	bg        sync.WaitGroup // compensating refunds still running (see compensate)
	compSlots chan struct{}  // bounds the compensating refunds running at once
	srvOnce   sync.Once
	srv       *fasthttp.Server
}

type upstream struct {
	name    string
	scheme  string
	host    string
	hc      *fasthttp.HostClient // one request per connection at a time; nil when pipelined
	pc      *pipeClient          // pipelined (Upstream.Pipeline > 0); nil otherwise
	timeout time.Duration
	m       upstreamMetrics
}

// New builds a Gateway: it compiles the routes, creates one pooled client per upstream
// and the account cache. Errors name the setting at fault.
func New(o Options) (*Gateway, error) {
	if o.Store == nil {
		return nil, errors.New("gateway: Options.Store is required")
	}
	o.CacheBytes = config.Or(o.CacheBytes, config.DefaultCacheBytes)
	o.NegativeCacheTTL = config.Or(o.NegativeCacheTTL, config.DefaultNegativeCacheTTL)
	o.RefreshAfter = config.Or(o.RefreshAfter, time.Second)
	o.RefundTimeout = config.Or(o.RefundTimeout, 5*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	routes, err := policy.CompileRoutes(o.Routes)
	if err != nil {
		return nil, err
	}
	calls := make([]*balance.CallSpec, routes.Len())
	copy(calls, o.Calls)
	g := &Gateway{store: o.Store, routes: routes, calls: calls, fallback: o.Fallback, log: o.Logger, now: o.Now,
		compSlots: make(chan struct{}, maxCompensations),
		opts:      o, upByName: map[string]*upstream{}}
	if o.Metrics == nil {
		if o.Metrics, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	g.metrics = newMetrics(o.Metrics, routes)
	names := make([]string, 0, len(o.Upstreams))
	for name := range o.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u, err := newUpstream(name, o.Upstreams[name])
		if err != nil {
			return nil, err
		}
		u.m = g.metrics.upstream(name)
		g.upByName[name] = u
	}
	g.ups = make([]*upstream, routes.Len())
	for i := range routes.Len() {
		r := routes.Route(i)
		u := g.upByName[r.Upstream]
		if u == nil {
			return nil, fmt.Errorf("routes[%d].upstream: unknown upstream %q", i, r.Upstream)
		}
		g.ups[i] = u
	}
	g.cache, err = newFactsCache(o.CacheBytes, o.NegativeCacheTTL, o.Store.Account, o.Now)
	if err != nil {
		return nil, fmt.Errorf("limits.cache_bytes: %w", err)
	}
	g.cache.hits, g.cache.misses = g.metrics.hits, g.metrics.misses
	if o.AuthLimiter == nil {
		o.AuthLimiter = NewAuthLimiter(AuthLimitOptions{PerMinute: o.AuthFailuresPerMinute, Entries: o.AuthLimiterEntries,
			TrustedProxies: o.TrustedProxies, Now: o.Now})
	}
	g.limiter, g.auth = o.AuthLimiter, o.AuthLimiter.l
	g.pool.New = func() any { return newReqState() }
	return g, nil
}

func newUpstream(name string, u Upstream) (*upstream, error) {
	field := "upstreams." + name
	p, err := url.Parse(u.URL)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, fmt.Errorf("%s.url: %q is not an http(s)://host:port URL", field, u.URL)
	}
	if (p.Path != "" && p.Path != "/") || p.RawQuery != "" || p.User != nil {
		return nil, fmt.Errorf("%s.url: %q must not have a path, query or user", field, u.URL)
	}
	u.Timeout = config.Or(u.Timeout, config.DefaultUpstreamTimeout)
	u.ConnectTimeout = config.Or(u.ConnectTimeout, config.DefaultConnectTimeout)
	u.MaxConns = config.Or(u.MaxConns, config.DefaultMaxConns)
	u.MaxResponseBytes = config.Or(u.MaxResponseBytes, config.DefaultMaxResponseBytes)
	isTLS := p.Scheme == "https"
	addr := p.Host
	if p.Port() == "" {
		if isTLS {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	d := &net.Dialer{Timeout: u.ConnectTimeout}
	dial := func(a string) (net.Conn, error) { return d.Dial("tcp", a) }
	up := &upstream{name: name, scheme: p.Scheme, host: p.Host, timeout: u.Timeout}
	if u.Pipeline > 0 {
		var tc *tls.Config
		if isTLS {
			tc = &tls.Config{ServerName: p.Hostname(), ClientSessionCache: tls.NewLRUClientSessionCache(0)}
		}
		up.pc = newPipeClient(addr, tc, dial, u)
		return up, nil
	}
	up.hc = &fasthttp.HostClient{
		Addr:                      addr,
		Name:                      userAgent,
		IsTLS:                     isTLS,
		Dial:                      dial,
		MaxConns:                  u.MaxConns,
		ReadTimeout:               u.Timeout,
		WriteTimeout:              u.Timeout,
		MaxResponseBodySize:       u.MaxResponseBytes,
		MaxIdleConnDuration:       30 * time.Second,
		MaxConnWaitTimeout:        u.ConnectTimeout,
		MaxIdemponentCallAttempts: 1, // a charged request is sent once; its refund depends on it
		DisablePathNormalizing:    true,
		NoDefaultUserAgentHeader:  true,
	}
	return up, nil
}

// do sends req to the upstream and reads its answer into resp, within the upstream's timeout.
func (u *upstream) do(req *fasthttp.Request, resp *fasthttp.Response) error {
	if u.pc != nil {
		return u.pc.do(req, resp)
	}
	return u.hc.DoTimeout(req, resp, u.timeout)
}

// Handler returns the request handler, for a server the caller runs.
func (g *Gateway) Handler() fasthttp.RequestHandler { return g.ServeFastHTTP }

// Routes returns the compiled route table.
func (g *Gateway) Routes() *policy.Routes { return g.routes }

// Server returns the gateway's fasthttp server (made once by NewServer): the handler, the
// body limit and its timeouts, and error answers in the API's error body.
func (g *Gateway) Server() *fasthttp.Server {
	g.srvOnce.Do(func() {
		g.srv = NewServer(ServerOptions{Name: "tenant-gateway", Handler: g.ServeFastHTTP, ErrorHandler: g.serverError,
			MaxBodyBytes: g.opts.MaxBodyBytes, ReadTimeout: g.opts.ReadTimeout, WriteTimeout: g.opts.WriteTimeout,
			IdleTimeout: g.opts.IdleTimeout, Logger: g.log})
	})
	return g.srv
}

// Serve serves the public listener on ln until Shutdown.
func (g *Gateway) Serve(ln net.Listener) error { return g.Server().Serve(ln) }

// ListenAndServe listens on addr and serves until Shutdown.
func (g *Gateway) ListenAndServe(addr string) error { return g.Server().ListenAndServe(addr) }

// Shutdown stops accepting connections and waits until every in-flight request has
// finished (charges and refunds included) or ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	// g.Server(), not g.srv: the Once orders this with a Serve running in another goroutine.
	err := g.Server().ShutdownWithContext(ctx)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for g.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return err
}

// Close releases the cache and idle upstream connections. Call it after Shutdown.
func (g *Gateway) Close() error {
	g.bg.Wait()
	g.cache.close()
	for _, u := range g.upByName {
		if u.hc != nil {
			u.hc.CloseIdleConnections()
		} else {
			u.pc.close()
		}
	}
	return nil
}

// Invalidate drops what this instance caches about an account. The management API calls it
// (through main) after a token rotation, a close or a delete of id.
func (g *Gateway) Invalidate(id string) { g.cache.invalidate(id) }

// Ready reports whether the store answers (for /readyz).
func (g *Gateway) Ready(ctx context.Context) error { return g.store.Ping(ctx) }
