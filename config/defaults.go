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

// base returns the defaults of every setting, with no upstreams and no routes.
func base() Config {
	return Config{
		Listen:         ":8080",
		OperatorListen: "127.0.0.1:8081",
		Store: Store{
			DataDir:      "./data",
			DialTimeout:  Duration(2 * time.Second),
			ReadTimeout:  Duration(time.Second),
			WriteTimeout: Duration(time.Second),
		},
		Defaults: Defaults{
			RateLimit:       1000,
			MaxSubaccounts:  1000,
			MaxDepth:        3,
			TokenGrace:      Duration(24 * time.Hour),
			ClosedRetention: Duration(720 * time.Hour),
		},
		Limits: Limits{
			MaxBodyBytes:          1 << 20,
			AuthFailuresPerMinute: 30,
			CacheBytes:            64 << 20,
			NegativeCacheTTL:      Duration(5 * time.Second),
			RefundMarkerTTL:       Duration(time.Hour),
		},
		Log: Log{Format: "text", Level: "info"},
	}
}

// DefaultUpstream returns an upstream with every default and no URL.
func DefaultUpstream() Upstream {
	return Upstream{
		Timeout:          Duration(10 * time.Second),
		ConnectTimeout:   Duration(2 * time.Second),
		MaxConns:         512,
		PipelineDelay:    Duration(DefaultPipelineDelay),
		MaxResponseBytes: 10 << 20,
	}
}

// DefaultPipelineDelay is the default pipeline_delay, and MaxPipelineDelay
// the largest accepted: a delay is worth it only while it is small next to
// the time a request spends in the backend.
const (
	DefaultPipelineDelay = 50 * time.Microsecond
	MaxPipelineDelay     = time.Millisecond
)

// SandboxPipeline is the pipeline setting of the sandbox upstreams: they
// answer in order and at once, so pipelining them costs nothing.
const SandboxPipeline = 2

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
		u.Pipeline = SandboxPipeline
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
