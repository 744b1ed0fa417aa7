package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

// lostAnswerStore runs the real admit script and then reports the store unavailable, as when
// the answer is lost to a read timeout or a failover after the script ran.
type lostAnswerStore struct{ *balance.Store }

func (s lostAnswerStore) Admit(ctx context.Context, req *balance.AdmitRequest, dec *balance.Decision) error {
	if err := s.Store.Admit(ctx, req, dec); err != nil {
		return err
	}
	return fmt.Errorf("admit: %w: read timeout", balance.ErrUnavailable)
}

// TestLostAdmitAnswerIsRefunded: a 503 STORE_UNAVAILABLE says nothing was charged; when the
// admit script did run before its answer was lost, the gateway's compensating refund makes
// that true, exactly once.
func TestLostAdmitAnswerIsRefunded(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Store = lostAnswerStore{o.Store.(*balance.Store)} })
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	for i := 0; i < 3; i++ {
		a := f.do(call{path: callPath(k), as: k})
		if a.Status != 503 || a.Err.Error.Code != "STORE_UNAVAILABLE" || a.Header["X-Charge"] != "0.00" {
			t.Fatalf("answer %d %s %q", a.Status, a.Err.Error.Code, a.Header["X-Charge"])
		}
	}
	if n := f.voice.count(); n != 0 {
		t.Fatalf("forwarded %d requests", n)
	}
	for deadline := time.Now().Add(10 * time.Second); f.bal(m) != testkit.Amt("1.00"); {
		if time.Now().After(deadline) {
			t.Fatalf("balance %v: the lost admits were not refunded", f.bal(m))
		}
		time.Sleep(10 * time.Millisecond)
	}
	u, err := f.store.UsageOf(context.Background(), k.Root, []string{k.ID}, "", "")
	if err != nil || len(u) != 1 || u[0].Count != 0 || u[0].Charged != 0 {
		t.Fatalf("usage after compensation %+v %v", u, err)
	}
}

// garbledAnswerStore runs the real admit script and then reports an answer it cannot read,
// as a store that answered something unexpected after the script ran.
type garbledAnswerStore struct{ *balance.Store }

func (s garbledAnswerStore) Admit(ctx context.Context, req *balance.AdmitRequest, dec *balance.Decision) error {
	if err := s.Store.Admit(ctx, req, dec); err != nil {
		return err
	}
	return fmt.Errorf("admit: unexpected answer %v", []any{"?"})
}

// TestGarbledAdmitAnswerIsRefunded: an admit answer the gateway cannot read is a 500 that
// must not cost the customer anything: the script ran, so its charge is refunded.
func TestGarbledAdmitAnswerIsRefunded(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Store = garbledAnswerStore{o.Store.(*balance.Store)} })
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	a := f.do(call{path: callPath(k), as: k})
	if a.Status != 500 || a.Header["X-Charge"] != "0.00" {
		t.Fatalf("answer %d %q", a.Status, a.Header["X-Charge"])
	}
	for deadline := time.Now().Add(10 * time.Second); f.bal(m) != testkit.Amt("1.00"); {
		if time.Now().After(deadline) {
			t.Fatalf("balance %v: the garbled admit was not refunded", f.bal(m))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
