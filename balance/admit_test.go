package balance_test

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// admStores runs f against the embedded store and a real redis-server (the cluster runs
// the admit script in cluster_test.go).
func admStores(t *testing.T, f func(t *testing.T, s *balance.Store)) { runOnStores(t, false, f) }

var admReqSeq atomic.Int64

// admReq builds a request by caller on path.
func admReq(caller, path *testkit.Account, perm model.Permission, kyc bool, price string) *balance.AdmitRequest {
	pos := -1
	ids := append([]string{path.ID}, path.Chain...)
	for i, id := range ids {
		if id == caller.ID {
			pos = i
		}
	}
	return &balance.AdmitRequest{
		Keys: balance.AdmitKeys(path.Root, path.ID, path.Chain), CallerPos: pos,
		TokenHash: caller.TokenHash(), Permission: perm, KYC: kyc, Price: testkit.Amt(price),
		Route: "voice.call", RequestID: fmt.Appendf(nil, "rq-%d", admReqSeq.Add(1)),
	}
}

func admDo(t testing.TB, s *balance.Store, req *balance.AdmitRequest) balance.Decision {
	t.Helper()
	var d balance.Decision
	if err := s.Admit(context.Background(), req, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// admTreeState reads every key of a tree: what a refusal must leave alone.
func admTreeState(t testing.TB, s *balance.Store, root string) map[string]any {
	t.Helper()
	ctx := context.Background()
	rdb := s.Client()
	keys, err := rdb.Keys(ctx, "{"+root+"}*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	out := map[string]any{}
	for _, k := range keys {
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "hash":
			out[k] = rdb.HGetAll(ctx, k).Val()
		case "string":
			out[k] = rdb.Get(ctx, k).Val()
		case "zset":
			out[k] = rdb.ZRangeWithScores(ctx, k, 0, -1).Val()
		default:
			out[k] = typ
		}
	}
	return out
}

func admUsage(t testing.TB, s *balance.Store, a *testkit.Account) map[string]string {
	t.Helper()
	m, err := s.Client().HGetAll(context.Background(), balance.UsageKey(a.Root, a.ID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func admToday() string { return time.Now().UTC().Format("2006-01-02") }

func TestAdmitRefusalsWriteNothing(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		type tree struct{ main, reseller, cust, other *testkit.Account }
		build := func(t *testing.T, mainOpts, resOpts, custOpts []testkit.Option, mainCredit, resCredit, custCredit string) tree {
			m := testkit.NewAccount(t, s, nil, mainCredit, mainOpts...)
			r := testkit.NewAccount(t, s, m, resCredit, resOpts...)
			c := testkit.NewAccount(t, s, r, custCredit, custOpts...)
			o := testkit.NewAccount(t, s, m, "")
			return tree{m, r, c, o}
		}
		suspend := func(t *testing.T, a *testkit.Account) {
			if err := s.UpdateAccount(ctx, a.Account, balance.Change{Status: model.StatusSuspended}); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			name     string
			mainOpts []testkit.Option
			resOpts  []testkit.Option
			custOpts []testkit.Option
			credits  [3]string // main, reseller, customer
			setup    func(t *testing.T, tr tree)
			req      func(tr tree) *balance.AdmitRequest
			reason   balance.Reason
			who      func(tr tree) string
			avail    string
		}{
			{name: "bad token", credits: [3]string{"10", "", ""},
				req: func(tr tree) *balance.AdmitRequest {
					r := admReq(tr.cust, tr.cust, model.PermCalls, true, "0.01")
					r.TokenHash = []byte(policy.HashToken([]byte("nope")).Hex())
					return r
				},
				reason: balance.ReasonCredentials, who: func(tr tree) string { return tr.cust.ID }},
			{name: "closed caller", credits: [3]string{"10", "", ""},
				setup: func(t *testing.T, tr tree) {
					if err := s.UpdateAccount(ctx, tr.other.Account, balance.Change{Status: model.StatusClosed, Retention: time.Hour}); err != nil {
						t.Fatal(err)
					}
				},
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.other, tr.other, model.PermCalls, false, "0.01")
				},
				reason: balance.ReasonCredentials, who: func(tr tree) string { return tr.other.ID }},
			{name: "suspended self", credits: [3]string{"10", "", ""},
				setup: func(t *testing.T, tr tree) { suspend(t, tr.cust) },
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.cust, tr.cust, model.PermCalls, false, "0.01")
				},
				reason: balance.ReasonSuspended, who: func(tr tree) string { return tr.cust.ID }},
			{name: "suspended grandparent", credits: [3]string{"10", "", ""},
				setup: func(t *testing.T, tr tree) { suspend(t, tr.main) },
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.cust, tr.cust, model.PermCalls, false, "0.01")
				},
				reason: balance.ReasonSuspended, who: func(tr tree) string { return tr.main.ID }},
			{name: "permission off at the parent", credits: [3]string{"10", "", ""},
				resOpts: []testkit.Option{testkit.Perms(model.Perms{SMS: true, CDR: true})},
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.cust, tr.cust, model.PermCalls, false, "0.01")
				},
				reason: balance.ReasonPermission, who: func(tr tree) string { return tr.reseller.ID }},
			{name: "KYC blocked at the parent", credits: [3]string{"10", "", ""},
				resOpts: []testkit.Option{testkit.KYC(model.KYCCustomer, model.KYCPending)},
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.cust, tr.cust, model.PermCalls, true, "0.01")
				},
				reason: balance.ReasonKYC, who: func(tr tree) string { return tr.reseller.ID }},
			{name: "rate limited at the child", credits: [3]string{"10", "", ""},
				custOpts: []testkit.Option{testkit.Rate(2)},
				setup: func(t *testing.T, tr tree) {
					for range 2 {
						if d := admDo(t, s, admReq(tr.cust, tr.cust, model.PermCalls, false, "0.01")); !d.Admitted {
							t.Fatalf("warm-up refused: %+v", d)
						}
					}
				},
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.cust, tr.cust, model.PermCalls, false, "0.01")
				},
				reason: balance.ReasonRateLimited, who: func(tr tree) string { return tr.cust.ID }},
			{name: "insufficient shared balance", credits: [3]string{"0.005", "", ""},
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.cust, tr.cust, model.PermCalls, false, "0.01")
				},
				reason: balance.ReasonInsufficient, who: func(tr tree) string { return tr.main.ID }, avail: "0.005"},
			{name: "insufficient own balance", credits: [3]string{"10", "0.004", ""},
				resOpts: []testkit.Option{testkit.Own()},
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.cust, tr.cust, model.PermCalls, false, "0.01")
				},
				reason: balance.ReasonInsufficient, who: func(tr tree) string { return tr.reseller.ID }, avail: "0.004"},
			{name: "credit floor", credits: [3]string{"10", "", "0.30"},
				custOpts: []testkit.Option{testkit.Own(), testkit.Credit("0.50")},
				req: func(tr tree) *balance.AdmitRequest {
					return admReq(tr.main, tr.cust, model.PermCalls, false, "0.81")
				},
				reason: balance.ReasonInsufficient, who: func(tr tree) string { return tr.cust.ID }, avail: "0.80"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				tr := build(t, c.mainOpts, c.resOpts, c.custOpts, c.credits[0], c.credits[1], c.credits[2])
				if c.setup != nil {
					c.setup(t, tr)
				}
				req := c.req(tr)
				before := admTreeState(t, s, tr.main.Root)
				d := admDo(t, s, req)
				after := admTreeState(t, s, tr.main.Root)
				if d.Admitted || d.Reason != c.reason {
					t.Fatalf("decision %+v, want reason %v", d, c.reason)
				}
				if want := c.who(tr); d.AuthID != want {
					t.Errorf("AuthID %s, want %s", d.AuthID, want)
				}
				if d.Charge != 0 {
					t.Errorf("charge %v on refusal", d.Charge)
				}
				if c.avail != "" && d.Available != testkit.Amt(c.avail) {
					t.Errorf("available %v, want %s", d.Available, c.avail)
				}
				if c.reason == balance.ReasonRateLimited && (d.Reset <= 0 || d.Limit != 2 || d.Remaining != 0) {
					t.Errorf("rate limited decision %+v: want a retry-after, limit 2, remaining 0", d)
				}
				if !reflect.DeepEqual(before, after) {
					t.Errorf("a refusal wrote to the store:\nbefore %v\nafter  %v", before, after)
				}
			})
		}
	})
}

func TestAdmitWritesAndRefundOnce(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00")
		r := testkit.NewAccount(t, s, m, "", testkit.Rate(50))
		c := testkit.NewAccount(t, s, r, "", testkit.Rate(20))

		req := admReq(r, c, model.PermCalls, true, "0.01")
		req.Route = "voice.call"
		d := admDo(t, s, req)
		if !d.Admitted || d.Charge != testkit.Amt("0.01") || d.BillingID != m.ID {
			t.Fatalf("decision %+v", d)
		}
		if d.Limit != 20 || d.Remaining != 19 || d.Reset <= 0 || d.Reset > time.Second {
			t.Errorf("tightest limit: %+v, want limit 20 remaining 19 reset <= 1s", d)
		}
		if got := testkit.Balance(t, s, m); got != testkit.Amt("0.99") {
			t.Errorf("balance %v, want 0.99", got)
		}
		u := admUsage(t, s, c)
		day := admToday()
		if u[day+"|voice.call|n"] != "1" || u[day+"|voice.call|c"] != "10000" {
			t.Errorf("usage %v", u)
		}
		ra, _ := s.AccountIn(ctx, r.Root, r.ID)
		ca, _ := s.AccountIn(ctx, c.Root, c.ID)
		if ra.LastUsed == 0 || ca.LastUsed != 0 {
			t.Errorf("last_used: caller %d, path %d; want the caller stamped only", ra.LastUsed, ca.LastUsed)
		}
		mk, err := s.RefundMarker(ctx, m.Root, string(req.RequestID))
		if err != nil || mk.State != 'a' || mk.BillingID != m.ID || mk.Price != testkit.Amt("0.01") || mk.Route != "voice.call" || mk.Day != day {
			t.Fatalf("marker %+v, %v", mk, err)
		}

		amt, ok, err := s.Refund(ctx, req)
		if err != nil || !ok || amt != testkit.Amt("0.01") {
			t.Fatalf("refund = %v %v %v", amt, ok, err)
		}
		for range 3 {
			if _, ok, err := s.Refund(ctx, req); err != nil || ok {
				t.Fatalf("second refund = %v %v", ok, err)
			}
		}
		if got := testkit.Balance(t, s, m); got != testkit.Amt("1.00") {
			t.Errorf("balance after refund %v, want 1.00", got)
		}
		u = admUsage(t, s, c)
		if u[day+"|voice.call|n"] != "0" || u[day+"|voice.call|c"] != "0" {
			t.Errorf("usage after refund %v", u)
		}
		if mk, _ := s.RefundMarker(ctx, m.Root, string(req.RequestID)); mk == nil || mk.State != 'r' {
			t.Errorf("marker after refund %+v", mk)
		}
		// A refund for a request that was never admitted does nothing.
		other := admReq(r, c, model.PermCalls, true, "0.01")
		if _, ok, err := s.Refund(ctx, other); err != nil || ok {
			t.Errorf("refund of an unknown request = %v %v", ok, err)
		}

		// Concurrent refunds of one request: exactly one wins.
		req2 := admReq(c, c, model.PermCalls, false, "0.25")
		if d := admDo(t, s, req2); !d.Admitted {
			t.Fatalf("%+v", d)
		}
		var wins atomic.Int32
		done := make(chan struct{})
		for range 8 {
			go func() {
				defer func() { done <- struct{}{} }()
				if _, ok, err := s.Refund(ctx, req2); err == nil && ok {
					wins.Add(1)
				}
			}()
		}
		for range 8 {
			<-done
		}
		if wins.Load() != 1 || testkit.Balance(t, s, m) != testkit.Amt("1.00") {
			t.Errorf("concurrent refunds: %d won, balance %v", wins.Load(), testkit.Balance(t, s, m))
		}
	})
}

func TestAdmitGCRA(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		m := testkit.NewAccount(t, s, nil, "100", testkit.Rate(1000))
		c := testkit.NewAccount(t, s, m, "", testkit.Rate(5))
		// burst: one second's worth, then refused.
		for i := range 5 {
			d := admDo(t, s, admReq(c, c, model.PermNone, false, "0"))
			if !d.Admitted || d.Limit != 5 || d.Remaining != 4-i {
				t.Fatalf("request %d: %+v", i, d)
			}
		}
		d := admDo(t, s, admReq(c, c, model.PermNone, false, "0"))
		if d.Admitted || d.Reason != balance.ReasonRateLimited || d.AuthID != c.ID {
			t.Fatalf("6th: %+v", d)
		}
		if d.Reset <= 0 || d.Reset > 200*time.Millisecond {
			t.Errorf("retry-after %v, want (0, 200ms]", d.Reset)
		}
		// refill: one emission interval later exactly one more is allowed.
		time.Sleep(d.Reset + 10*time.Millisecond)
		if d := admDo(t, s, admReq(c, c, model.PermNone, false, "0")); !d.Admitted {
			t.Fatalf("after refill: %+v", d)
		}
		if d := admDo(t, s, admReq(c, c, model.PermNone, false, "0")); d.Admitted {
			t.Fatalf("refill gave more than one: %+v", d)
		}
	})
}

func TestAdmitChainLimit(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		m := testkit.NewAccount(t, s, nil, "100", testkit.Rate(1000))
		p := testkit.NewAccount(t, s, m, "", testkit.Rate(4))
		a := testkit.NewAccount(t, s, p, "", testkit.Rate(10))
		b := testkit.NewAccount(t, s, p, "", testkit.Rate(10))
		for i, who := range []*testkit.Account{a, b, a, b} {
			if d := admDo(t, s, admReq(who, who, model.PermNone, false, "0")); !d.Admitted {
				t.Fatalf("request %d refused: %+v", i, d)
			} else if d.Limit != 4 {
				t.Errorf("request %d: tightest limit %d, want the parent's 4", i, d.Limit)
			}
		}
		before := admTreeState(t, s, m.Root)
		d := admDo(t, s, admReq(a, a, model.PermNone, false, "0"))
		if d.Admitted || d.Reason != balance.ReasonRateLimited || d.AuthID != p.ID || d.Limit != 4 {
			t.Fatalf("5th: %+v, want rate limited by the parent", d)
		}
		if after := admTreeState(t, s, m.Root); !reflect.DeepEqual(before, after) {
			t.Errorf("a refused request took rate tokens of the children")
		}
	})
}

func TestAdmitBilling(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		m := testkit.NewAccount(t, s, nil, "10")
		r := testkit.NewAccount(t, s, m, "2", testkit.Own())
		shared := testkit.NewAccount(t, s, r, "")                                     // spends the reseller's
		own := testkit.NewAccount(t, s, r, "1", testkit.Own(), testkit.Credit("0.5")) // spends its own
		if d := admDo(t, s, admReq(shared, shared, model.PermNone, false, "0.5")); !d.Admitted || d.BillingID != r.ID {
			t.Fatalf("shared: %+v", d)
		}
		if d := admDo(t, s, admReq(m, own, model.PermNone, false, "1.2")); !d.Admitted || d.BillingID != own.ID {
			t.Fatalf("own: %+v", d)
		}
		if got := testkit.Balance(t, s, r); got != testkit.Amt("1.5") {
			t.Errorf("reseller %v, want 1.50", got)
		}
		if got := testkit.Balance(t, s, own); got != testkit.Amt("-0.2") {
			t.Errorf("own %v, want -0.20", got)
		}
		if got := testkit.Balance(t, s, m); got != testkit.Amt("10") {
			t.Errorf("main %v, want 10 (untouched)", got)
		}
		// The floor: -0.2 - 0.3 = -0.5 is allowed, anything more is not.
		if d := admDo(t, s, admReq(own, own, model.PermNone, false, "0.300001")); d.Admitted || d.Reason != balance.ReasonInsufficient || d.Available != testkit.Amt("0.3") {
			t.Fatalf("over the floor: %+v", d)
		}
		if d := admDo(t, s, admReq(own, own, model.PermNone, false, "0.3")); !d.Admitted {
			t.Fatalf("to the floor: %+v", d)
		}
		if got := testkit.Balance(t, s, own); got != testkit.Amt("-0.5") {
			t.Errorf("own %v, want -0.50", got)
		}
		// A free route is admitted even at the floor.
		if d := admDo(t, s, admReq(own, own, model.PermNone, false, "0")); !d.Admitted {
			t.Fatalf("free route at the floor: %+v", d)
		}
	})
}

func TestAdmitTokens(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "10")
		c := testkit.NewAccount(t, s, m, "")
		old := *c
		newTok := policy.NewToken()
		if _, err := s.RotateToken(ctx, c.Account, policy.HashToken([]byte(newTok)).Hex(), time.Hour); err != nil {
			t.Fatal(err)
		}
		c.Token = newTok
		for _, who := range []*testkit.Account{&old, c} {
			if d := admDo(t, s, admReq(who, c, model.PermNone, false, "0")); !d.Admitted {
				t.Fatalf("token during grace: %+v", d)
			}
		}
		if _, err := s.RotateToken(ctx, c.Account, policy.HashToken([]byte(newTok)).Hex(), 0); err != nil {
			t.Fatal(err)
		}
		if d := admDo(t, s, admReq(&old, c, model.PermNone, false, "0")); d.Reason != balance.ReasonCredentials {
			t.Fatalf("revoked token: %+v", d)
		}
		// the main account acts on the child with its own token.
		if d := admDo(t, s, admReq(m, c, model.PermNone, false, "0")); !d.Admitted {
			t.Fatalf("main on child: %+v", d)
		}
	})
}

// TestAdmitConcurrent spends a balance that covers exactly n requests from many goroutines.
func TestAdmitConcurrent(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		const n, clients = 37, 64
		m := testkit.NewAccount(t, s, nil, "0.37", testkit.Rate(1000000))
		c := testkit.NewAccount(t, s, m, "", testkit.Rate(1000000))
		var ok atomic.Int32
		done := make(chan struct{})
		for range clients {
			go func() {
				defer func() { done <- struct{}{} }()
				for range 2 {
					var d balance.Decision
					if err := s.Admit(context.Background(), admReq(c, c, model.PermNone, false, "0.01"), &d); err != nil {
						t.Error(err)
						return
					}
					if d.Admitted {
						ok.Add(1)
					}
				}
			}()
		}
		for range clients {
			<-done
		}
		if ok.Load() != n || testkit.Balance(t, s, m) != 0 {
			t.Errorf("admitted %d (want %d), balance %v (want 0)", ok.Load(), n, testkit.Balance(t, s, m))
		}
	})
}

// TestRefundAfterBillingClosed: the account that paid was closed before the refund; the
// money goes to the nearest own balance above it that is still open.
func TestRefundAfterBillingClosed(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1")
		c := testkit.NewAccount(t, s, m, "0.5", testkit.Own())
		req := admReq(c, c, model.PermNone, false, "0.1")
		if d := admDo(t, s, req); !d.Admitted || d.BillingID != c.ID {
			t.Fatalf("%+v", d)
		}
		if err := s.UpdateAccount(ctx, c.Account, balance.Change{Status: model.StatusClosed, Retention: time.Hour, CloseTrID: policy.NewTransferID()}); err != nil {
			t.Fatal(err)
		}
		if got := testkit.Balance(t, s, m); got != testkit.Amt("1.4") {
			t.Fatalf("main after close %v, want 1.40", got)
		}
		if amt, ok, err := s.Refund(ctx, req); err != nil || !ok || amt != testkit.Amt("0.1") {
			t.Fatalf("refund %v %v %v", amt, ok, err)
		}
		if got := testkit.Balance(t, s, m); got != testkit.Amt("1.5") {
			t.Errorf("main after refund %v, want 1.50", got)
		}
		if got := testkit.Balance(t, s, c); got != 0 {
			t.Errorf("closed account's balance %v, want 0", got)
		}
	})
}

// TestSettleOnce: a settlement happens at most once, never after a refund, and a refund
// after a settlement does nothing.
func TestSettleOnce(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00")
		k := testkit.NewAccount(t, s, m, "")
		req := admReq(k, k, model.PermCalls, false, "0.01")
		d := admDo(t, s, req)
		if !d.Admitted {
			t.Fatalf("admit: %+v", d)
		}
		before := testkit.Balance(t, s, m)
		charge, ok, err := s.Settle(ctx, req, d.Charge+5_000)
		if err != nil || !ok || charge != d.Charge+5_000 {
			t.Fatalf("settle: %v %v %v", charge, ok, err)
		}
		if got := testkit.Balance(t, s, m); got != before-5_000 {
			t.Fatalf("balance after settle %v, want %v", got, before-5_000)
		}
		if _, ok, _ := s.Settle(ctx, req, 1); ok {
			t.Fatal("settled twice")
		}
		if _, ok, _ := s.Refund(ctx, req); ok {
			t.Fatal("refunded after settlement")
		}
		if got := testkit.Balance(t, s, m); got != before-5_000 {
			t.Fatalf("balance moved again: %v", got)
		}
		if u := admUsage(t, s, k); u[admToday()+"|voice.call|c"] != "15000" || u[admToday()+"|voice.call|s"] != "1" {
			t.Fatalf("usage %v", u)
		}
		req2 := admReq(k, k, model.PermCalls, false, "0.01")
		if d := admDo(t, s, req2); !d.Admitted {
			t.Fatalf("admit: %+v", d)
		}
		if _, ok, _ := s.Refund(ctx, req2); !ok {
			t.Fatal("refund")
		}
		if _, ok, _ := s.Settle(ctx, req2, 1); ok {
			t.Fatal("settled after refund")
		}
	})
}
