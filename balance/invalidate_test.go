package balance_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
)

// recv collects what a subscription's callback receives.
type recv struct{ ch chan string }

func newRecv() *recv         { return &recv{ch: make(chan string, 64)} }
func (r *recv) fn(id string) { r.ch <- id }
func (r *recv) next(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case id := <-r.ch:
		return id
	case <-time.After(within):
		t.Fatalf("no invalidation within %v", within)
		return ""
	}
}

// expect waits for id, skipping AllAccounts resets.
func (r *recv) expect(t *testing.T, id string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := r.next(t, time.Until(deadline))
		if got == id {
			return
		}
		if got != balance.AllAccounts {
			t.Fatalf("got %q, want %q", got, id)
		}
	}
}

// TestInvalidationStandalone: a message reaches every subscriber (the publisher's own
// included); a dropped subscription comes back by itself and then reports AllAccounts,
// since what was published meanwhile is lost.
func TestInvalidationStandalone(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	open := func() *balance.Store {
		s, err := balance.Open(ctx, balance.Options{Redis: "redis://" + addr + "/0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	ra, rb := newRecv(), newRecv()
	sa := a.SubscribeInvalidations(ctx, ra.fn)
	sb := b.SubscribeInvalidations(ctx, rb.fn)
	t.Cleanup(func() { sa.Close(); sb.Close() })
	waitReady(t, sa)
	waitReady(t, sb)
	if got := ra.next(t, time.Second); got != balance.AllAccounts {
		t.Fatalf("first callback %q, want AllAccounts", got)
	}
	if err := a.PublishInvalidation(ctx, "SA_ONE"); err != nil {
		t.Fatal(err)
	}
	ra.expect(t, "SA_ONE", time.Second)
	rb.expect(t, "SA_ONE", time.Second)

	// Drop every pub/sub connection on the server: b's subscription must come back.
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { admin.Close() })
	if err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sb.Subscribes() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("subscription not re-established (subscribes %d)", sb.Subscribes())
		}
		time.Sleep(10 * time.Millisecond)
	}
	rb.expect(t, balance.AllAccounts, time.Second)
	if err := a.PublishInvalidation(ctx, "SA_TWO"); err != nil {
		t.Fatal(err)
	}
	rb.expect(t, "SA_TWO", time.Second)

	// Closing stops it for good.
	sb.Close()
	if sb.Connected() {
		t.Fatal("connected after Close")
	}
}

// TestInvalidationEmbedded: the embedded store serves one process; publishing is a no-op
// and a subscription is ready at once.
func TestInvalidationEmbedded(t *testing.T) {
	s, err := balance.Open(context.Background(), balance.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sub := s.SubscribeInvalidations(context.Background(), func(string) { t.Error("callback on the embedded store") })
	waitReady(t, sub)
	if err := s.PublishInvalidation(context.Background(), "SA_X"); err != nil {
		t.Fatal(err)
	}
	sub.Close()
}

// TestInvalidationSentinel: through Sentinel the subscription sits on the primary; when the
// primary dies it follows the failover to the new primary by itself, reports AllAccounts,
// and hears what is published there.
func TestInvalidationSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis with Sentinels")
	}
	master, primary, _, sentinels, kill := redistest.StartSentinel(t)
	ctx := context.Background()
	s, err := balance.Open(ctx, balance.Options{SentinelMaster: master, SentinelAddrs: sentinels})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := newRecv()
	sub := s.SubscribeInvalidations(ctx, r.fn)
	t.Cleanup(func() { sub.Close() })
	waitReady(t, sub)
	if err := s.PublishInvalidation(ctx, "SA_BEFORE"); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "SA_BEFORE", time.Second)

	kill(primary)
	// Publish until the new primary takes it (Sentinel: down-after 1s, then the election).
	deadline := time.Now().Add(30 * time.Second)
	for s.PublishInvalidation(ctx, "SA_AFTER") != nil || sub.Subscribes() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no failover within 30s (subscribes %d)", sub.Subscribes())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The subscription was re-established (AllAccounts), and a message published on the new
	// primary arrives. SA_AFTER may have been published before the re-subscription: publish
	// once more.
	if err := s.PublishInvalidation(ctx, "SA_LAST"); err != nil {
		t.Fatal(err)
	}
	for {
		got := r.next(t, 2*time.Second)
		if got == "SA_LAST" {
			break
		}
		if got != balance.AllAccounts && got != "SA_AFTER" {
			t.Fatalf("unexpected %q", got)
		}
	}
}
