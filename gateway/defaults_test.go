package gateway

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tenantgw/gateway/config"
)

// TestDefaultsAreConfigs: the gateway has no defaults of its own. An option left zero takes
// config's default, so a gateway built from a zero Options runs as one built from
// config.Default() does: body limit, cache budget, negative-cache TTL, auth-failure limit,
// and every upstream setting, pipelined or not.
func TestDefaultsAreConfigs(t *testing.T) {
	def, du := config.Default(), config.DefaultUpstream()
	g, err := New(Options{Store: &countingStore{}, Upstreams: map[string]Upstream{
		"plain": {URL: "http://127.0.0.1:1"},
		"piped": {URL: "http://127.0.0.1:2", Pipeline: config.DefaultSandboxPipeline, PipelineDelay: du.PipelineDelay.Std()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if got := g.Server().MaxRequestBodySize; got != def.Limits.MaxBodyBytes {
		t.Errorf("body limit %d, config's %d", got, def.Limits.MaxBodyBytes)
	}
	if got := g.cache.c.MaxCost(); got != int64(def.Limits.CacheBytes) {
		t.Errorf("cache budget %d, config's %d", got, def.Limits.CacheBytes)
	}
	if got := g.cache.negTTL; got != def.Limits.NegativeCacheTTL.Std() {
		t.Errorf("negative-cache TTL %v, config's %v", got, def.Limits.NegativeCacheTTL)
	}
	if g.auth == nil || g.auth.burst != def.Limits.AuthFailuresPerMinute {
		t.Errorf("auth-failure limit %+v, config's %d a minute", g.auth, def.Limits.AuthFailuresPerMinute)
	}
	u := g.upByName["plain"]
	if u.timeout != du.Timeout.Std() || u.hc.ReadTimeout != du.Timeout.Std() || u.hc.MaxConns != du.MaxConns ||
		u.hc.MaxResponseBodySize != du.MaxResponseBytes || u.hc.MaxConnWaitTimeout != du.ConnectTimeout.Std() {
		t.Errorf("upstream: timeout %v, max conns %d, max response %d, conn wait %v; config's %+v",
			u.timeout, u.hc.MaxConns, u.hc.MaxResponseBodySize, u.hc.MaxConnWaitTimeout, du)
	}
	p := g.upByName["piped"].pc
	if want := (du.MaxConns + config.DefaultSandboxPipeline - 1) / config.DefaultSandboxPipeline; p.maxPending != want || p.delay != du.PipelineDelay.Std() ||
		p.timeout != du.Timeout.Std() || p.maxBody != du.MaxResponseBytes {
		t.Errorf("pipelined upstream: pending %d, delay %v, timeout %v, max response %d; config's %+v", p.maxPending, p.delay, p.timeout, p.maxBody, du)
	}
}

// TestNegativeOptionsAreDefaults: config refuses a negative auth-failure limit or
// negative-cache TTL, and the gateway gives them no meaning of its own ("no limit", "no
// negative cache", as it used to): like zero, they take config's default.
func TestNegativeOptionsAreDefaults(t *testing.T) {
	if l := NewAuthLimiter(AuthLimitOptions{PerMinute: -1}); l.l == nil || l.l.burst != config.DefaultAuthFailuresPerMinute {
		t.Errorf("PerMinute -1: limiter %+v, want config's default limit", l.l)
	}
	g, err := New(Options{Store: &countingStore{}, NegativeCacheTTL: -time.Second, AuthFailuresPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.cache.negTTL != config.DefaultNegativeCacheTTL {
		t.Errorf("NegativeCacheTTL -1s: %v, want config's default", g.cache.negTTL)
	}
	if g.auth == nil || g.auth.burst != config.DefaultAuthFailuresPerMinute {
		t.Errorf("AuthFailuresPerMinute -1: %+v, want config's default limit", g.auth)
	}
}

// TestTrustedProxiesFromTheLimiter: limits.trusted_proxies reaches the gateway once, in the
// AuthLimiter main shares between the public listener's endpoints, and the X-Forwarded-For
// the upstream receives honours it as the limit does. (It used to read
// Options.TrustedProxies, which main never sets, so a trusted proxy's list was dropped.)
func TestTrustedProxiesFromTheLimiter(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.AuthLimiter = NewAuthLimiter(AuthLimitOptions{PerMinute: unreachedAuthLimit,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	})
	m := f.mk(nil, "1.00")
	if a := f.do(call{path: callPath(m), as: m, header: map[string]string{"X-Forwarded-For": "198.51.100.7"}}); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	got := f.voice.requests()
	if xff := strings.Join(got[len(got)-1].header["x-forwarded-for"], "|"); xff != "198.51.100.7, 127.0.0.1" {
		t.Errorf("upstream received X-Forwarded-For %q, want the trusted proxy's list and the proxy", xff)
	}
}
