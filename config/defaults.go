package config

import (
	"fmt"
	"strings"
	"time"
)

// Names of the upstreams the sandbox provides and the default routes use.
const (
	SandboxVoice = "voice"
	SandboxSMS   = "sms"
)

// Default returns the configuration of a gateway started with no file and
// no environment: every documented default, the sandbox upstreams (URLs
// empty, Sandbox true) and the default routes.
func Default() Config {
	c := base()
	if err := c.complete(); err != nil {
		panic("config: the defaults are incomplete: " + err.Error()) // unreachable: tested
	}
	return c
}

// The defaults of the settings (API.md §7), each written here only: base and
// DefaultUpstream are made of them, and the constructors of the other packages
// (gateway.New, admin.New, balance.Open, …) use them for an option left zero, so
// that a zero Options in a test behaves as the default configuration does.
const (
	DefaultListen         = ":8080"
	DefaultOperatorListen = "127.0.0.1:8081"

	DefaultDataDir      = "./data"
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second

	DefaultRateLimit       = 1000
	DefaultMaxSubaccounts  = 1000
	DefaultMaxDepth        = 3
	DefaultTokenGrace      = 24 * time.Hour
	DefaultClosedRetention = 720 * time.Hour

	DefaultMaxBodyBytes          = 1 << 20
	DefaultAuthFailuresPerMinute = 30
	DefaultCacheBytes            = 64 << 20
	DefaultNegativeCacheTTL      = 5 * time.Second
	DefaultRefundMarkerTTL       = time.Hour
	DefaultUsageRetention        = 2160 * time.Hour
	MinUsageRetention            = 31 * 24 * time.Hour
	DefaultHoldRetention         = 24 * time.Hour

	DefaultCallIncrement   = "60/60"
	DefaultCallConnectFee  = "0"
	DefaultCallGrant       = 10 * time.Minute
	DefaultCallMinDuration = time.Minute
	DefaultCallMaxDuration = 4 * time.Hour
	MaxCallDuration        = 24 * time.Hour
	DefaultCallRingTimeout = 60 * time.Second
	DefaultCallExpiryGrace = 60 * time.Second
	DefaultCallOnExpiry    = "commit"

	DefaultUpstreamTimeout  = 10 * time.Second
	DefaultConnectTimeout   = 2 * time.Second
	DefaultMaxConns         = 512
	DefaultMaxResponseBytes = 10 << 20

	DefaultLogFormat = "text"
	DefaultLogLevel  = "info"
)

// Or returns v when it is positive and def otherwise: how a constructor gives an option
// left zero (or negative, which no valid Config holds) its Default… value.
func Or[T ~int | ~int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// base returns the defaults of every setting, with no upstreams and no routes.
func base() Config {
	return Config{
		Listen:          DefaultListen,
		OperatorListen:  DefaultOperatorListen,
		SandboxPipeline: DefaultSandboxPipeline,
		Store: Store{
			DataDir:      DefaultDataDir,
			DialTimeout:  Duration(DefaultDialTimeout),
			ReadTimeout:  Duration(DefaultReadTimeout),
			WriteTimeout: Duration(DefaultWriteTimeout),
		},
		Defaults: Defaults{
			RateLimit:       DefaultRateLimit,
			MaxSubaccounts:  DefaultMaxSubaccounts,
			MaxDepth:        DefaultMaxDepth,
			TokenGrace:      Duration(DefaultTokenGrace),
			ClosedRetention: Duration(DefaultClosedRetention),
		},
		Limits: Limits{
			MaxBodyBytes:          DefaultMaxBodyBytes,
			AuthFailuresPerMinute: DefaultAuthFailuresPerMinute,
			CacheBytes:            DefaultCacheBytes,
			NegativeCacheTTL:      Duration(DefaultNegativeCacheTTL),
			RefundMarkerTTL:       Duration(DefaultRefundMarkerTTL),
			UsageRetention:        Duration(DefaultUsageRetention),
			HoldRetention:         Duration(DefaultHoldRetention),
		},
		Log: Log{Format: DefaultLogFormat, Level: DefaultLogLevel},
	}
}

// DefaultUpstream returns an upstream with every default and no URL.
func DefaultUpstream() Upstream {
	return Upstream{
		Timeout:          Duration(DefaultUpstreamTimeout),
		ConnectTimeout:   Duration(DefaultConnectTimeout),
		MaxConns:         DefaultMaxConns,
		PipelineDelay:    Duration(DefaultPipelineDelay),
		MaxResponseBytes: DefaultMaxResponseBytes,
	}
}

// DefaultCall returns a call block with every default and no rate.
func DefaultCall() Call {
	return Call{
		Increment:   DefaultCallIncrement,
		ConnectFee:  DefaultCallConnectFee,
		Grant:       Duration(DefaultCallGrant),
		MinDuration: Duration(DefaultCallMinDuration),
		MaxDuration: Duration(DefaultCallMaxDuration),
		RingTimeout: Duration(DefaultCallRingTimeout),
		ExpiryGrace: Duration(DefaultCallExpiryGrace),
		OnExpiry:    DefaultCallOnExpiry,
	}
}

// DefaultPipelineDelay is the default pipeline_delay, and MaxPipelineDelay
// the largest accepted: a delay is worth it only while it is small next to
// the time a request spends in the backend.
const (
	DefaultPipelineDelay = 50 * time.Microsecond
	MaxPipelineDelay     = time.Millisecond
)

// DefaultSandboxPipeline is the default sandbox_pipeline: the sandbox
// upstreams answer in order and at once, so pipelining them costs nothing.
const DefaultSandboxPipeline = 2

// DefaultRoutes returns the routes used when none are configured (API.md §7).
func DefaultRoutes() []Route {
	return []Route{
		{Name: "call.create", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: SandboxVoice, Permission: "calls", KYC: true, Price: "0.0100"},
		{Name: "call.list", Method: "GET", Path: "/v1/Account/{auth_id}/Call/", Upstream: SandboxVoice, Permission: "cdr", Price: "0"},
		{Name: "message.create", Method: "POST", Path: "/v1/Account/{auth_id}/Message/", Upstream: SandboxSMS, Permission: "sms", Price: "0.0050"},
	}
}

// complete fills in what is implied by what was left out: the sandbox
// upstreams when there are none, the default routes when there are none,
// upper-case methods and derived route names.
func (c *Config) complete() error {
	if len(c.Upstreams) == 0 {
		c.Sandbox = true
		u := DefaultUpstream()
		u.Pipeline = c.SandboxPipeline
		c.Upstreams = map[string]Upstream{SandboxVoice: u, SandboxSMS: u}
	}
	if len(c.Routes) == 0 {
		for _, name := range []string{SandboxVoice, SandboxSMS} {
			if _, ok := c.Upstreams[name]; !ok {
				return &Error{Setting: "routes", Reason: fmt.Sprintf(
					"none configured, and the default routes need an upstream named %q: configure routes, or upstreams %q and %q",
					name, SandboxVoice, SandboxSMS)}
			}
		}
		c.Routes = DefaultRoutes()
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		r.Method = strings.ToUpper(r.Method)
		if r.Name == "" {
			r.Name = r.Method + " " + r.Path
		}
	}
	return nil
}
