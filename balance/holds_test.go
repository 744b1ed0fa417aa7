package balance_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// testCallSpec: 0.60 a minute (0.01 a second), billed by the second; grants of 60 s up to
// 300 s, at least 10 s; a hold lives 5 s of ringing + its seconds + 5 s of grace; commit.
var testCallSpec = balance.NewCallSpec(balance.CallSpec{
	Tariff: model.Tariff{Rate: 600_000, First: 1, Next: 1}, Grant: 60, Max: 300, Min: 10,
	RingTimeout: 5, Grace: 5, Commit: true, Upstream: "voice"})

// callReq is a call by caller on path at price, opening a hold of spec.
func callReq(caller, path *testkit.Account, price string, spec *balance.CallSpec) *balance.AdmitRequest {
	req := admReq(caller, path, model.PermCalls, false, price)
	req.Call = &balance.CallRequest{HoldID: policy.NewHoldID(), Spec: spec}
	return req
}

func account(t *testing.T, s *balance.Store, a *testkit.Account) *model.Account {
	t.Helper()
	x, err := s.AccountIn(context.Background(), a.Root, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func hold(t *testing.T, s *balance.Store, id string) *balance.Hold {
	t.Helper()
	h, err := s.Hold(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCallHoldLifecycle: a call's admit takes the price, grants min(grant, max, affordable)
// seconds and holds their cost, takes a slot on every account of the chain; its Settle
// charges the cost, releases held, frees the slots, adds the charge to usage; a replay answers
// the same hold; anything else after it ended is ErrHoldEnded.
func TestCallHoldLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00")
		r := testkit.NewAccount(t, s, m, "")
		c := testkit.NewAccount(t, s, r, "")
		req := callReq(c, c, "0.01", testCallSpec)
		d := admDo(t, s, req)
		if !d.Admitted || d.Granted != 60 || d.Charge != testkit.Amt("0.01") || d.BillingID != m.ID {
			t.Fatalf("decision %+v", d)
		}
		id := req.Call.HoldID
		mm := account(t, s, m)
		if mm.Balance != testkit.Amt("0.99") || mm.Held != testkit.Amt("0.60") {
			t.Fatalf("billing account after the admit: balance %v held %v", mm.Balance, mm.Held)
		}
		for _, a := range []*testkit.Account{m, r, c} {
			if n := account(t, s, a).ActiveCalls; n != 1 {
				t.Fatalf("%s active_calls %d", a.ID, n)
			}
		}
		h := hold(t, s, id)
		if h.Status != balance.HoldOpen || h.Granted != 60 || h.Held != testkit.Amt("0.60") || h.AuthID != c.ID ||
			h.BillingID != m.ID || h.Route != "voice.call" || h.Upstream != "voice" || h.Final ||
			h.Expires-h.Created != 70_000_000 {
			t.Fatalf("hold %+v", h)
		}
		holds, total, err := s.OpenHolds(ctx, m.Root, r.ID, 0, 10)
		if err != nil || total != 1 || len(holds) != 1 || holds[0].ID != id {
			t.Fatalf("open holds under r: %v %d %v", holds, total, err)
		}

		h, replay, err := s.EndHold(ctx, id, balance.SettleDuration, 30)
		if err != nil || replay || h.Status != balance.HoldSettled || h.Charged != testkit.Amt("0.30") || h.Ended == 0 {
			t.Fatalf("settle: %+v %v %v", h, replay, err)
		}
		mm = account(t, s, m)
		if mm.Balance != testkit.Amt("0.69") || mm.Held != 0 || mm.ActiveCalls != 0 || account(t, s, c).ActiveCalls != 0 {
			t.Fatalf("after settle: balance %v held %v active %d", mm.Balance, mm.Held, mm.ActiveCalls)
		}
		if u := admUsage(t, s, c)[admToday()+"|voice.call|c"]; u != "310000" {
			t.Fatalf("usage charged %s, want the price and the call's cost", u)
		}
		if h2, replay, err := s.EndHold(ctx, id, balance.SettleDuration, 30); err != nil || !replay || *h2 != *h {
			t.Fatalf("replay: %+v %v %v", h2, replay, err)
		}
		for _, op := range []struct {
			op balance.HoldOp
			v  int64
		}{{balance.SettleDuration, 31}, {balance.SettleCost, 300_000}, {balance.Void, 0}} {
			if _, _, err := s.EndHold(ctx, id, op.op, op.v); !errors.Is(err, balance.ErrHoldEnded) {
				t.Fatalf("%c %d after settle: %v", op.op, op.v, err)
			}
		}
		if _, err := s.ExtendHold(ctx, id); !errors.Is(err, balance.ErrHoldEnded) {
			t.Fatalf("extend after settle: %v", err)
		}
		if account(t, s, m).Balance != testkit.Amt("0.69") {
			t.Fatal("an answer after the end moved money")
		}
		if _, _, err := s.EndHold(ctx, "HL_NOPE", balance.Void, 0); !errors.Is(err, balance.ErrNotFound) {
			t.Fatalf("unknown hold: %v", err)
		}
	})
}

// TestCallRefusals: the call's own checks — affordability after held, max_concurrent_calls
// at every level, calls_per_second — refuse without writing anything.
func TestCallRefusals(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "0.15")
		r := testkit.NewAccount(t, s, m, "", testkit.MaxCalls(2))
		c := testkit.NewAccount(t, s, r, "")
		// 0.15 - 0.01 pays 14 s: granted 14, held 0.14
		a := callReq(c, c, "0.01", testCallSpec)
		if d := admDo(t, s, a); !d.Admitted || d.Granted != 14 {
			t.Fatalf("first call %+v", d)
		}
		if h := hold(t, s, a.Call.HoldID); !h.Final {
			t.Fatal("a hold granted less than a grant for want of money is not final")
		}
		// 0.00 available after held: refused, required = price + cost of min_duration
		before := treeState(t, s, m.Root)
		d := admDo(t, s, callReq(c, c, "0", testCallSpec))
		if d.Admitted || d.Reason != balance.ReasonInsufficient || d.AuthID != m.ID || d.Available != 0 ||
			d.Price != testkit.Amt("0.10") {
			t.Fatalf("unaffordable call %+v", d)
		}
		if after := treeState(t, s, m.Root); !equalState(before, after) {
			t.Fatal("a refused call wrote")
		}
		if _, _, err := s.Credit(ctx, m.Account, testkit.Amt("10"), policy.NewTransferID(), ""); err != nil {
			t.Fatal(err)
		}
		// r allows 2 calls at once in its subtree
		b := callReq(c, c, "0", testCallSpec)
		if d := admDo(t, s, b); !d.Admitted {
			t.Fatalf("second call %+v", d)
		}
		before = treeState(t, s, m.Root)
		d = admDo(t, s, callReq(c, c, "0", testCallSpec))
		if d.Admitted || d.Reason != balance.ReasonConcurrency || d.AuthID != r.ID || d.Limit != 2 || d.Remaining != 2 {
			t.Fatalf("third call %+v", d)
		}
		if after := treeState(t, s, m.Root); !equalState(before, after) {
			t.Fatal("a refused call wrote")
		}
		if _, _, err := s.EndHold(ctx, b.Call.HoldID, balance.Void, 0); err != nil {
			t.Fatal(err)
		}
		// x: 2 calls a second (burst 2). Three in one script call (one reading of the
		// clock): the third is refused, naming x and when to retry.
		x := testkit.NewAccount(t, s, m, "", testkit.CPS(2))
		reqs := []*balance.AdmitRequest{callReq(x, x, "0", testCallSpec), callReq(x, x, "0", testCallSpec), callReq(x, x, "0", testCallSpec)}
		decs := make([]balance.Decision, 3)
		for _, err := range balance.AdmitBatch(s, reqs, decs) {
			if err != nil {
				t.Fatal(err)
			}
		}
		if d := decs[2]; !decs[0].Admitted || !decs[1].Admitted || d.Admitted || d.Reason != balance.ReasonCPS ||
			d.AuthID != x.ID || d.Limit != 2 || d.Reset <= 0 || d.Reset > 500*time.Millisecond {
			t.Fatalf("three calls at once under a CPS of 2: %+v", decs)
		}
	})
}

// treeState is admTreeState where KEYS reaches the whole tree (not on a cluster, where it
// asks one node): nil otherwise, and nil equals nil.
func treeState(t *testing.T, s *balance.Store, root string) map[string]any {
	if _, cluster := s.Client().(*redis.ClusterClient); cluster {
		return nil
	}
	return admTreeState(t, s, root)
}

func equalState(a, b map[string]any) bool { return reflect.DeepEqual(a, b) }

// TestHoldExpiryAndExtend: Extend grants another grant within max_duration and money; a hold
// past its lifetime frees its slot for a new call with no reaper; the reaper commits it; a
// late Settle corrects the charge once.
func TestHoldExpiryAndExtend(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "5.00", testkit.MaxCalls(1))
		a := callReq(m, m, "0", testCallSpec)
		if d := admDo(t, s, a); !d.Admitted || d.Granted != 60 {
			t.Fatalf("call %+v", d)
		}
		id := a.Call.HoldID
		h, err := s.ExtendHold(ctx, id)
		if err != nil || h.Granted != 120 || h.Held != testkit.Amt("1.20") || h.Final || h.Expires-h.Created != 130_000_000 {
			t.Fatalf("extend: %+v %v", h, err)
		}
		for range 3 {
			h, err = s.ExtendHold(ctx, id)
		}
		if err != nil || h.Granted != 300 || !h.Final || account(t, s, m).Held != testkit.Amt("3.00") {
			t.Fatalf("extended to max_duration: %+v %v", h, err)
		}
		balance.ExpireHoldNow(t, s, id)
		// no reaper ran: the slot is dead, a new call takes it
		b := callReq(m, m, "0", testCallSpec)
		if d := admDo(t, s, b); !d.Admitted {
			t.Fatalf("a call after the only slot's hold expired %+v", d)
		}
		if n, _, err := s.ReapHolds(ctx, m.Root, 100); err != nil || n != 1 {
			t.Fatalf("reap: %d %v", n, err)
		}
		h = hold(t, s, id)
		if h.Status != balance.HoldExpired || h.Charged != testkit.Amt("3.00") {
			t.Fatalf("expired: %+v", h)
		}
		if n, _, _ := s.ReapHolds(ctx, m.Root, 100); n != 0 {
			t.Fatal("reaped twice")
		}
		mm := account(t, s, m)
		if mm.Balance != testkit.Amt("2.00") || mm.Held != testkit.Amt("0.60") {
			t.Fatalf("after expiry: balance %v held %v", mm.Balance, mm.Held)
		}
		// late: the call lasted 100 s
		h, _, err = s.EndHold(ctx, id, balance.SettleDuration, 100)
		if err != nil || h.Status != balance.HoldSettled || h.Charged != testkit.Amt("1.00") {
			t.Fatalf("late settle: %+v %v", h, err)
		}
		if _, _, err := s.EndHold(ctx, id, balance.SettleDuration, 200); !errors.Is(err, balance.ErrHoldEnded) {
			t.Fatalf("second correction: %v", err)
		}
		if bal := account(t, s, m).Balance; bal != testkit.Amt("4.00") {
			t.Fatalf("balance %v after the correction", bal)
		}
	})
}

// TestHoldEndsOnce: racing Settles (two bodies), Voids and reapers on one due hold resolve
// it once and move money once.
func TestHoldEndsOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		for round := range 5 {
			m := testkit.NewAccount(t, s, nil, "10.00")
			a := callReq(m, m, "0.01", testCallSpec)
			if d := admDo(t, s, a); !d.Admitted {
				t.Fatalf("call %+v", d)
			}
			id := a.Call.HoldID
			if round%2 == 1 {
				balance.ExpireHoldNow(t, s, id)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			firsts := 0
			for g := range 24 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					replay := false
					switch g % 4 {
					case 0:
						_, replay, err = s.EndHold(ctx, id, balance.SettleDuration, 20)
					case 1:
						_, replay, err = s.EndHold(ctx, id, balance.SettleDuration, 40)
					case 2:
						_, replay, err = s.EndHold(ctx, id, balance.Void, 0)
					case 3:
						var n int
						n, _, err = s.ReapHolds(ctx, m.Root, 10)
						if err != nil {
							t.Error(err)
						}
						mu.Lock()
						firsts += n
						mu.Unlock()
						return
					}
					if err == nil && !replay {
						mu.Lock()
						firsts++
						mu.Unlock()
					} else if err != nil && !errors.Is(err, balance.ErrHoldEnded) {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			h := hold(t, s, id)
			// an expired hold may be corrected once by a late settle: then two "firsts"
			want := 1
			if h.Status == balance.HoldSettled && round%2 == 1 && firsts == 2 {
				want = 2
			}
			if firsts != want {
				t.Fatalf("round %d: %d ends of one hold (%+v)", round, firsts, h)
			}
			mm := account(t, s, m)
			if mm.Held != 0 || mm.Balance != testkit.Amt("9.99")-h.Charged {
				t.Fatalf("round %d: balance %v held %v, hold %+v", round, mm.Balance, mm.Held, h)
			}
			if u, want := admUsage(t, s, m)[admToday()+"|voice.call|c"], strconv.FormatInt(int64(testkit.Amt("0.01")+h.Charged), 10); u != want {
				t.Fatalf("round %d: usage charged %s, want the price and the hold's charge once, %s", round, u, want)
			}
			if n := account(t, s, m).ActiveCalls; n != 0 {
				t.Fatalf("round %d: %d slots left", round, n)
			}
		}
	})
}
