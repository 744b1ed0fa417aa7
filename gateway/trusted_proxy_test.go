package gateway

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/bench/testkit"
)

// TestAuthFailureLimitBehindProxy: behind a trusted load balancer, failures count against
// the client named in X-Forwarded-For, so one client guessing tokens does not lock out the
// others; from an untrusted peer X-Forwarded-For is ignored, so it cannot be used to dodge
// the limit.
func TestAuthFailureLimitBehindProxy(t *testing.T) {
	bad := strings.Repeat("b", 40)
	fail := func(f *fixture, m *testkit.Account, xff string) testkit.Answer {
		return f.do(call{path: smsPath(m), as: m, tok: bad, header: map[string]string{"X-Forwarded-For": xff}})
	}
	good := func(f *fixture, m *testkit.Account, xff string) testkit.Answer {
		return f.do(call{path: smsPath(m), as: m, header: map[string]string{"X-Forwarded-For": xff}})
	}

	t.Run("trusted", func(t *testing.T) {
		f := newFixture(t, func(o *Options) {
			o.AuthFailuresPerMinute = 3
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
		})
		m := f.mk(nil, "1.00")
		for range 3 {
			if a := fail(f, m, "198.51.100.7, 10.1.2.3"); a.Status != 401 {
				t.Fatalf("failure: %d", a.Status)
			}
		}
		if a := fail(f, m, "198.51.100.7, 10.1.2.3"); a.Status != 429 {
			t.Fatalf("the guessing client: %d, want 429", a.Status)
		}
		// Another client behind the same proxies is not blocked.
		if a := good(f, m, "203.0.113.9, 10.1.2.3"); a.Status != 200 {
			t.Fatalf("another client: %d, want 200", a.Status)
		}
		// A forged left-most entry does not help the guessing client: the nearest untrusted
		// hop is what counts.
		if a := fail(f, m, "192.0.2.1, 198.51.100.7, 10.1.2.3"); a.Status != 429 {
			t.Fatalf("forged prefix: %d, want 429", a.Status)
		}
	})
	t.Run("untrusted peer", func(t *testing.T) {
		f := newFixture(t, func(o *Options) {
			o.AuthFailuresPerMinute = 3
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // not loopback
		})
		m := f.mk(nil, "1.00")
		for i := range 3 {
			fail(f, m, "198.51.100."+string(rune('1'+i))) // a new "client" each time
		}
		if a := good(f, m, "203.0.113.9"); a.Status != 429 {
			t.Fatalf("X-Forwarded-For from an untrusted peer was believed: %d", a.Status)
		}
	})
}
