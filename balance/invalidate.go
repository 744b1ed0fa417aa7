package balance

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache invalidation across gateway instances.
//
// Every gateway instance caches facts about accounts (token hashes, chain). When one instance
// changes an account through its management API (rotation, close, delete, status change) it
// drops its own entry and publishes the account's id on invalidationChannel; every instance
// subscribes and drops the entry too.
//
// Transport. Plain PUBLISH/SUBSCRIBE on one channel, with every kind of store:
//   - standalone Redis: as is;
//   - Redis Cluster: a PUBLISH on any node is broadcast to every node over the cluster bus,
//     so a subscriber may sit on any node (go-redis picks the master of the channel's slot)
//     and still hears every instance. Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7) would
//     spare the bus that broadcast, but invalidations are rare (they follow management
//     calls, not proxied requests), and PUBLISH also works on Redis 6 clusters and keeps
//     working while a slot migrates;
//   - Sentinel: the subscriber connects to the current primary; a PUBLISH is also
//     propagated to replicas, and after a failover the subscription reconnects to the new
//     primary.
//
// Delivery is at most once: a message published while a subscriber is disconnected is lost.
// So every time a subscription is (re)established — the first time included — the callback
// is called with AllAccounts, which means "anything may have changed: drop everything".
// A subscription that has been silent for pingEvery is probed with PING; one that does not
// answer within another pingEvery is replaced, so a dead connection is noticed within about
// a second.
//
// None of this is needed for safety: the admit script re-reads status and the token hash in
// the store on every request, so a stale cache never admits what the store would refuse.
// Invalidation only bounds how long a stale cache can refuse what it should admit (a new
// token after a rotation) or serve stale immutable-by-contract facts.

// invalidationChannel is the Redis pub/sub channel of account invalidations; a message is
// one auth_id.
const invalidationChannel = "gw:invalidate"

// AllAccounts is what SubscribeInvalidations' callback receives when every cached account
// must be dropped: when a subscription is (re)established, since messages published while
// it was down are lost.
const AllAccounts = ""

const (
	pingEvery      = 500 * time.Millisecond // silence after which a subscription is probed
	publishTimeout = time.Second
	backoffMin     = 50 * time.Millisecond
	backoffMax     = time.Second
)

// PublishInvalidation tells every gateway instance subscribed to this store to drop what it
// caches about the account id. It is a no-op for the embedded store (one process, whose own
// cache the caller invalidates directly). The error is ErrUnavailable when the store cannot
// be reached; the caller may ignore it (instances re-check within their refresh bound).
func (s *Store) PublishInvalidation(ctx context.Context, id string) error {
	if s.emb != nil || id == AllAccounts {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	return storeErr(s.rdb.Publish(ctx, invalidationChannel, id).Err())
}

// Subscription is a running invalidation subscription. Close it to stop.
type Subscription struct {
	cancel context.CancelFunc
	done   chan struct{}
	ready  chan struct{} // closed once the first subscription is confirmed

	mu        sync.Mutex
	resubs    int // how many times the subscription was (re)established
	connected bool
}

// SubscribeInvalidations calls fn with every account id published by PublishInvalidation on
// this store, from any instance (this one included), until ctx ends or the Subscription is
// closed. fn(AllAccounts) means "drop everything"; it is called each time the subscription
// is established (the first time and after every reconnect). fn runs on one goroutine, one
// call at a time, and must not block for long.
//
// It never fails: it returns at once and keeps (re)connecting in the background with a
// bounded backoff, so a gateway can start while the store is down. For the embedded store it
// does nothing and is ready at once.
func (s *Store) SubscribeInvalidations(ctx context.Context, fn func(id string)) *Subscription {
	ctx, cancel := context.WithCancel(ctx)
	sub := &Subscription{cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	if s.emb != nil {
		close(sub.ready)
		close(sub.done)
		return sub
	}
	go sub.run(ctx, s.rdb, fn)
	return sub
}

// Ready is closed once the subscription has been confirmed by the store for the first time
// (tests wait on it before publishing).
func (sub *Subscription) Ready() <-chan struct{} { return sub.ready }

// Close stops the subscription and waits for its goroutine to end.
func (sub *Subscription) Close() error {
	sub.cancel()
	<-sub.done
	return nil
}

func (sub *Subscription) setConnected(c bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if c && !sub.connected {
		sub.resubs++
	}
	sub.connected = c
}

func (sub *Subscription) run(ctx context.Context, rdb redis.UniversalClient, fn func(string)) {
	defer close(sub.done)
	readyOnce := sync.OnceFunc(func() { close(sub.ready) })
	backoff := backoffMin
	for ctx.Err() == nil {
		ok := sub.session(ctx, rdb, fn, readyOnce)
		sub.setConnected(false)
		if ctx.Err() != nil {
			return
		}
		if ok {
			backoff = backoffMin // it had worked: retry soon
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// session runs one PubSub until it fails; ok reports whether it was ever confirmed.
//
// go-redis's PubSub reconnects and re-subscribes by itself after a network error; each
// re-subscription shows up here as a new *redis.Subscription confirmation, which is why
// every confirmation (not just the first) drops everything.
func (sub *Subscription) session(ctx context.Context, rdb redis.UniversalClient, fn func(string), ready func()) (ok bool) {
	ps := rdb.Subscribe(ctx, invalidationChannel)
	defer ps.Close()
	stop := context.AfterFunc(ctx, func() { ps.Close() }) // unblocks a Receive at once
	defer stop()
	pinged := false // a PING is outstanding: silence now means the connection is dead
	failures := 0
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		if ctx.Err() != nil {
			return ok
		}
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				if pinged {
					return ok // not even a PONG: the connection is dead, replace it
				}
				if ps.Ping(ctx) == nil {
					pinged = true
					continue
				}
			}
			// A dead or refused connection. The next Receive reconnects (and re-subscribes);
			// give up on this PubSub after a few failures in a row and back off.
			sub.setConnected(false)
			failures++
			if failures >= 3 {
				return ok
			}
			continue
		}
		failures = 0
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == invalidationChannel {
				ok = true
				sub.setConnected(true)
				fn(AllAccounts)
				ready()
			}
		case *redis.Message:
			if m.Channel == invalidationChannel && m.Payload != AllAccounts {
				fn(m.Payload)
			}
		case *redis.Pong:
			// the connection is alive
		}
	}
}
