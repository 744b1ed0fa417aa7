package balance_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// onRedisAndCluster runs f on a real redis-server and on a real 3-node Redis Cluster: the
// storms below are about what one atomic script guarantees under real concurrency.
func onRedisAndCluster(t *testing.T, f func(t *testing.T, s *balance.Store)) {
	t.Run("redis", func(t *testing.T) {
		f(t, testkit.OpenStore(t, balance.Options{Redis: "redis://" + redistest.Start(t) + "/0", ReadTimeout: testReadTimeout, PoolSize: 64}))
	})
	t.Run("cluster", func(t *testing.T) { f(t, openClusterStore(t)) })
}

// stormSpec: 0.60 a minute by the second, grants of 60 s (a storm's calls never near expiry).
var stormSpec = balance.NewCallSpec(balance.CallSpec{
	Tariff: model.Tariff{Rate: 600_000, First: 1, Next: 1}, Grant: 60, Max: 60, Min: 1,
	RingTimeout: 5, Grace: 5, Commit: true, Upstream: "voice"})

// TestCallStormConcurrency: many goroutines open and end calls as fast as they can on the
// leaves of a three-level tree whose every level has a max_concurrent_calls tighter than the
// sum of its children's. A sampler reads every account's active_calls (its live slots) all
// the while: no level is ever over its cap, and each cap is reached. The tests' own count of
// calls between "admitted" and "ending" (a subset of the store's open calls at any moment)
// stays within the caps at every admit too. Every admitted call is accounted for exactly:
// its hold names its chain and billing account, and once all have ended the billing
// balance is the credit minus every price and every settled cost, with nothing held and no
// slot left.
func TestCallStormConcurrency(t *testing.T) {
	onRedisAndCluster(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		fast := testkit.Rate(1_000_000)
		m := testkit.NewAccount(t, s, nil, "1000.00", testkit.MaxCalls(6), fast)
		var leaves []*testkit.Account
		var mids []*testkit.Account
		for range 2 {
			r := testkit.NewAccount(t, s, m, "", testkit.MaxCalls(4), fast)
			mids = append(mids, r)
			for range 2 {
				leaves = append(leaves, testkit.NewAccount(t, s, r, "", testkit.MaxCalls(3), fast))
			}
		}
		all := append(append([]*testkit.Account{m}, mids...), leaves...)
		caps := map[string]int{}
		for _, a := range all {
			caps[a.ID] = a.MaxCalls
		}

		var (
			mine     sync.Map // account id → *atomic.Int64: calls between admitted and ending
			stop     atomic.Bool
			admitted atomic.Int64
			refused  atomic.Int64
			charged  atomic.Int64 // prices and settled costs, µ
			mu       sync.Mutex
			peak     = map[string]int{}
		)
		for _, a := range all {
			mine.Store(a.ID, new(atomic.Int64))
		}
		count := func(id string) *atomic.Int64 { v, _ := mine.Load(id); return v.(*atomic.Int64) }

		// the sampler: every account's live slots, as the store counts them
		sampled := make(chan int)
		go func() {
			n := 0
			for !stop.Load() {
				for _, a := range all {
					x, err := s.AccountIn(ctx, a.Root, a.ID)
					if err != nil {
						t.Error(err)
						continue
					}
					if x.ActiveCalls > caps[a.ID] {
						t.Errorf("%s: %d calls at once, max_concurrent_calls %d", a.ID, x.ActiveCalls, caps[a.ID])
					}
					mu.Lock()
					peak[a.ID] = max(peak[a.ID], x.ActiveCalls)
					mu.Unlock()
				}
				n++
			}
			sampled <- n
		}()

		var wg sync.WaitGroup
		deadline := time.Now().Add(1500 * time.Millisecond)
		for g := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 16))
				for time.Now().Before(deadline) {
					leaf := leaves[rng.IntN(len(leaves))]
					req := callReq(leaf, leaf, "0.001", stormSpec)
					var d balance.Decision
					if err := s.Admit(ctx, req, &d); err != nil {
						t.Error(err)
						return
					}
					if !d.Admitted {
						if d.Reason != balance.ReasonConcurrency {
							t.Errorf("refused for %v (%+v), want only concurrency refusals", d.Reason, d)
							return
						}
						refused.Add(1)
						continue
					}
					admitted.Add(1)
					charged.Add(int64(d.Charge))
					chain := append([]string{leaf.ID}, leaf.Chain...)
					for _, id := range chain {
						if n := count(id).Add(1); n > int64(caps[id]) {
							t.Errorf("%s: %d calls admitted and not yet ending, cap %d", id, n, caps[id])
						}
					}
					h, err := s.Hold(ctx, req.Call.HoldID)
					if err != nil || h.Status != balance.HoldOpen || h.AuthID != leaf.ID || h.BillingID != m.ID ||
						h.Granted != 60 || h.Held != testkit.Amt("0.60") {
						t.Errorf("hold of an admitted call: %+v %v", h, err)
					}
					time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
					for _, id := range chain {
						count(id).Add(-1)
					}
					op, v := balance.SettleDuration, int64(rng.IntN(90)) // past the grant now and then
					if rng.IntN(4) == 0 {
						op, v = balance.Void, 0
					}
					h, _, err = s.EndHold(ctx, req.Call.HoldID, op, v)
					if err != nil {
						t.Error(err)
						return
					}
					want := model.Amount(0)
					if op == balance.SettleDuration {
						want = stormSpec.Tariff.Cost(v)
					}
					if h.Charged != want {
						t.Errorf("%c %d charged %v, want %v", op, v, h.Charged, want)
					}
					charged.Add(int64(h.Charged))
				}
			}()
		}
		wg.Wait()
		stop.Store(true)
		samples := <-sampled

		t.Logf("%d calls admitted, %d refused for concurrency, %d samples of every account, peaks %v",
			admitted.Load(), refused.Load(), samples, peak)
		if admitted.Load() < 50 || refused.Load() == 0 || samples < 10 {
			t.Fatalf("the storm did not press against the caps: %d admitted, %d refused, %d samples",
				admitted.Load(), refused.Load(), samples)
		}
		if peak[m.ID] != caps[m.ID] {
			t.Errorf("the main account's cap %d was never reached (peak %d)", caps[m.ID], peak[m.ID])
		}
		mm := account(t, s, m)
		if mm.Balance != testkit.Amt("1000.00")-model.Amount(charged.Load()) || mm.Held != 0 {
			t.Errorf("billing account after the storm: balance %v held %v, want %v and nothing held",
				mm.Balance, mm.Held, testkit.Amt("1000.00")-model.Amount(charged.Load()))
		}
		for _, a := range all {
			if n := account(t, s, a).ActiveCalls; n != 0 {
				t.Errorf("%s: %d slots left after every call ended", a.ID, n)
			}
		}
		if holds, total, err := s.OpenHolds(ctx, m.Root, m.ID, 0, 10); err != nil || total != 0 {
			t.Errorf("open holds after every call ended: %v %d %v", holds, total, err)
		}
	})
}

// TestCallStormCPS: goroutines open calls as fast as they can on the leaves of a tree whose
// every level has a calls_per_second. Every admitted call's hold records when the admit
// script ran (the store's clock), so for every account and every window [t_i, t_j] of its
// admits the count is checked against the GCRA bound: at most cps (the burst, one second's
// worth) plus one call per emission interval T = 1 s / cps elapsed. The storm must also have
// reached the bound's rate, or it proved nothing.
func TestCallStormCPS(t *testing.T) {
	onRedisAndCluster(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		fast := testkit.Rate(1_000_000)
		m := testkit.NewAccount(t, s, nil, "1000.00", testkit.CPS(25), fast)
		r := testkit.NewAccount(t, s, m, "", testkit.CPS(15), fast)
		var leaves []*testkit.Account
		for range 3 {
			leaves = append(leaves, testkit.NewAccount(t, s, r, "", testkit.CPS(7), fast))
		}
		other := testkit.NewAccount(t, s, m, "", testkit.CPS(40), fast) // m binds it
		leaves = append(leaves, other)

		var mu sync.Mutex
		times := map[string][]int64{} // account id → the Created of its subtree's admits
		var refused atomic.Int64
		var wg sync.WaitGroup
		const run = 1200 * time.Millisecond
		deadline := time.Now().Add(run)
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 25))
				for time.Now().Before(deadline) {
					leaf := leaves[rng.IntN(len(leaves))]
					req := callReq(leaf, leaf, "0", stormSpec)
					var d balance.Decision
					if err := s.Admit(ctx, req, &d); err != nil {
						t.Error(err)
						return
					}
					if !d.Admitted {
						if d.Reason != balance.ReasonCPS || d.Reset <= 0 {
							t.Errorf("refused %+v, want only CPS refusals with a retry time", d)
							return
						}
						refused.Add(1)
						continue
					}
					h, err := s.Hold(ctx, req.Call.HoldID)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, id := range append([]string{leaf.ID}, leaf.Chain...) {
						times[id] = append(times[id], h.Created)
					}
					mu.Unlock()
					if _, _, err := s.EndHold(ctx, req.Call.HoldID, balance.Void, 0); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()

		cps := map[string]int{m.ID: m.CPS, r.ID: r.CPS, other.ID: other.CPS}
		for _, l := range leaves[:3] {
			cps[l.ID] = l.CPS
		}
		for id, ts := range times {
			slices.Sort(ts)
			T := (1_000_000 + int64(cps[id]) - 1) / int64(cps[id])
			for i := range ts {
				for j := i; j < len(ts); j++ {
					if n, bound := int64(j-i+1), int64(cps[id])+(ts[j]-ts[i])/T; n > bound {
						t.Fatalf("%s (cps %d): %d calls admitted within %d µs, GCRA allows %d", id, cps[id], n, ts[j]-ts[i], bound)
					}
				}
			}
		}
		// m's bound over the run: its burst plus its rate; the storm must come near it
		got := len(times[m.ID])
		t.Logf("admitted under m: %d (m %d/s, r %d/s, leaves %d/s, other %d/s), refused %d; r %d, other %d",
			got, m.CPS, r.CPS, leaves[0].CPS, other.CPS, refused.Load(), len(times[r.ID]), len(times[other.ID]))
		if got < m.CPS || refused.Load() == 0 {
			t.Fatalf("the storm did not press against calls_per_second: %d admitted, %d refused", got, refused.Load())
		}
	})
}
