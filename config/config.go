// Package config is the gateway's typed configuration (API.md §7): the
// documented defaults, the YAML file, the GATEWAY_* environment overrides
// and a validation that names the setting at fault.
//
// Contract:
//
//   - Load builds a Config in this order: defaults, then the YAML file (if
//     any), then the environment, then what is implied when something is left
//     out (sandbox upstreams, the default routes, derived route names), then
//     Validate. A Config returned by Load without error is valid.
//   - Every setting has a default. The comment on each field gives its YAML
//     key, its unit and its default; Default returns them all, and the
//     Default… constants hold each one.
//   - config is the one place that defaults and validates settings. The
//     constructors of the other packages take the values a valid Config holds
//     and use the Default… constants for an option left zero, through Or (so a
//     zero Options in a test behaves as the default configuration). They default
//     with no values of their own and check again only what they cannot build
//     without (an upstream URL's scheme and host, a route's {auth_id}), so
//     Validate refuses everything they would.
//   - Errors name the setting by its path, such as "routes[2].price" or
//     "upstreams.voice.timeout", and say why. Each problem is an *Error;
//     several are joined with errors.Join. Errors from Load also say where
//     the value came from: "file:line" or the environment variable.
//   - Money is read with model.ParseAmount, the gateway's one money
//     grammar (package policy/model), plus the rules of a price (no sign,
//     at most 9 integer digits); it stays text in the Config.
//   - A Config is a plain value: Load and Default return values that share
//     nothing with each other. Fill in what start-up needs (the sandbox URLs),
//     then treat it as read-only; any number of goroutines may read it.
//   - The package reads nothing by itself: no environment, and no file but
//     the one passed to Load. Of the gateway's packages it imports only
//     policy/model, the leaf package of domain values.
package config

import "log/slog"

// Config is the whole configuration of one gateway process.
type Config struct {
	// Listen is the public listener's address, host:port (API.md §2).
	// YAML "listen"; default ":8080".
	Listen string `yaml:"listen"`
	// OperatorListen is the operator listener's address, host:port.
	// YAML "operator_listen"; default "127.0.0.1:8081".
	OperatorListen string `yaml:"operator_listen"`
	// OperatorTokenFile is a file holding the operator token, read when the
	// environment variable GATEWAY_OPERATOR_TOKEN is unset.
	// YAML "operator_token_file"; default "" (none: a token is generated).
	OperatorTokenFile string `yaml:"operator_token_file"`

	Store     Store               `yaml:"store"`     // where accounts and money live; YAML "store"
	Defaults  Defaults            `yaml:"defaults"`  // defaults of new accounts; YAML "defaults"
	Limits    Limits              `yaml:"limits"`    // protective limits; YAML "limits"
	Upstreams map[string]Upstream `yaml:"upstreams"` // backends by name; YAML "upstreams"; default: the sandbox
	Routes    []Route             `yaml:"routes"`    // proxied routes; YAML "routes"; default: DefaultRoutes
	Log       Log                 `yaml:"log"`       // logging; YAML "log"

	// SandboxPipeline is the pipeline setting (see Upstream.Pipeline) of the
	// built-in sandbox upstreams, used only when no upstreams are configured:
	// 0 makes them plain keep-alive backends, as most real backends are, for
	// measuring against one (README, "Measuring"). YAML "sandbox_pipeline";
	// default 2; at most 512 (the sandbox upstreams' max_conns).
	SandboxPipeline int `yaml:"sandbox_pipeline"`

	// Sandbox is not a setting: Load sets it when no upstreams are
	// configured. Upstreams then holds "voice" and "sms" with empty URLs,
	// which main fills in after it starts the built-in sandbox backends.
	Sandbox bool `yaml:"-"`
}

// Store selects the store. At most one of Redis, Cluster and Sentinel.Master
// is set; with none, the gateway runs the embedded store under DataDir.
type Store struct {
	// Redis is the URL of a standalone Redis server, "redis://host:port/db",
	// "rediss://…" for TLS, or "unix:///path/to/redis.sock?db=N" for a server on the same
	// host (a Unix socket costs both sides less per round trip than TCP on loopback).
	// YAML "redis"; default "".
	Redis string `yaml:"redis"`
	// Cluster lists host:port seed nodes of a Redis Cluster.
	// YAML "cluster"; default none.
	Cluster []string `yaml:"cluster"`
	// Sentinel names a Redis master watched by Sentinels. YAML "sentinel".
	Sentinel Sentinel `yaml:"sentinel"`
	// DataDir is the directory where the embedded store persists; unused
	// with Redis. YAML "data_dir"; default "./data".
	DataDir string `yaml:"data_dir"`
	// DialTimeout bounds connecting to Redis. YAML "dial_timeout"; default 2s.
	DialTimeout Duration `yaml:"dial_timeout"`
	// ReadTimeout bounds reading one Redis reply. YAML "read_timeout"; default 1s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing one Redis command. YAML "write_timeout"; default 1s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// PoolSize is the number of connections per Redis node.
	// YAML "pool_size"; default 0, the client library's default.
	PoolSize int `yaml:"pool_size"`
}

// Embedded reports whether the store is the embedded one (no Redis configured).
func (s Store) Embedded() bool {
	return s.Redis == "" && len(s.Cluster) == 0 && s.Sentinel.Master == ""
}

// Sentinel names a Redis master and the Sentinels that watch it.
type Sentinel struct {
	// Master is the master's name. YAML "master"; default "" (no Sentinel).
	Master string `yaml:"master"`
	// Addrs lists the Sentinels, host:port. YAML "addrs"; default none.
	Addrs []string `yaml:"addrs"`
}

// Defaults are the values a new account gets unless its creator says otherwise.
type Defaults struct {
	// RateLimit is an account's rate limit in requests per second (burst of
	// one second's worth), 1 to 1,000,000. YAML "rate_limit"; default 1000.
	RateLimit int `yaml:"rate_limit"`
	// MaxSubaccounts is how many direct children an account may have, at
	// least 1. YAML "max_subaccounts"; default 1000.
	MaxSubaccounts int `yaml:"max_subaccounts"`
	// MaxDepth bounds the account tree, 1 to 10. YAML "max_depth"; default 3
	// (main → reseller → customer).
	MaxDepth int `yaml:"max_depth"`
	// TokenGrace is how long a rotated-out auth_token keeps working when the
	// rotation does not say; 0 revokes it at once. YAML "token_grace"; default 24h.
	TokenGrace Duration `yaml:"token_grace"`
	// ClosedRetention is how long a closed account stays readable.
	// YAML "closed_retention"; default 720h (30 days).
	ClosedRetention Duration `yaml:"closed_retention"`
}

// Limits protect the gateway from large or abusive clients.
type Limits struct {
	// MaxBodyBytes is the largest request body accepted on the public
	// listener, in bytes. YAML "max_body_bytes"; default 1048576 (1 MiB).
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// AuthFailuresPerMinute is how many failed authentications one client
	// address may make per minute before it gets 429.
	// YAML "auth_failures_per_minute"; default 30.
	AuthFailuresPerMinute int `yaml:"auth_failures_per_minute"`
	// CacheBytes is the byte budget of the account cache.
	// YAML "cache_bytes"; default 67108864 (64 MiB).
	CacheBytes int `yaml:"cache_bytes"`
	// NegativeCacheTTL is how long an unknown auth_id is remembered as
	// unknown. YAML "negative_cache_ttl"; default 5s.
	NegativeCacheTTL Duration `yaml:"negative_cache_ttl"`
	// TrustedProxies are the addresses ("10.0.0.5") or networks
	// ("10.0.0.0/8") of load balancers in front of the public listener. A
	// request from one of them is attributed, for the authentication-failure
	// limit, to the nearest untrusted address in its X-Forwarded-For header;
	// from anyone else X-Forwarded-For is ignored (it could be forged). The
	// upstream receives the X-Forwarded-For of a trusted proxy's request with
	// the proxy's address appended, and anyone else's address alone.
	// YAML "trusted_proxies"; default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// RefundMarkerTTL is how long the store keeps the refund marker of an
	// admitted request: what lets a refund, a settlement or the check of an
	// admit whose answer was lost happen exactly once. Those come within
	// seconds of the admit; the rest of the time is for reconciling by hand a
	// request id the gateway logged as unchecked. Each marker takes about
	// 60 bytes of Redis memory, so the store holds about
	// 60 B × requests per second × this: at 1,000 requests a second and the
	// default, about 220 MB. YAML "refund_marker_ttl"; default 1h; at least
	// the longest upstream timeout plus one minute.
	RefundMarkerTTL Duration `yaml:"refund_marker_ttl"`
	// UsageRetention is how long the store keeps daily usage counters: days
	// before it are summed into monthly totals ("YYYY-MM") that the Usage API
	// still reports, so an account's usage takes at most this many days plus
	// one field set a month per route. YAML "usage_retention"; default 2160h
	// (90 days); at least 744h (31 days).
	UsageRetention Duration `yaml:"usage_retention"`
	// HoldRetention is how long a finished call hold (API.md §8) stays readable, and its
	// Settle replayable or, after an expiry, able to correct the charge once.
	// YAML "hold_retention"; default 24h.
	HoldRetention Duration `yaml:"hold_retention"`
}

// Upstream is one backend that routes forward to. Fields the file leaves
// out take the defaults of DefaultUpstream.
type Upstream struct {
	// URL is the backend's base URL, http:// or https:// with a host (and a
	// port), nothing more: no path, user, query or fragment, since the
	// gateway forwards each request's own path to that host.
	// YAML "url"; required, except in the sandbox where main fills it in.
	URL string `yaml:"url"`
	// Timeout bounds the whole exchange, until the last byte of the
	// response. YAML "timeout"; default 10s.
	Timeout Duration `yaml:"timeout"`
	// ConnectTimeout bounds opening a connection. YAML "connect_timeout"; default 2s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// MaxConns is the most connections open to this backend at once.
	// YAML "max_conns"; default 512.
	MaxConns int `yaml:"max_conns"`
	// MaxResponseBytes is the largest response body accepted from the
	// backend, in bytes. YAML "max_response_bytes"; default 10485760 (10 MiB).
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// Pipeline > 0 sends requests to this backend HTTP/1.1-pipelined over at
	// most this many connections, and max_conns then bounds the requests in
	// flight to it. Much cheaper under load, but only for a backend that
	// answers pipelined requests in order and quickly: a slow answer holds up
	// those behind it (a timeout fails them with it, 504), and a broken
	// connection fails (and refunds) every request waiting on it (README,
	// "Behaviour where the contract is silent"). YAML "pipeline"; default 0 =
	// off, except for the sandbox upstreams (2), which qualify.
	Pipeline int `yaml:"pipeline"`
	// PipelineDelay is how long a pipelined connection waits, after a request
	// finds it idle, for more requests to write with it in one system call.
	// Under load that turns a write per request into one per handful of
	// requests, for at most this much added latency; 0 writes each request
	// at once. Only used with pipeline > 0. YAML "pipeline_delay"; default
	// 50µs; at most 1ms.
	PipelineDelay Duration `yaml:"pipeline_delay"`
	// Token is the backend's own token for the operator listener: with it the backend may
	// use the hold endpoints for holds of its own routes (API.md §6, §8) and nothing else.
	// The environment variable GATEWAY_UPSTREAMS_<NAME>_TOKEN (UpstreamTokenEnv) wins over
	// token_file, which wins over token. YAML "token"; default "" (none).
	Token string `yaml:"token"`
	// TokenFile is a file holding Token. YAML "token_file"; default "" (none).
	TokenFile string `yaml:"token_file"`
}

// Route is one proxied telephony route (API.md §5).
type Route struct {
	// Name identifies the route in metrics and usage; it must not contain '|'
	// or a line break. YAML "name"; optional, default Method + " " + Path,
	// e.g. "POST /v1/Account/{auth_id}/Call/".
	Name string `yaml:"name"`
	// Method is the HTTP method, letters only, upper-cased by Load.
	// YAML "method"; required.
	Method string `yaml:"method"`
	// Path is the path template: it starts with "/" and holds {auth_id} as
	// one whole segment, e.g. "/v1/Account/{auth_id}/Call/". YAML "path"; required.
	Path string `yaml:"path"`
	// Upstream names the entry of Config.Upstreams to forward to.
	// YAML "upstream"; required.
	Upstream string `yaml:"upstream"`
	// Permission is the account flag the route needs: "calls", "sms" or
	// "cdr". YAML "permission"; required.
	Permission string `yaml:"permission"`
	// KYC gates the route on the chain's KYC block. YAML "kyc"; default false.
	KYC bool `yaml:"kyc"`
	// Price is debited per request, in the root account's currency, e.g.
	// "0.0100". YAML "price"; required ("0" for a free route).
	Price Money `yaml:"price"`
	// CallerID names the field of the request body (JSON or form) that carries the number
	// the call or message comes from, e.g. "from"; the path account must own that number
	// (API.md §5, §9). Letters, digits, '_', '-' and '.', at most 64. YAML "caller_id";
	// default "" (no caller-ID check).
	CallerID string `yaml:"caller_id"`
	// Call makes the route a call route (API.md §8): its admit also opens a hold for the
	// call. YAML "call"; default none. Settings the block leaves out take DefaultCall's.
	Call *Call `yaml:"call"`
}

// Call is the call block of a call route (API.md §7, §8): what a call costs by its
// duration and how its hold lives. Every duration is whole seconds.
type Call struct {
	// Rate is the price of a minute, e.g. "0.0120". YAML "rate"; required.
	Rate Money `yaml:"rate"`
	// Increment is the billing increment "first/next": the first billed block and each
	// later block, in seconds from 1 to 3600 ("1/1", "6/6", "30/6", "60/1", "60/60").
	// YAML "increment"; default "60/60".
	Increment string `yaml:"increment"`
	// ConnectFee is charged once for an answered call. YAML "connect_fee"; default "0".
	ConnectFee Money `yaml:"connect_fee"`
	// Grant is how many seconds one grant reserves (at open and per Extend).
	// YAML "grant"; default 10m; at least min_duration.
	Grant Duration `yaml:"grant"`
	// MinDuration: a call is refused (402) when less than this is affordable.
	// YAML "min_duration"; default 1m; at least 1s, at most grant and max_duration.
	MinDuration Duration `yaml:"min_duration"`
	// MaxDuration is the longest a call may be granted in all. YAML "max_duration";
	// default 4h; at most 24h, and its cost at rate must stay within 2^53−1 micro-units.
	MaxDuration Duration `yaml:"max_duration"`
	// RingTimeout is how long a call may ring before it is answered; part of its hold's
	// lifetime. YAML "ring_timeout"; default 60s.
	RingTimeout Duration `yaml:"ring_timeout"`
	// ExpiryGrace is added to a hold's lifetime after its granted seconds.
	// YAML "expiry_grace"; default 60s.
	ExpiryGrace Duration `yaml:"expiry_grace"`
	// OnExpiry is what an unsettled hold costs at the end of its lifetime: "commit" (the
	// cost of its granted seconds) or "release" (nothing). YAML "on_expiry"; default "commit".
	OnExpiry string `yaml:"on_expiry"`
}

// Log configures the process log.
type Log struct {
	// Format is "text" or "json". YAML "format"; default "text".
	Format string `yaml:"format"`
	// Level is "debug", "info", "warn" or "error". YAML "level"; default "info".
	Level string `yaml:"level"`
}

// SlogLevel returns Level as a log/slog level; a level Validate would
// reject reads as info.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
