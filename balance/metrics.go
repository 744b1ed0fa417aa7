package balance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/policy/model"
)

// Store operations: the label values of the store's metrics {operation}.
const (
	opAdmit = iota
	opRefund
	opSettle
	opOther
	opCount
)

var opNames = [opCount]string{"admit", "refund", "settle", "other"}

// storeBuckets are the round-trip histogram's buckets, in seconds: a healthy Redis on the
// same network answers in well under a millisecond.
var storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Instrument makes the store measure every round trip to Redis (or the embedded store) into
// metrics registered with reg:
//
//	gateway_store_round_trip_seconds{operation}  histogram  one command or one pipeline, sent and answered
//	gateway_store_errors_total{operation}        counter    round trips that failed (unreachable, timeout, script error)
//	gateway_store_pipeline_commands              histogram  commands per pipelined round trip (a batch on a cluster)
//	gateway_store_admit_batch_size               histogram  admits decided by one admit script call
//	gateway_holds_total{route,event}             counter    call holds opened, settled, voided, expired
//	gateway_hold_overruns_total{route}           counter    settles that charged more than their hold
//	gateway_hold_overrun_micros_total{route}     counter    by how much, in micro-units
//
// operation is admit, refund or settle for those scripts (a pipeline is named by its first
// command) and other for everything else (account reads, management scripts, PING). A
// missing key (redis.Nil) and NOSCRIPT (answered by loading the script) are not errors; the
// commands go-redis sends to set up a new connection are not measured.
// Call it once, before the store is used; the hook adds no allocation per command.
func (s *Store) Instrument(reg prometheus.Registerer) error {
	h := newStoreHook()
	if reg != nil {
		for _, c := range []prometheus.Collector{h.durVec, h.errVec, h.pipe, h.batch} {
			if err := reg.Register(c); err != nil {
				return fmt.Errorf("store metrics: %w", err)
			}
		}
	}
	s.rdb.AddHook(h)
	if s.batch != nil {
		s.batch.sizes = h.batch
	}
	s.holdMetrics = newHoldMetrics()
	if reg != nil {
		for _, c := range []prometheus.Collector{s.holdMetrics.events, s.holdMetrics.overruns, s.holdMetrics.excess} {
			if err := reg.Register(c); err != nil {
				return fmt.Errorf("store metrics: %w", err)
			}
		}
	}
	return nil
}

// holdMetrics count the call holds' events by route (a bounded label: the configured routes).
type holdMetrics struct {
	events, overruns, excess *prometheus.CounterVec
}

func newHoldMetrics() *holdMetrics {
	return &holdMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_holds_total",
			Help: "Call holds by route and event: opened, settled, voided, expired."}, []string{"route", "event"}),
		overruns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_hold_overruns_total",
			Help: "Settles that charged more than the call's hold (the backend ended the call late)."}, []string{"route"}),
		excess: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_hold_overrun_micros_total",
			Help: "What settles charged beyond their holds, in micro-units of the currency."}, []string{"route"}),
	}
}

// holdEvent counts one event of a hold of route (no-op before Instrument).
func (s *Store) holdEvent(route, event string) {
	if s.holdMetrics != nil {
		s.holdMetrics.events.WithLabelValues(route, event).Inc()
	}
}

// holdOverrun counts a settle that charged excess beyond its hold.
func (s *Store) holdOverrun(route string, excess model.Amount) {
	if s.holdMetrics != nil {
		s.holdMetrics.overruns.WithLabelValues(route).Inc()
		s.holdMetrics.excess.WithLabelValues(route).Add(float64(excess))
	}
}

// storeHook is a go-redis hook timing round trips by operation.
type storeHook struct {
	durVec *prometheus.HistogramVec
	errVec *prometheus.CounterVec
	pipe   prometheus.Histogram
	batch  prometheus.Histogram
	dur    [opCount]prometheus.Observer
	errs   [opCount]prometheus.Counter
	shas   [opOther]string // EVALSHA hashes of admit, refund, settle
	srcs   [opOther]string // their sources (EVAL, after NOSCRIPT)
}

var _ redis.Hook = (*storeHook)(nil)

func newStoreHook() *storeHook {
	h := &storeHook{
		durVec: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_store_round_trip_seconds",
			Help:    "Round trips to the store (one command or one pipeline) by operation: admit, refund, settle, other.",
			Buckets: storeBuckets}, []string{"operation"}),
		errVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_store_errors_total",
			Help: "Failed round trips to the store (unreachable, timeout, script error) by operation."},
			[]string{"operation"}),
		pipe: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_store_pipeline_commands",
			Help:    "Commands sent in one pipelined round trip to the store (e.g. batched admits).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_store_admit_batch_size",
			Help:    "Admits decided by one call of the admit script (admits in flight together are batched).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 48, 64}}),
		shas: [opOther]string{admitScript.Hash(), refundScript.Hash(), settleScript.Hash()},
		srcs: [opOther]string{admitSrc, refundSrc, settleSrc},
	}
	for op := range opCount {
		h.dur[op] = h.durVec.WithLabelValues(opNames[op])
		h.errs[op] = h.errVec.WithLabelValues(opNames[op])
	}
	return h
}

// opSetup marks the commands go-redis sends while it sets up a new connection (HELLO, AUTH,
// SELECT, READONLY, CLIENT SETNAME/SETINFO/…): part of dialing, not an operation; some
// (CLIENT SETINFO on an older server) fail by design. They are not measured.
const opSetup = -1

// op names the operation of a command.
func (h *storeHook) op(cmd redis.Cmder) int {
	args := cmd.Args()
	if len(args) == 0 {
		return opOther
	}
	name, _ := args[0].(string)
	var body string
	if len(args) > 1 {
		body, _ = args[1].(string)
	}
	switch name {
	case "evalsha", "EVALSHA":
		for i, sha := range h.shas {
			if body == sha {
				return i
			}
		}
	case "eval", "EVAL":
		for i, src := range h.srcs {
			if body == src {
				return i
			}
		}
	case "hello", "auth", "select", "readonly", "client":
		return opSetup
	}
	return opOther
}

// failed reports whether err is a failure worth counting: not redis.Nil, not NOSCRIPT.
func failed(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var re redis.Error
	return !errors.As(err, &re) || !strings.HasPrefix(re.Error(), "NOSCRIPT")
}

func (h *storeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *storeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		op := h.op(cmd)
		if op == opSetup {
			return err
		}
		h.dur[op].Observe(time.Since(start).Seconds())
		if failed(err) {
			h.errs[op].Inc()
		}
		return err
	}
}

func (h *storeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		op := opOther
		if len(cmds) > 0 {
			op = h.op(cmds[0])
		}
		if op == opSetup {
			return err
		}
		h.dur[op].Observe(time.Since(start).Seconds())
		h.pipe.Observe(float64(len(cmds)))
		bad := failed(err)
		for _, c := range cmds {
			if bad {
				break
			}
			bad = failed(c.Err())
		}
		if bad {
			h.errs[op].Inc()
		}
		return err
	}
}
