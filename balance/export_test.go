package balance

import (
	"github.com/tenantgw/gateway/config"

	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/policy/model"
)

// AdmitBatch runs reqs as one batch exactly as the batcher sends it (one script call per
// group, pipelined), for tests that compare a batch with the same admits one by one.
func AdmitBatch(s *Store, reqs []*AdmitRequest, decs []Decision) []error {
	return runAdmits(s, admitScript, reqs, decs, false)
}

// runAdmits sends reqs through script as the batcher does: as one batch, or oneByOne.
func runAdmits(s *Store, script *redis.Script, reqs []*AdmitRequest, decs []Decision, oneByOne bool) []error {
	b := &admitBatcher{rdb: s.rdb, timeout: 10 * time.Second, markerTTL: s.markerTTL, script: script}
	_, b.cluster = s.rdb.(*redis.ClusterClient)
	calls := make([]*admitCall, len(reqs))
	for i := range reqs {
		calls[i] = &admitCall{req: reqs[i], dec: &decs[i], done: make(chan struct{}, 1)}
	}
	if oneByOne {
		for _, c := range calls {
			b.run([]*admitCall{c}, &batchWork{ttl: s.markerTTL})
		}
	} else {
		b.run(calls, &batchWork{ttl: s.markerTTL})
	}
	errs := make([]error, len(reqs))
	for i, c := range calls {
		<-c.done
		errs[i] = c.err
	}
	return errs
}

// AdmitScriptBody is the admit script the store runs, without the prelude (the tariff and
// the call part, which it calls, included).
func AdmitScriptBody() string { return tariffLua + callLua + admitLua }

// ReasonCount is one past the last code of the admit script that the store decodes.
const ReasonCount = reasonCount

// AdmitWithClock runs reqs through the admit script body (the prelude is prepended) with the
// store's clock (Redis TIME) replaced by now: as one batch exactly as the batcher sends it,
// or, oneByOne, each request in a call of its own. It fails the test if body does not read
// the clock the way the store's script does.
func AdmitWithClock(t testing.TB, s *Store, body string, now time.Time, reqs []*AdmitRequest, decs []Decision, oneByOne bool) []error {
	const clock = "local t = redis.call('TIME')"
	if strings.Count(body, clock) != 1 {
		t.Fatalf("the script does not read the clock as %q once", clock)
	}
	us := now.UnixMicro()
	body = strings.Replace(body, clock, fmt.Sprintf("local t = {'%d', '%d'}", us/1e6, us%1e6), 1)
	return runAdmits(s, redis.NewScript(prelude+body), reqs, decs, oneByOne)
}

// QueuedAdmits is how many admits wait in the batcher's queue, not yet taken into a batch.
func QueuedAdmits(s *Store) int { return len(s.batch.in) }

// RunAdmitBatch runs reqs as one batch of the store's batcher, each with its deadline
// (what admit would have given it when it was queued), and returns their errors.
func RunAdmitBatch(s *Store, reqs []*AdmitRequest, decs []Decision, deadlines []time.Time) []error {
	calls := make([]*admitCall, len(reqs))
	for i := range reqs {
		calls[i] = &admitCall{req: reqs[i], dec: &decs[i], deadline: deadlines[i], done: make(chan struct{}, 1)}
	}
	s.batch.run(calls, &batchWork{ttl: s.markerTTL})
	errs := make([]error, len(reqs))
	for i, c := range calls {
		<-c.done
		errs[i] = c.err
	}
	return errs
}

// AccountHashFields are the names of the fields of an account hash that the store writes
// when it creates an account (optional ones included).
func AccountHashFields() []string {
	x := "x"
	f := accountFields(&model.Account{Desc: &x, Email: &x, BusinessType: &x})
	names := make([]string, 0, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		names = append(names, f[i].(string))
	}
	return names
}

// NewFromClient wraps an existing client. Close closes rdb.
func NewFromClient(rdb redis.UniversalClient) *Store {
	_, cluster := rdb.(*redis.ClusterClient)
	return &Store{rdb: rdb, cluster: cluster, markerTTL: config.DefaultRefundMarkerTTL,
		claimRun: numberClaimRun, claimOrphan: numberClaimOrphan}
}

// SetNumberClaimBounds sets s's bounds of a claim on a number's index entry: how old it may
// be when the add's tree script runs, and how old before a remove clears it when its tree does
// not have the number (numberClaimRun, numberClaimOrphan). Call it while no call of s runs.
func (s *Store) SetNumberClaimBounds(run, orphan time.Duration) {
	s.claimRun, s.claimOrphan = run, orphan
}

// MarkerTTL is how long the refund markers of admitted requests live.
func (s *Store) MarkerTTL() time.Duration { return s.markerTTL }

// Connected reports whether the subscription is currently established.
func (sub *Subscription) Connected() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.connected
}

// Subscribes reports how many times the subscription has been established (1 after the
// first, +1 per reconnect).
func (sub *Subscription) Subscribes() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.resubs
}

// TariffLua is the tariff functions as the scripts get them (after the prelude).
func TariffLua() string { return prelude + tariffLua }

// ExpireHoldNow makes open hold id due now, as if its lifetime had ended: its record, its
// slots and its place among the tree's open holds say it expired a microsecond ago (tests
// do not wait for a real lifetime to end).
func ExpireHoldNow(t testing.TB, s *Store, id string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Hold(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := s.holdRoot(ctx, id)
	past := time.Now().Add(-time.Second).UnixMicro()
	hk := holdKey(root, id)
	chain, _ := s.rdb.HGet(ctx, hk, "chain").Result()
	s.rdb.HSet(ctx, hk, "expires", past)
	s.rdb.ZAdd(ctx, holdsKey(root), redis.Z{Score: float64(past), Member: id})
	for _, a := range strings.Split(chain, ",") {
		s.rdb.ZAdd(ctx, slotsKey(root, a), redis.Z{Score: float64(past), Member: id})
	}
}

// phaseProbe is what AdmitPhasesBody puts in place of each '-- phase: NAME' line: it adds
// the µs since the probe before it to the key 'phase:NAME' (the first probe only starts the
// clock).
const phaseProbe = `local phase_at
local function phase(k)
  local x = redis.call('TIME')
  local v = tonumber(x[1]) * 1000000 + tonumber(x[2])
  if phase_at then redis.call('INCRBY', 'phase:' .. k, v - phase_at) end
  phase_at = v
end
`

// AdmitPhasesBody answers the admit script body with every line '-- phase: NAME' of
// admit.lua made a probe (phaseProbe), and the names of the phases timed, in order (the
// first line only starts the clock). For a standalone Redis (the probes' keys are not in
// KEYS).
func AdmitPhasesBody() (string, []string) {
	var names []string
	lines := strings.Split(AdmitScriptBody(), "\n")
	for i, l := range lines {
		name, ok := strings.CutPrefix(l, "-- phase: ")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, " ")
		lines[i] = fmt.Sprintf("phase('%s')", name)
		names = append(names, name)
	}
	return phaseProbe + strings.Join(lines, "\n"), names[1:]
}

// SetAdmitScript makes the store's batcher run body (the prelude prepended) in place of the
// admit script. Call it before the store's first admit.
func SetAdmitScript(s *Store, body string) { s.batch.script = redis.NewScript(prelude + body) }
