package balance_test

import (
	"context"
	"sync"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestStoreOverUnixSocket: store.redis = unix:///path?db=N reaches a real redis-server on
// its Unix socket, in the database asked for, and batched admits and a refund work over it.
func TestStoreOverUnixSocket(t *testing.T) {
	ctx := context.Background()
	sock := redistest.StartUnix(t)
	s, err := balance.Open(ctx, balance.Options{Redis: "unix://" + sock + "?db=3"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := testkit.NewAccount(t, s, nil, "10.00")
	k := testkit.NewAccount(t, s, m, "")

	var wg sync.WaitGroup
	var mu sync.Mutex
	var admitted []*balance.AdmitRequest
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				r := admReq(k, k, model.PermCalls, false, "0.01")
				if d := admDo(t, s, r); d.Admitted {
					mu.Lock()
					admitted = append(admitted, r)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(admitted) != 320 {
		t.Fatalf("%d of 320 admitted", len(admitted))
	}
	if _, ok, err := s.Refund(ctx, admitted[0]); err != nil || !ok {
		t.Fatalf("refund: %v %v", ok, err)
	}
	if got, want := testkit.Balance(t, s, m), testkit.Amt("10.00")-319*testkit.Amt("0.01"); got != want {
		t.Errorf("balance %v, want %v", got, want)
	}
	// The data is in database 3 of that server.
	if n := s.Client().Do(ctx, "DBSIZE").Val(); n == int64(0) {
		t.Error("database 3 is empty")
	}
	other, err := balance.Open(ctx, balance.Options{Redis: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if n, _ := other.Client().Do(ctx, "DBSIZE").Int64(); n != 0 {
		t.Errorf("database 0 has %d keys", n)
	}
}
