package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// lateAdmitStore holds every admit back and reports the store unavailable (a read timeout:
// the admit may have run), as when the store is stalled with the admit's bytes in a socket
// buffer; the test runs the admit later, in the order it chooses. Every refund is reported
// on refunds once it has returned.
type lateAdmitStore struct {
	*balance.Store
	late    chan balance.AdmitRequest
	refunds chan error
}

func (s *lateAdmitStore) Admit(ctx context.Context, req *balance.AdmitRequest, dec *balance.Decision) error {
	r := *req // the gateway reuses req: keep copies of what it owns
	r.TokenHash = append([]byte(nil), req.TokenHash...)
	r.RequestID = append([]byte(nil), req.RequestID...)
	s.late <- r
	return fmt.Errorf("admit: %w: read timeout", balance.ErrUnavailable)
}

func (s *lateAdmitStore) Refund(ctx context.Context, req *balance.AdmitRequest) (model.Amount, bool, error) {
	a, ok, err := s.Store.Refund(ctx, req)
	s.refunds <- err
	return a, ok, err
}

// TestAdmitAfterItsCompensationTakesNothing: the gateway answers 503 "nothing was charged"
// for an admit whose answer was lost and checks it with a refund in the background. When
// that refund runs before the admit does (a stalled store), the admit that comes afterwards
// must not charge the request, which was never forwarded: the balance and the usage stay as
// they were.
func TestAdmitAfterItsCompensationTakesNothing(t *testing.T) {
	ls := &lateAdmitStore{late: make(chan balance.AdmitRequest, 1), refunds: make(chan error, 1)}
	f := newFixture(t, func(o *Options) {
		ls.Store = o.Store.(*balance.Store)
		o.Store = ls
	})
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	a := f.do(call{path: callPath(k), as: k})
	if a.Status != 503 || a.Err.Error.Code != "STORE_UNAVAILABLE" || a.Header["X-Charge"] != "0.00" {
		t.Fatalf("answer %d %s %q", a.Status, a.Err.Error.Code, a.Header["X-Charge"])
	}
	late := <-ls.late
	select {
	case err := <-ls.refunds: // the compensating refund ran, before the admit
		if err != nil {
			t.Fatalf("compensating refund: %v", err)
		}
	case <-time.After(30 * time.Second): // only so that a broken gateway fails instead of hanging
		t.Fatal("no compensating refund")
	}
	var d balance.Decision
	if err := f.store.Admit(context.Background(), &late, &d); err != nil {
		t.Fatal(err)
	}
	if d.Admitted || d.Reason != balance.ReasonWithdrawn {
		t.Errorf("the late admit: %+v, want refused as withdrawn", d)
	}
	if b := f.bal(m); b != testkit.Amt("1.00") {
		t.Errorf("balance %v after a 503 that charged nothing, want 1.00", b)
	}
	if u, err := f.store.UsageOf(context.Background(), k.Root, []string{k.ID}, "", ""); err != nil || len(u) != 0 {
		t.Errorf("usage %+v %v, want none", u, err)
	}
	if n := f.voice.count(); n != 0 {
		t.Errorf("forwarded %d requests", n)
	}
}

// refundFirstStore runs the refund of a request before its admit, as a stalled store may,
// and answers the admit's real decision.
type refundFirstStore struct{ *balance.Store }

func (s refundFirstStore) Admit(ctx context.Context, req *balance.AdmitRequest, dec *balance.Decision) error {
	if _, _, err := s.Store.Refund(ctx, req); err != nil {
		return err
	}
	return s.Store.Admit(ctx, req, dec)
}

// TestWithdrawnAdmitIs503: an admit refused because its request was withdrawn (its refund
// ran first) is answered 503 STORE_UNAVAILABLE, charges nothing and is not forwarded.
func TestWithdrawnAdmitIs503(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Store = refundFirstStore{o.Store.(*balance.Store)} })
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	a := f.do(call{path: callPath(k), as: k})
	if a.Status != 503 || a.Err.Error.Code != "STORE_UNAVAILABLE" || a.Header["X-Charge"] != "0.00" {
		t.Errorf("answer %d %s %q, want 503 STORE_UNAVAILABLE charging nothing", a.Status, a.Err.Error.Code, a.Header["X-Charge"])
	}
	if n := f.voice.count(); n != 0 {
		t.Errorf("forwarded %d requests", n)
	}
	if b := f.bal(m); b != testkit.Amt("1.00") {
		t.Errorf("balance %v, want 1.00", b)
	}
}

// TestClientRequestIDDoesNotKeyTheMarker: the refund marker is keyed by an id the gateway
// makes for each request, never by the client's X-Request-ID, so a client that sends the
// same X-Request-ID again is admitted again (an id with a marker would be refused), even
// after the first request was refunded.
func TestClientRequestIDDoesNotKeyTheMarker(t *testing.T) {
	f := newFixture(t, nil)
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	hdr := map[string]string{"X-Request-ID": "client-id-again"}
	f.voice.status.Store(500) // the first fails upstream and is refunded
	if a := f.do(call{path: callPath(k), as: k, header: hdr}); a.Status != 500 || a.Header["X-Charge"] != "0.00" {
		t.Fatalf("first: %d %q %s", a.Status, a.Header["X-Charge"], a.Body)
	}
	f.voice.status.Store(200)
	for i := 0; i < 2; i++ {
		if a := f.do(call{path: callPath(k), as: k, header: hdr}); a.Status != 200 || a.Header["X-Charge"] != "0.01" {
			t.Fatalf("again %d: %d %q %s", i, a.Status, a.Header["X-Charge"], a.Body)
		}
	}
	if b := f.bal(m); b != testkit.Amt("0.98") {
		t.Errorf("balance %v, want 0.98", b)
	}
}
