package gateway

import (
	"sync/atomic"
	"time"

	"github.com/tenantgw/gateway/policy"
)

// Outcome is how a proxied request ended; a bounded set, fit for a metric label.
type Outcome uint8

// Outcomes.
const (
	OutcomeOK                  Outcome = iota // admitted and answered by the upstream (< 500)
	OutcomeInvalidCredentials                 // 401
	OutcomeAuthThrottled                      // 429 TOO_MANY_AUTH_FAILURES
	OutcomeForbidden                          // 403 FORBIDDEN (access rule, path account gone)
	OutcomeSuspended                          // 403 ACCOUNT_SUSPENDED
	OutcomePermissionDenied                   // 403 PERMISSION_DENIED
	OutcomeKYCRequired                        // 403 KYC_REQUIRED
	OutcomeRateLimited                        // 429 RATE_LIMITED
	OutcomeInsufficientBalance                // 402
	OutcomeStoreUnavailable                   // 503
	OutcomeUpstreamUnavailable                // 502, refunded
	OutcomeUpstreamTimeout                    // 504, refunded
	OutcomeUpstream5xx                        // upstream answered 5xx, refunded
	OutcomeError                              // 500
	outcomeCount
)

var outcomeNames = [outcomeCount]string{"ok", "invalid_credentials", "auth_throttled", "forbidden",
	"suspended", "permission_denied", "kyc_required", "rate_limited", "insufficient_balance",
	"store_unavailable", "upstream_unavailable", "upstream_timeout", "upstream_5xx", "error"}

// String returns the outcome's label value.
func (o Outcome) String() string {
	if o < outcomeCount {
		return outcomeNames[o]
	}
	return "unknown"
}

// metrics are lock-free counters indexed by route and outcome (no per-tenant labels).
// Stats reads them; a Prometheus collector in main can export them as
// gateway_requests_total{route,outcome} and friends.
type metrics struct {
	routes   []string
	upstream []string
	counts   [][outcomeCount]atomic.Uint64
	durNanos []atomic.Uint64 // summed request durations by route
	refunds  []atomic.Uint64
	cacheHit atomic.Uint64
	cacheMis atomic.Uint64
}

func newMetrics(routes *policy.Routes) *metrics {
	m := &metrics{counts: make([][outcomeCount]atomic.Uint64, routes.Len()),
		durNanos: make([]atomic.Uint64, routes.Len()), refunds: make([]atomic.Uint64, routes.Len())}
	for i := range routes.Len() {
		m.routes = append(m.routes, routes.Route(i).Name)
		m.upstream = append(m.upstream, routes.Route(i).Upstream)
	}
	return m
}

func (m *metrics) observe(route int, o Outcome, d time.Duration) {
	m.counts[route][o].Add(1)
	m.durNanos[route].Add(uint64(d))
}

// RouteStats are the counters of one route.
type RouteStats struct {
	Route, Upstream string
	Outcomes        map[string]uint64 // by Outcome.String(), only non-zero ones
	Refunds         uint64            // refunds made
	Seconds         float64           // total time spent in the handler
}

// Stats is a snapshot of the gateway's counters, for metrics.
type Stats struct {
	Routes                 []RouteStats
	CacheHits, CacheMisses uint64
}

// Stats returns a snapshot of the counters.
func (g *Gateway) Stats() Stats {
	m := g.metrics
	s := Stats{CacheHits: m.cacheHit.Load(), CacheMisses: m.cacheMis.Load()}
	for i, name := range m.routes {
		rs := RouteStats{Route: name, Upstream: m.upstream[i], Outcomes: map[string]uint64{},
			Refunds: m.refunds[i].Load(), Seconds: float64(m.durNanos[i].Load()) / 1e9}
		for o := range outcomeCount {
			if n := m.counts[i][o].Load(); n > 0 {
				rs.Outcomes[o.String()] = n
			}
		}
		s.Routes = append(s.Routes, rs)
	}
	return s
}
