package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// clusterFixtures starts one real three-master Redis Cluster and n gateways on it, each with
// its own store client, its own recording upstreams and, with subscribe, its own
// invalidation subscription — n instances of the gateway, in one process.
func clusterFixtures(t *testing.T, n int, subscribe bool, edit func(o *Options)) []*fixture {
	t.Helper()
	nodes := redistest.StartCluster(t)
	out := make([]*fixture, n)
	for i := range out {
		s, err := balance.Open(context.Background(), balance.Options{Cluster: nodes, PoolSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f := newFixtureOn(t, s, edit)
		gw := f.gw
		if subscribe {
			sub := s.SubscribeInvalidations(context.Background(), gw.ApplyInvalidation)
			t.Cleanup(func() { sub.Close() }) // runs before the gateway's Close (LIFO)
			select {
			case <-sub.Ready():
			case <-time.After(10 * time.Second):
				t.Fatal("invalidation subscription not ready within 10s")
			}
		}
		out[i] = f
	}
	return out
}

// TestProxyOnCluster: the proxy on a store that is a real Redis Cluster — admitted, refused
// and refunded requests, for trees whose slots sit on different masters.
func TestProxyOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	f := clusterFixtures(t, 1, false, nil)[0]
	for i := range 6 { // six trees: their roots' slots fall on more than one master
		m := f.mk(nil, "1.00")
		r := f.mk(m, "", testkit.Rate(50))
		c := f.mk(r, "", testkit.Rate(3))

		a := f.do(call{path: callPath(c), as: r, body: `{"to":"+15550100"}`})
		if a.Status != 200 || a.Header["X-Charge"] != "0.01" || a.Header["Ratelimit-Policy"] != `"acct";q=3;w=1` {
			t.Fatalf("tree %d: admitted: %d %v %s", i, a.Status, a.Header, a.Body)
		}
		got := f.voice.requests()
		u := got[len(got)-1]
		if u.get("X-Account-ID") != c.ID || u.get("X-Caller-ID") != r.ID || u.get("X-Billing-Account-ID") != m.ID || u.get("X-Auth-Token") != "" {
			t.Fatalf("tree %d: upstream headers %v", i, u.header)
		}
		if f.bal(m) != testkit.Amt("0.99") {
			t.Fatalf("tree %d: balance %v", i, f.bal(m))
		}

		// refused: wrong token, foreign path, rate limit, suspension — nothing charged
		if a := f.do(call{path: callPath(c), as: c, tok: policy.NewToken()}); a.Status != 401 {
			t.Fatalf("tree %d: wrong token: %d %s", i, a.Status, a.Body)
		}
		if a := f.do(call{path: callPath(r), as: c}); a.Status != 403 || a.Err.Error.Code != "FORBIDDEN" {
			t.Fatalf("tree %d: parent's path: %d %s", i, a.Status, a.Body)
		}
		limited := false
		for range 4 {
			a := f.do(call{path: smsPath(c), as: c})
			if a.Status == 429 {
				limited = a.Err.Error.Code == "RATE_LIMITED" && a.Header["Retry-After"] != ""
				break
			}
		}
		if !limited {
			t.Fatalf("tree %d: rate limit 3 never refused", i)
		}
		if err := f.store.UpdateAccount(context.Background(), r.Account, balance.Change{Status: model.StatusSuspended}); err != nil {
			t.Fatal(err)
		}
		before := f.bal(m)
		if a := f.do(call{path: smsPath(r), as: r}); a.Status != 403 || a.Err.Error.Code != "ACCOUNT_SUSPENDED" {
			t.Fatalf("tree %d: suspended: %d %s", i, a.Status, a.Body)
		}
		if f.bal(m) != before {
			t.Fatalf("tree %d: a refusal charged", i)
		}

		// refunded: the upstream fails, the charge comes back exactly once
		f.voice.status.Store(503)
		a = f.do(call{path: callPath(m), as: m})
		f.voice.status.Store(200)
		if a.Status != 503 || a.Header["X-Charge"] != "0.00" || f.bal(m) != before {
			t.Fatalf("tree %d: refund: %d %v, balance %v want %v", i, a.Status, a.Header, f.bal(m), before)
		}
	}
	// insufficient balance
	m := f.mk(nil, "0.005")
	if a := f.do(call{path: callPath(m), as: m}); a.Status != 402 || a.Err.Error.Code != "INSUFFICIENT_BALANCE" {
		t.Fatalf("insufficient: %d %s", a.Status, a.Body)
	}
}

// TestConcurrentSpendAcrossGateways: two gateways on one cluster, a balance that covers
// exactly n requests: exactly n are admitted in all, the balance ends at its floor.
func TestConcurrentSpendAcrossGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	fs := clusterFixtures(t, 2, false, nil)
	const n = 23
	m := fs[0].mk(nil, "0.23")
	c := fs[0].mk(m, "")
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for w := range 16 {
		f := fs[w%2]
		wg.Go(func() {
			for range 4 {
				a := f.do(call{path: callPath(c), as: c})
				switch {
				case a.Status == 200:
					mu.Lock()
					ok++
					mu.Unlock()
				case a.Status != 402:
					t.Errorf("answer %d %s", a.Status, a.Body)
				}
			}
		})
	}
	wg.Wait()
	if ok != n || fs[1].bal(m) != 0 {
		t.Fatalf("admitted %d (want %d), balance %v (want 0)", ok, n, fs[1].bal(m))
	}
}

// TestInvalidationAcrossGateways: what one instance changes, another honours — at once for
// anything that would admit what must be refused (the admit script re-checks), and within
// a second for the rest (pub/sub, or RefreshAfter when pub/sub is down).
func TestInvalidationAcrossGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	ctx := context.Background()
	// RefreshAfter is long: only pub/sub can make B honour a new token quickly.
	fs := clusterFixtures(t, 2, true, func(o *Options) { o.RefreshAfter = time.Hour })
	a, b := fs[0], fs[1]
	// change is what instance A's management API does: store, own cache, publish.
	change := func(id string, apply func() error) {
		t.Helper()
		if err := apply(); err != nil {
			t.Fatal(err)
		}
		a.gw.Invalidate(id)
		if err := a.store.PublishInvalidation(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	m := a.mk(nil, "10.00")
	c := a.mk(m, "")
	warm := func() {
		t.Helper()
		for _, f := range fs {
			if r := f.do(call{path: callPath(c), as: c}); r.Status != 200 {
				t.Fatalf("warm-up on %s: %d %s", f.addr, r.Status, r.Body)
			}
		}
	}
	warm()

	t.Run("rotation with grace: the new token works on B within a second", func(t *testing.T) {
		newTok := policy.NewToken()
		change(c.ID, func() error {
			_, err := a.store.RotateToken(ctx, c.Account, policy.HashToken([]byte(newTok)).Hex(), time.Hour)
			return err
		})
		waitFor(t, time.Second, func() bool { return b.do(call{path: callPath(c), as: c, tok: newTok}).Status == 200 })
		if r := b.do(call{path: callPath(c), as: c}); r.Status != 200 {
			t.Fatalf("old token within grace: %d %s", r.Status, r.Body)
		}
		c.Token = newTok
	})

	t.Run("rotation with grace 0: the old token is refused by B on the next request", func(t *testing.T) {
		warm()
		old := c.Token
		newTok := policy.NewToken()
		// No publish: even a B that never hears of it must refuse at once.
		if _, err := a.store.RotateToken(ctx, c.Account, policy.HashToken([]byte(newTok)).Hex(), 0); err != nil {
			t.Fatal(err)
		}
		before := a.bal(m)
		if r := b.do(call{path: callPath(c), as: c, tok: old}); r.Status != 401 || r.Err.Error.Code != "INVALID_CREDENTIALS" {
			t.Fatalf("revoked token on B: %d %s", r.Status, r.Body)
		}
		if a.bal(m) != before {
			t.Fatal("a refused request was charged")
		}
		a.gw.Invalidate(c.ID)
		if err := a.store.PublishInvalidation(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		c.Token = newTok
		waitFor(t, time.Second, func() bool { return b.do(call{path: callPath(c), as: c}).Status == 200 })
	})

	t.Run("suspension: refused by B on the next request", func(t *testing.T) {
		warm()
		if err := a.store.UpdateAccount(ctx, c.Account, balance.Change{Status: model.StatusSuspended}); err != nil {
			t.Fatal(err)
		}
		if r := b.do(call{path: callPath(c), as: c}); r.Status != 403 || r.Err.Error.Code != "ACCOUNT_SUSPENDED" {
			t.Fatalf("suspended on B: %d %s", r.Status, r.Body)
		}
		if err := a.store.UpdateAccount(ctx, c.Account, balance.Change{Status: model.StatusActive}); err != nil {
			t.Fatal(err)
		}
		if r := b.do(call{path: callPath(c), as: c}); r.Status != 200 {
			t.Fatalf("reactivated on B: %d %s", r.Status, r.Body)
		}
	})

	t.Run("close and delete: refused by B on the next request", func(t *testing.T) {
		d := a.mk(m, "")
		e := a.mk(m, "")
		for _, f := range fs {
			for _, x := range []*testkit.Account{d, e} {
				if r := f.do(call{path: callPath(x), as: x}); r.Status != 200 {
					t.Fatalf("warm-up: %d", r.Status)
				}
			}
		}
		// Neither is published: the admit script alone refuses.
		if err := a.store.UpdateAccount(ctx, d.Account, balance.Change{Status: model.StatusClosed, CloseTrID: policy.NewTransferID(), Retention: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.DeleteAccount(ctx, m.Account, e.Account, false, policy.NewTransferID()); err != nil {
			t.Fatal(err)
		}
		before := a.bal(m)
		for _, x := range []*testkit.Account{d, e} {
			if r := b.do(call{path: callPath(x), as: x}); r.Status != 401 {
				t.Fatalf("%s on B: %d %s", x.ID, r.Status, r.Body)
			}
			// the parent acting on the gone child: forbidden, nothing charged
			if r := b.do(call{path: callPath(x), as: m}); r.Status != 403 {
				t.Fatalf("parent on %s on B: %d %s", x.ID, r.Status, r.Body)
			}
		}
		if a.bal(m) != before {
			t.Fatal("a refused request was charged")
		}
	})
}

// TestRefreshWithoutPubSub: with no subscription at all, a new token is honoured by the
// other instance once its cached entry is older than RefreshAfter.
func TestRefreshWithoutPubSub(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	ctx := context.Background()
	const refresh = 300 * time.Millisecond
	fs := clusterFixtures(t, 2, false, func(o *Options) { o.RefreshAfter = refresh })
	a, b := fs[0], fs[1]
	m := a.mk(nil, "1.00")
	if r := b.do(call{path: callPath(m), as: m}); r.Status != 200 {
		t.Fatalf("warm-up: %d", r.Status)
	}
	newTok := policy.NewToken()
	if _, err := a.store.RotateToken(ctx, m.Account, policy.HashToken([]byte(newTok)).Hex(), time.Hour); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, refresh+time.Second, func() bool { return b.do(call{path: callPath(m), as: m, tok: newTok}).Status == 200 })
	t.Logf("new token honoured after %v without pub/sub (RefreshAfter %v)", time.Since(start).Round(time.Millisecond), refresh)
}

// waitFor polls cond until it holds or within has passed (then the test fails).
func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
