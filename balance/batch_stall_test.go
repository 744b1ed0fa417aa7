//go:build unix

package balance_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestStalledStoreAnswersWithinTheTimeout: a real redis-server stopped with SIGSTOP (alive,
// silent). An admit queued behind a batch that is stuck on it is answered ErrUnavailable
// within the store timeout of its own arrival — not once the stuck batch has failed and its
// own batch has waited a whole timeout more (twice the timeout, as it was). The bound
// checked is generous, 1.6 timeouts of 3 s, so that a slow machine does not fail it; the
// exact deadline is pinned by TestQueuedAdmitDeadlineFromItsArrival.
func TestStalledStoreAnswersWithinTheTimeout(t *testing.T) {
	const timeout = 3 * time.Second
	ctx := context.Background()
	s, err := balance.Open(ctx, balance.Options{Redis: "redis://" + redistest.Start(t) + "/0", ReadTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := testkit.NewAccount(t, s, nil, "10.00")
	admDo(t, s, admReq(m, m, model.PermCalls, false, "0.01")) // the script is loaded
	info, err := s.Client().Info(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid <= 0 {
		t.Fatalf("no process_id in INFO server:\n%s", info)
	}
	h := newEvalHook(false)
	s.Client().AddHook(h)

	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()

	a := make(chan error, 1)
	go func() {
		var d balance.Decision
		a <- s.Admit(ctx, admReq(m, m, model.PermCalls, false, "0.01"), &d)
	}()
	<-h.first // A's batch is on its way to the stopped server
	var d balance.Decision
	bQueued := time.Now()
	errB := s.Admit(ctx, admReq(m, m, model.PermCalls, false, "0.01"), &d)
	waited := time.Since(bQueued)
	errA := <-a
	resume()

	if !errors.Is(errA, balance.ErrUnavailable) || !errors.Is(errB, balance.ErrUnavailable) {
		t.Fatalf("A: %v; B: %v; want ErrUnavailable for both", errA, errB)
	}
	if limit := timeout * 16 / 10; waited >= limit {
		t.Fatalf("B waited %v behind the stuck batch; the store timeout is %v (bound checked: %v)", waited, timeout, limit)
	}
}
