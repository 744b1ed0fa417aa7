package main

import (
	"github.com/tenantgw/gateway/policy/model"

	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tenantgw/gateway/admin"
	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// TestOptionsAreTheConfigs: every setting reaches its constructor as config produced it,
// zeros included (token_grace: 0s, pool_size: 0, pipeline_delay: 0s), and the configured
// routes compile as configured.
func TestOptionsAreTheConfigs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte(`
store: {data_dir: "`+dir+`", dial_timeout: 3s, read_timeout: 4s, write_timeout: 5s, pool_size: 0}
defaults: {rate_limit: 7, max_subaccounts: 8, max_depth: 5, token_grace: 0s, closed_retention: 1h}
limits: {max_body_bytes: 2048, auth_failures_per_minute: 9, cache_bytes: 4096, negative_cache_ttl: 1s,
         trusted_proxies: ["10.0.0.0/8", "192.0.2.1"], refund_marker_ttl: 2h}
upstreams:
  voice: {url: "http://v:9001", timeout: 3s, connect_timeout: 1s, max_conns: 64, max_response_bytes: 4096, pipeline: 2, pipeline_delay: 0s}
routes:
  - {method: post, path: "/v1/Account/{auth_id}/Call/", upstream: voice, permission: calls, kyc: true, price: "0.0100"}
  - {name: cdr, method: GET, path: "/v1/Account/{auth_id}/Call/", upstream: voice, permission: cdr, price: "0"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := storeOptions(c), (balance.Options{DataDir: dir, DialTimeout: 3 * time.Second, ReadTimeout: 4 * time.Second,
		WriteTimeout: 5 * time.Second, MarkerTTL: 2 * time.Hour, HoldRetention: config.DefaultHoldRetention}); !reflect.DeepEqual(got, want) {
		t.Errorf("store options %+v, want %+v", got, want)
	}
	if got, want := adminOptions(c), (admin.Options{RateLimit: 7, MaxSubaccounts: 8, MaxDepth: 5, ClosedRetention: time.Hour,
		MaxBodyBytes: 2048}); !reflect.DeepEqual(got, want) {
		t.Errorf("admin options %+v, want %+v (token grace 0)", got, want)
	}
	lo, err := authLimitOptions(c)
	if want := (gateway.AuthLimitOptions{PerMinute: 9, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.1/32")}}); err != nil || !reflect.DeepEqual(lo, want) {
		t.Errorf("auth limit options %+v (%v), want %+v", lo, err, want)
	}
	gwo := gatewayOptions(c)
	if gwo.MaxBodyBytes != 2048 || gwo.CacheBytes != 4096 || gwo.NegativeCacheTTL != time.Second {
		t.Errorf("gateway options: body %d, cache %d, negative TTL %v", gwo.MaxBodyBytes, gwo.CacheBytes, gwo.NegativeCacheTTL)
	}
	if want := (gateway.Upstream{URL: "http://v:9001", Timeout: 3 * time.Second, ConnectTimeout: time.Second, MaxConns: 64,
		MaxResponseBytes: 4096, Pipeline: 2}); len(gwo.Upstreams) != 1 || gwo.Upstreams["voice"] != want {
		t.Errorf("gateway upstreams %+v, want voice %+v", gwo.Upstreams, want)
	}
	rs, err := policy.CompileRoutes(gwo.Routes)
	if err != nil || rs.Len() != 2 {
		t.Fatalf("configured routes: %v", err)
	}
	if r := rs.Route(0); r.Name != "POST /v1/Account/{auth_id}/Call/" || r.Method != "POST" || r.Price != 10_000 || !r.KYC || r.Permission != model.PermCalls {
		t.Errorf("route 0 compiled as %+v", r)
	}
	if r := rs.Route(1); r.Name != "cdr" || r.Method != "GET" || r.Price != 0 || r.Permission != model.PermCDR {
		t.Errorf("route 1 compiled as %+v", r)
	}
}

// TestDefaultConfigurationWires: the default configuration gives every constructor what it
// takes, and its routes compile.
func TestDefaultConfigurationWires(t *testing.T) {
	c := config.Default()
	rs, err := policy.CompileRoutes(gatewayOptions(c).Routes)
	if err != nil || rs.Len() != len(c.Routes) {
		t.Fatalf("default routes: %v", err)
	}
	for i, r := range c.Routes {
		if got := rs.Route(i); got.Name != r.Name || got.Method != r.Method || got.Path != r.Path || got.Upstream != r.Upstream {
			t.Errorf("route %d compiled as %+v, configured %+v", i, got, r)
		}
	}
	if ao := adminOptions(c); ao.TokenGrace != config.DefaultTokenGrace || ao.RateLimit != config.DefaultRateLimit {
		t.Errorf("admin options %+v", ao)
	}
	if so := storeOptions(c); so.DataDir != config.DefaultDataDir || so.MarkerTTL != config.DefaultRefundMarkerTTL {
		t.Errorf("store options %+v", so)
	}
}
