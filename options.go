package main

import (
	"fmt"

	"github.com/tenantgw/gateway/admin"
	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// What each constructor takes of a valid configuration: the settings as config produced
// them, nothing defaulted or checked again here (a zero is the setting's own, such as
// token_grace: 0s). serve adds what is not configuration (the store, the logger, the
// limiters, the callbacks).

// storeOptions are the store's settings.
func storeOptions(c config.Config) balance.Options {
	return balance.Options{
		Redis: c.Store.Redis, Cluster: c.Store.Cluster,
		SentinelMaster: c.Store.Sentinel.Master, SentinelAddrs: c.Store.Sentinel.Addrs,
		DataDir:     c.Store.DataDir,
		DialTimeout: c.Store.DialTimeout.Std(), ReadTimeout: c.Store.ReadTimeout.Std(), WriteTimeout: c.Store.WriteTimeout.Std(),
		PoolSize: c.Store.PoolSize, MarkerTTL: c.Limits.RefundMarkerTTL.Std(),
		HoldRetention: c.Limits.HoldRetention.Std(),
	}
}

// adminOptions are the management API's settings: the defaults of new accounts and the
// body limit.
func adminOptions(c config.Config) admin.Options {
	return admin.Options{
		RateLimit: c.Defaults.RateLimit, MaxSubaccounts: c.Defaults.MaxSubaccounts, MaxDepth: c.Defaults.MaxDepth,
		TokenGrace: c.Defaults.TokenGrace.Std(), ClosedRetention: c.Defaults.ClosedRetention.Std(),
		MaxBodyBytes: c.Limits.MaxBodyBytes,
	}
}

// gatewayOptions are the gateway's settings: routes, upstreams, body limit and cache. The
// auth-failure limit is authLimitOptions'.
func gatewayOptions(c config.Config) gateway.Options {
	return gateway.Options{
		Routes: routeSpecs(c.Routes), Calls: callSpecs(c.Routes), Upstreams: gatewayUpstreams(c.Upstreams),
		MaxBodyBytes: c.Limits.MaxBodyBytes,
		CacheBytes:   int64(c.Limits.CacheBytes), NegativeCacheTTL: c.Limits.NegativeCacheTTL.Std(),
	}
}

// authLimitOptions are the settings of each listener's auth-failure limit.
func authLimitOptions(c config.Config) (gateway.AuthLimitOptions, error) {
	o := gateway.AuthLimitOptions{PerMinute: c.Limits.AuthFailuresPerMinute}
	for _, p := range c.Limits.TrustedProxies {
		pfx, err := config.ParsePrefix(p) // validated by Load
		if err != nil {
			return o, fmt.Errorf("limits.trusted_proxies: %w", err)
		}
		o.TrustedProxies = append(o.TrustedProxies, pfx)
	}
	return o, nil
}

// routeSpecs are the configured routes as policy.CompileRoutes takes them.
func routeSpecs(rs []config.Route) []policy.RouteSpec {
	specs := make([]policy.RouteSpec, len(rs))
	for i, r := range rs {
		specs[i] = policy.RouteSpec{Name: r.Name, Method: r.Method, Path: r.Path, Upstream: r.Upstream,
			Permission: r.Permission, KYC: r.KYC, Price: string(r.Price), CallerID: r.CallerID}
	}
	return specs
}

// callSpecs are the call blocks of the routes, by index (nil for a plain route).
func callSpecs(rs []config.Route) []*balance.CallSpec {
	specs := make([]*balance.CallSpec, len(rs))
	for i, r := range rs {
		specs[i] = balance.CallSpecOf(r.Call, r.Upstream)
	}
	return specs
}

// gatewayUpstreams turns the configured upstreams into the gateway's.
func gatewayUpstreams(c map[string]config.Upstream) map[string]gateway.Upstream {
	ups := make(map[string]gateway.Upstream, len(c))
	for name, u := range c {
		ups[name] = gateway.Upstream{URL: u.URL, Timeout: u.Timeout.Std(), ConnectTimeout: u.ConnectTimeout.Std(),
			MaxConns: u.MaxConns, MaxResponseBytes: u.MaxResponseBytes, Pipeline: u.Pipeline,
			PipelineDelay: u.PipelineDelay.Std()}
	}
	return ups
}
