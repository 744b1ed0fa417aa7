package gateway

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
	"github.com/tenantgw/gateway/policy/wire"
)

// Outcome is how a proxied request ended; a bounded set, fit for a metric label.
type Outcome uint8

// Outcomes. The store's refusals are numbered as the store numbers them (balance.Reason):
// their names, answers and refusal labels are the refusal table's rows (wire.Refusals), so
// a new refusal of the admit script is an outcome without a line here.
const (
	OutcomeOK                  = Outcome(balance.Admitted)             // admitted and answered by the upstream (< 500)
	OutcomeInvalidCredentials  = Outcome(balance.ReasonCredentials)    // 401
	OutcomeForbidden           = Outcome(balance.ReasonGone)           // 403 FORBIDDEN (access rule, path account gone)
	OutcomeSuspended           = Outcome(balance.ReasonSuspended)      // 403 ACCOUNT_SUSPENDED
	OutcomePermissionDenied    = Outcome(balance.ReasonPermission)     // 403 PERMISSION_DENIED
	OutcomeKYCRequired         = Outcome(balance.ReasonKYC)            // 403 KYC_REQUIRED
	OutcomeRateLimited         = Outcome(balance.ReasonRateLimited)    // 429 RATE_LIMITED
	OutcomeInsufficientBalance = Outcome(balance.ReasonInsufficient)   // 402
	OutcomeWithdrawn           = Outcome(balance.ReasonWithdrawn)      // 503 STORE_UNAVAILABLE: a refund ran before the admit
	OutcomeNumberNotOwned      = Outcome(balance.ReasonNumberNotOwned) // 403 NUMBER_NOT_OWNED
	OutcomeCPSLimited          = Outcome(balance.ReasonCPS)            // 429 CPS_LIMITED (a call route)
	OutcomeConcurrencyLimited  = Outcome(balance.ReasonConcurrency)    // 429 CONCURRENCY_LIMITED (a call route)
)

// Outcomes the admit script does not decide, after the table's.
const (
	OutcomeAuthThrottled       = Outcome(len(wire.Refusals)) + iota // 429 TOO_MANY_AUTH_FAILURES
	OutcomeStoreUnavailable                                         // 503
	OutcomeUpstreamUnavailable                                      // 502, refunded
	OutcomeUpstreamTimeout                                          // 504, refunded
	OutcomeUpstream5xx                                              // upstream answered 5xx, refunded
	OutcomeError                                                    // 500
	OutcomeInvalidRequest                                           // 400: the body has no caller-ID field, or a bad one
	outcomeCount
)

// outcomeOf is the outcome of a refusal of the admit script (wire.ForReason(r) holds).
func outcomeOf(r balance.Reason) Outcome { return Outcome(r) }

// outcomeNames are the names of the outcomes that are no row of the refusal table.
var outcomeNames = [outcomeCount]string{OutcomeOK: "ok", OutcomeAuthThrottled: "auth_throttled",
	OutcomeStoreUnavailable: "store_unavailable", OutcomeUpstreamUnavailable: "upstream_unavailable",
	OutcomeUpstreamTimeout: "upstream_timeout", OutcomeUpstream5xx: "upstream_5xx", OutcomeError: "error",
	OutcomeInvalidRequest: "invalid_request"}

// String returns the outcome's label value: a store refusal's is its row's label.
func (o Outcome) String() string {
	if row, ok := wire.ForReason(balance.Reason(o)); ok {
		return row.Label
	}
	if o < outcomeCount {
		return outcomeNames[o]
	}
	return "unknown"
}

// Refusal reasons: the label values of gateway_refusals_total are the Label of the refusal
// table's rows (policy/wire). A refusal is a request that was answered without being
// forwarded and charged nothing; refusalRows indexes them by Outcome, and after the outcomes
// come the refusals that have no route.
const (
	refusalRouteNotFound = int(outcomeCount) + iota
	refusalTooLarge
	refusalInvalidRequest
	refusalCount
)

var refusalRows = func() (rows [refusalCount]*wire.Refusal) {
	for r := range wire.Refusals {
		rows[r], _ = wire.ForReason(balance.Reason(r))
	}
	rows[OutcomeAuthThrottled] = wire.TooManyAuthFailures
	rows[OutcomeStoreUnavailable] = wire.StoreUnavailable
	rows[OutcomeInvalidRequest] = wire.InvalidRequest
	rows[refusalRouteNotFound] = wire.RouteNotFound
	rows[refusalTooLarge] = wire.PayloadTooLarge
	rows[refusalInvalidRequest] = wire.InvalidRequest
	return rows
}()

// refusalReason is the refusal label of an outcome, "" when the outcome is not a refusal
// (forwarded, or failed after it was admitted).
var refusalReason = func() (labels [outcomeCount]string) {
	for o := range outcomeCount {
		labels[o] = refusalLabel(int(o))
	}
	return labels
}()

// The labels of the refusals that have no route.
var (
	ReasonRouteNotFound   = wire.RouteNotFound.Label   // 404 ROUTE_NOT_FOUND (no route, no fallback configured)
	ReasonPayloadTooLarge = wire.PayloadTooLarge.Label // 413 PAYLOAD_TOO_LARGE
	ReasonInvalidRequest  = wire.InvalidRequest.Label  // 400/408/431 malformed HTTP, a request not received in time, a path not in normal form
)

// Upstream error kinds: the label values of gateway_upstream_errors_total{kind}.
const (
	upErrTimeout     = iota // no answer within the upstream's timeout (504)
	upErrUnavailable        // connect error, reset, garbage (502)
	upErr5xx                // the upstream answered 5xx
	upErrCount
)

var upErrKinds = [upErrCount]string{"timeout", "unavailable", "5xx"}

// Histogram buckets, in seconds. The gateway's own share of a request is well under a
// millisecond; the upstream's can be seconds.
var (
	requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// Metrics are the gateway's Prometheus metrics. Make them with NewMetrics on the registry the
// operator listener exports, and pass them in Options.Metrics; several gateways may share
// one Metrics (their counts add up). Labels are bounded: route and upstream names come from
// the configuration, outcome, reason and kind from fixed sets; never an account id
// (per-tenant numbers belong to the Usage API).
//
// Metric names:
//
//	gateway_requests_total{route,outcome}             counter   proxied requests by how they ended
//	gateway_request_duration_seconds{route}           histogram time in the handler, upstream included
//	gateway_requests_in_flight                        gauge     proxied requests being handled
//	gateway_refusals_total{reason}                    counter   requests answered without forwarding, charged nothing
//	gateway_upstream_duration_seconds{upstream}       histogram one exchange with the upstream
//	gateway_upstream_errors_total{upstream,kind}      counter   timeout, unavailable, 5xx (each refunded)
//	gateway_admits_total{route}                       counter   requests admitted (debited) by the store
//	gateway_refunds_total{route}                      counter   refunds made (upstream failed)
//	gateway_settlements_total{route}                  counter   charges made exact by X-Usage-Cost
//	gateway_charged_micros_total{route}               counter   µ-units debited: admits plus settlement top-ups
//	gateway_refunded_micros_total{route}              counter   µ-units returned: refunds plus settlement returns
//	gateway_cache_hits_total                          counter   account lookups answered by the cache
//	gateway_cache_misses_total                        counter   account lookups that read the store
//
// The net money taken is gateway_charged_micros_total - gateway_refunded_micros_total.
type Metrics struct {
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	inflight         prometheus.Gauge
	refusals         *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
	upstreamErrors   *prometheus.CounterVec
	admits           *prometheus.CounterVec
	refunds          *prometheus.CounterVec
	settlements      *prometheus.CounterVec
	charged          *prometheus.CounterVec
	refunded         *prometheus.CounterVec
	cacheHits        prometheus.Counter
	cacheMisses      prometheus.Counter
}

// NewMetrics creates the gateway's metrics and registers them with reg; a nil reg registers
// nothing (the metrics still count, for Gateway.Stats). The error is reg's, e.g. when the
// metrics are registered twice.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_requests_total",
			Help: "Proxied requests by route and outcome (ok, invalid_credentials, insufficient_balance, upstream_5xx, ...)."},
			[]string{"route", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_request_duration_seconds",
			Help: "Time to handle a proxied request, upstream included, by route.", Buckets: requestBuckets},
			[]string{"route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_requests_in_flight",
			Help: "Proxied requests being handled now."}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_refusals_total",
			Help: "Requests answered without being forwarded (nothing charged), by reason."},
			[]string{"reason"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_upstream_duration_seconds",
			Help: "Duration of one exchange with an upstream (send the request, read the answer).", Buckets: requestBuckets},
			[]string{"upstream"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_upstream_errors_total",
			Help: "Failed upstream exchanges by upstream and kind (timeout, unavailable, 5xx); each was refunded."},
			[]string{"upstream", "kind"}),
		admits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_admits_total",
			Help: "Requests the store admitted (and debited), by route."}, []string{"route"}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_refunds_total",
			Help: "Charges refunded because the upstream failed, by route."}, []string{"route"}),
		settlements: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_settlements_total",
			Help: "Charges settled to the upstream's X-Usage-Cost, by route."}, []string{"route"}),
		charged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_charged_micros_total",
			Help: "Money debited in micro-units (1e-6 of the currency unit): admit debits plus settlement top-ups, by route."},
			[]string{"route"}),
		refunded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_refunded_micros_total",
			Help: "Money returned in micro-units: refunds plus settlement returns, by route."},
			[]string{"route"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_cache_hits_total",
			Help: "Account lookups answered by the gateway's account cache (negative entries included)."}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_cache_misses_total",
			Help: "Account lookups that read the store."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.inflight, m.refusals, m.upstreamDuration,
			m.upstreamErrors, m.admits, m.refunds, m.settlements, m.charged, m.refunded, m.cacheHits, m.cacheMisses} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("gateway metrics: %w", err)
			}
		}
	}
	// Every refusal reason is visible from the start (rate() of a missing series is no data).
	for r := range refusalCount {
		if l := refusalLabel(r); l != "" {
			m.refusals.WithLabelValues(l)
		}
	}
	return m, nil
}

// refusalLabel is the label of refusal index i (an Outcome or refusalRouteNotFound…), ""
// for an outcome that is no refusal.
func refusalLabel(i int) string {
	if row := refusalRows[i]; row != nil {
		return row.Label
	}
	return ""
}

// metrics are the gateway's children of Metrics, resolved once in New so that the hot path
// only indexes slices: counting a request allocates nothing and takes no lock.
type metrics struct {
	m        *Metrics
	routes   []routeMetrics // by route index
	refusals [refusalCount]prometheus.Counter
	inflight prometheus.Gauge
	hits     prometheus.Counter
	misses   prometheus.Counter
}

type routeMetrics struct {
	name, upstream string
	requests       [outcomeCount]prometheus.Counter
	duration       prometheus.Observer
	admits         prometheus.Counter
	refunds        prometheus.Counter
	settlements    prometheus.Counter
	charged        prometheus.Counter
	refunded       prometheus.Counter
}

// upstreamMetrics are one upstream's children.
type upstreamMetrics struct {
	duration prometheus.Observer
	errors   [upErrCount]prometheus.Counter
}

func newMetrics(m *Metrics, routes *policy.Routes) *metrics {
	g := &metrics{m: m, routes: make([]routeMetrics, routes.Len()), inflight: m.inflight,
		hits: m.cacheHits, misses: m.cacheMisses}
	for r := range refusalCount {
		if l := refusalLabel(r); l != "" {
			g.refusals[r] = m.refusals.WithLabelValues(l)
		}
	}
	for i := range routes.Len() {
		rt := routes.Route(i)
		rm := &g.routes[i]
		rm.name, rm.upstream = rt.Name, rt.Upstream
		for o := range outcomeCount {
			rm.requests[o] = m.requests.WithLabelValues(rt.Name, o.String())
		}
		rm.duration = m.duration.WithLabelValues(rt.Name)
		rm.admits = m.admits.WithLabelValues(rt.Name)
		rm.refunds = m.refunds.WithLabelValues(rt.Name)
		rm.settlements = m.settlements.WithLabelValues(rt.Name)
		rm.charged = m.charged.WithLabelValues(rt.Name)
		rm.refunded = m.refunded.WithLabelValues(rt.Name)
	}
	return g
}

func (m *metrics) upstream(name string) upstreamMetrics {
	u := upstreamMetrics{duration: m.m.upstreamDuration.WithLabelValues(name)}
	for k := range upErrCount {
		u.errors[k] = m.m.upstreamErrors.WithLabelValues(name, upErrKinds[k])
	}
	return u
}

// observe counts a finished proxied request: its outcome, its duration and, for a refusal,
// its reason.
func (m *metrics) observe(route int, o Outcome, d time.Duration) {
	rm := &m.routes[route]
	rm.requests[o].Inc()
	rm.duration.Observe(d.Seconds())
	if refusalReason[o] != "" {
		m.refusals[o].Inc()
	}
}

// refused counts a refusal that has no route (or no Outcome): route_not_found,
// payload_too_large, invalid_request.
func (m *metrics) refused(r int) { m.refusals[r].Inc() }

// admitted counts an admit and its debit.
func (m *metrics) admitted(route int, charge model.Amount) {
	rm := &m.routes[route]
	rm.admits.Inc()
	if charge > 0 {
		rm.charged.Add(float64(charge))
	}
}

// refundedCharge counts a refund of amount.
func (m *metrics) refundedCharge(route int, amount model.Amount) {
	rm := &m.routes[route]
	rm.refunds.Inc()
	if amount > 0 {
		rm.refunded.Add(float64(amount))
	}
}

// settled counts a settlement that moved the charge from charge to final.
func (m *metrics) settled(route int, charge, final model.Amount) {
	rm := &m.routes[route]
	rm.settlements.Inc()
	switch {
	case final > charge:
		rm.charged.Add(float64(final - charge))
	case final < charge:
		rm.refunded.Add(float64(charge - final))
	}
}

// RouteStats are the counters of one route.
type RouteStats struct {
	Route, Upstream string
	Outcomes        map[string]uint64 // by Outcome.String(), only non-zero ones
	Refunds         uint64            // refunds made
	Seconds         float64           // total time spent in the handler
}

// Stats is a snapshot of the gateway's counters (the same numbers its Metrics export).
type Stats struct {
	Routes                 []RouteStats
	CacheHits, CacheMisses uint64
}

// Stats returns a snapshot of the counters. With Metrics shared between gateways, the
// numbers are the sum over all of them.
func (g *Gateway) Stats() Stats {
	m := g.metrics
	s := Stats{CacheHits: uint64(counterValue(m.hits)), CacheMisses: uint64(counterValue(m.misses))}
	for i := range m.routes {
		rm := &m.routes[i]
		rs := RouteStats{Route: rm.name, Upstream: rm.upstream, Outcomes: map[string]uint64{},
			Refunds: uint64(counterValue(rm.refunds))}
		var pb dto.Metric
		if h, ok := rm.duration.(prometheus.Metric); ok && h.Write(&pb) == nil && pb.Histogram != nil {
			rs.Seconds = pb.Histogram.GetSampleSum()
		}
		for o := range outcomeCount {
			if n := uint64(counterValue(rm.requests[o])); n > 0 {
				rs.Outcomes[o.String()] = n
			}
		}
		s.Routes = append(s.Routes, rs)
	}
	return s
}

func counterValue(c prometheus.Counter) float64 {
	var pb dto.Metric
	if err := c.Write(&pb); err != nil || pb.Counter == nil {
		return 0
	}
	return pb.Counter.GetValue()
}
