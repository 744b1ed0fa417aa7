package balance_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestBatchedAdmitsCloseCleanly: admits in flight, batched, while the store closes: every
// caller gets an answer (a decision or ErrUnavailable), none hangs, and the ones admitted
// are exactly the ones debited.
func TestBatchedAdmitsCloseCleanly(t *testing.T) {
	ctx := context.Background()
	url := "redis://" + redistest.Start(t) + "/0"
	s, err := balance.Open(ctx, balance.Options{Redis: url})
	if err != nil {
		t.Fatal(err)
	}
	m := testkit.NewAccount(t, s, nil, "1000.00")
	k := testkit.NewAccount(t, s, m, "")
	reader, err := balance.Open(ctx, balance.Options{Redis: url})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				var d balance.Decision
				err := s.Admit(ctx, admReq(k, k, model.PermCalls, false, "0.01"), &d)
				if err != nil {
					return // the store closed under us
				}
				if d.Admitted {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let admits pile up in batches
	s.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("callers still waiting after the store closed")
	}
	bal := testkit.Balance(t, reader, m)
	if spent := testkit.Amt("1000.00") - bal; spent != model.Amount(admitted)*10_000 {
		t.Fatalf("%d admitted but %v debited", admitted, spent)
	}
	if admitted == 0 {
		t.Fatal("nothing was admitted before the close")
	}
}
