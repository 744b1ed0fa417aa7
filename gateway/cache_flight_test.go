package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgw/gateway/policy/model"
)

// TestCacheMissesShareOneRead: many concurrent lookups of an uncached account read the
// store once, and all get its facts.
func TestCacheMissesShareOneRead(t *testing.T) {
	var loads atomic.Int32
	gate := make(chan struct{})
	acct := &model.Account{ID: "SA_FLIGHT000000000000A", Root: "MA_FLIGHT000000000000A", Parent: "MA_FLIGHT000000000000A",
		Chain: []string{"MA_FLIGHT000000000000A"}, Status: model.StatusActive, Tok: hashHex("t")}
	fc, err := newFactsCache(1<<20, time.Second, func(ctx context.Context, id string) (*model.Account, error) {
		loads.Add(1)
		<-gate
		return acct, nil
	}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.close()
	const n = 40
	var wg sync.WaitGroup
	got := make([]*facts, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := fc.get(context.Background(), []byte(acct.ID), false)
			if err != nil {
				t.Error(err)
			}
			got[i] = f
		}()
	}
	// Wait until one lookup reads and the others have joined it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		fc.mu.Lock()
		fl := fc.flights[acct.ID]
		fc.mu.Unlock()
		if fl != nil && fl.waiters.Load() == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lookups did not join one read")
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if loads.Load() != 1 {
		t.Fatalf("%d store reads for %d concurrent misses", loads.Load(), n)
	}
	for i, f := range got {
		if f == nil || f.id != acct.ID {
			t.Fatalf("lookup %d got %+v", i, f)
		}
	}
	// A fresh read does not join: it reads again.
	if _, err := fc.get(context.Background(), []byte(acct.ID), true); err != nil || loads.Load() != 2 {
		t.Fatalf("fresh read: %v, loads %d", err, loads.Load())
	}
}
