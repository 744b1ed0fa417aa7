package balance_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// evalHook records the context deadline of every EVALSHA the store sends and can hold the
// first one before it goes out (a round trip stuck on a stalled store, on a real Redis).
type evalHook struct {
	hold    bool
	first   chan struct{} // closed when the first EVALSHA is about to go out (or is held)
	release chan struct{} // closing it lets the held EVALSHA go

	mu        sync.Mutex
	deadlines []time.Time
}

func newEvalHook(hold bool) *evalHook {
	return &evalHook{hold: hold, first: make(chan struct{}), release: make(chan struct{})}
}

func (h *evalHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *evalHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *evalHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" {
			d, _ := ctx.Deadline()
			h.mu.Lock()
			h.deadlines = append(h.deadlines, d)
			first := len(h.deadlines) == 1
			h.mu.Unlock()
			if first {
				close(h.first)
				if h.hold {
					<-h.release
				}
			}
		}
		return next(ctx, cmd)
	}
}

func (h *evalHook) sent() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.deadlines...)
}

// TestQueuedAdmitDeadlineFromItsArrival: an admit queued behind a batch whose round trip is
// stuck goes out with a deadline of the store timeout from when it was queued — not from
// when its own batch starts, which would let it wait for the stuck batch and then a whole
// timeout more. Structural: the deadline handed to the store call is compared with the
// times around the admit's arrival; nothing depends on how fast anything runs.
func TestQueuedAdmitDeadlineFromItsArrival(t *testing.T) {
	const timeout = 30 * time.Second // never reached: the held call is released by the test
	ctx := context.Background()
	s, err := balance.Open(ctx, balance.Options{Redis: "redis://" + redistest.Start(t) + "/0", ReadTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := testkit.NewAccount(t, s, nil, "10.00")
	admDo(t, s, admReq(m, m, model.PermCalls, false, "0.01")) // the script is loaded: one EVALSHA per batch from here
	h := newEvalHook(true)
	s.Client().AddHook(h)

	type result struct {
		d   balance.Decision
		err error
	}
	admit := func(out chan<- result) {
		var r result
		r.err = s.Admit(ctx, admReq(m, m, model.PermCalls, false, "0.01"), &r.d)
		out <- r
	}
	a, b := make(chan result, 1), make(chan result, 1)
	aQueued := time.Now()
	go admit(a)
	<-h.first // A's batch is in its store call, held
	aSent := time.Now()
	bQueued := time.Now()
	go admit(b)
	for balance.QueuedAdmits(s) == 0 { // B waits behind the held batch
		runtime.Gosched()
	}
	bWaiting := time.Now()
	close(h.release)
	for name, ch := range map[string]chan result{"A": a, "B": b} {
		if r := <-ch; r.err != nil || !r.d.Admitted {
			t.Fatalf("%s: %v %+v", name, r.err, r.d)
		}
	}
	sent := h.sent()
	if len(sent) != 2 {
		t.Fatalf("%d store calls, want 2 (A's batch, then B's)", len(sent))
	}
	if sent[0].Before(aQueued.Add(timeout)) || sent[0].After(aSent.Add(timeout)) {
		t.Errorf("A's deadline %v is not its arrival (%v … %v) + %v", sent[0], aQueued, aSent, timeout)
	}
	if sent[1].Before(bQueued.Add(timeout)) || sent[1].After(bWaiting.Add(timeout)) {
		t.Errorf("B's deadline %v is not its arrival (%v … %v) + %v: it ran %v past it",
			sent[1], bQueued, bWaiting, timeout, sent[1].Sub(bWaiting.Add(timeout)))
	}
}

// TestExpiredAdmitsAreNotSent: in a batch, an admit whose deadline has passed is answered
// ErrUnavailable without being sent (MaybeRan false, nothing charged); the others go out
// with the earliest of their deadlines.
func TestExpiredAdmitsAreNotSent(t *testing.T) {
	ctx := context.Background()
	s, err := balance.Open(ctx, balance.Options{Redis: "redis://" + redistest.Start(t) + "/0", ReadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := testkit.NewAccount(t, s, nil, "10.00")
	admDo(t, s, admReq(m, m, model.PermCalls, false, "0.01"))
	h := newEvalHook(false)
	s.Client().AddHook(h)

	now := time.Now()
	reqs := []*balance.AdmitRequest{admReq(m, m, model.PermCalls, false, "1.00"), admReq(m, m, model.PermCalls, false, "1.00"),
		admReq(m, m, model.PermCalls, false, "1.00")}
	deadlines := []time.Time{now.Add(-time.Millisecond), now.Add(50 * time.Second), now.Add(40 * time.Second)}
	decs := make([]balance.Decision, len(reqs))
	errs := balance.RunAdmitBatch(s, reqs, decs, deadlines)
	if !errors.Is(errs[0], balance.ErrUnavailable) || balance.MaybeRan(errs[0]) {
		t.Errorf("expired admit: %v (MaybeRan %v), want ErrUnavailable that did not run", errs[0], balance.MaybeRan(errs[0]))
	}
	for i := 1; i < 3; i++ {
		if errs[i] != nil || !decs[i].Admitted {
			t.Errorf("admit %d: %v %+v", i, errs[i], decs[i])
		}
	}
	if sent := h.sent(); len(sent) != 1 || !sent[0].Equal(deadlines[2]) {
		t.Errorf("store calls with deadlines %v, want one with %v", sent, deadlines[2])
	}
	if bal := testkit.Balance(t, s, m); bal != testkit.Amt("7.99") {
		t.Errorf("balance %v, want 7.99: only the two admits sent are charged", bal)
	}
}
