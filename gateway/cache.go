package gateway

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/dgraph-io/ristretto/v2/z"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
	"github.com/tenantgw/gateway/policy/wire"
)

// facts are what the gateway caches about an account: only what never changes (id, root,
// chain, currency) and the token hashes, which change only by rotation (and then the
// account is invalidated). Status, permissions, limits and money are never cached: the admit
// script reads them, so the cache cannot admit what the store would refuse. (own, whether
// the account keeps its own balance, is kept only as a hint to the admit of which money to
// read up front; the script decides who pays from the store.)
type facts struct {
	id       string
	root     string
	chain    []string // ancestors, parent first, root last
	keys     []string // balance.AdmitKeys(root, id, chain)
	currency string
	own      bool // keeps its own balance when read: only a hint to the admit (AdmitRequest.PathPays)
	tokens   wire.Tokens
	loaded   int64 // Unix ns when read from the store
	missing  bool  // negative entry: no such (live) account
}

// cost approximates the bytes an entry holds, for the cache's byte budget.
func (f *facts) cost() int64 {
	n := int64(200 + len(f.id) + len(f.root) + len(f.currency))
	for _, s := range f.chain {
		n += 16 + int64(len(s))
	}
	for _, s := range f.keys {
		n += 16 + int64(len(s))
	}
	return n
}

// position returns the index of id in the account's chain counted from the account itself
// (0 = the account, 1 = its parent, …), or -1.
func (f *facts) position(id string) int {
	if f.id == id {
		return 0
	}
	for i, a := range f.chain {
		if a == id {
			return i + 1
		}
	}
	return -1
}

func factsOf(a *model.Account, now time.Time) *facts {
	f := &facts{id: a.ID, root: a.Root, chain: a.Chain, keys: balance.AdmitKeys(a.Root, a.ID, a.Chain),
		currency: a.Currency, own: a.Own, loaded: now.UnixNano(), tokens: wire.TokensOf(a)}
	return f
}

// factsCache is a ristretto cache of facts bounded by a byte budget, keyed by auth_id.
type factsCache struct {
	c      *ristretto.Cache[[]byte, *facts]
	negTTL time.Duration
	gen    atomic.Uint64 // bumped by every invalidation; a load that raced one is not cached
	load   func(ctx context.Context, id string) (*model.Account, error)
	now    func() time.Time
	hits   prometheus.Counter // lookups answered here (set by New; nil = not counted)
	misses prometheus.Counter // lookups that read the store

	mu      sync.Mutex
	flights map[string]*flight // loads in progress, so concurrent misses of one id read once
}

// flight is one store read of an account that concurrent lookups of the same id share.
type flight struct {
	done    chan struct{}
	waiters atomic.Int32 // lookups that joined it
	f       *facts       // nil with err nil: unknown, deleted or closed
	err     error
}

func newFactsCache(budget int64, negTTL time.Duration, load func(context.Context, string) (*model.Account, error), now func() time.Time) (*factsCache, error) {
	items := budget / 400
	if items < 100 {
		items = 100
	}
	c, err := ristretto.NewCache(&ristretto.Config[[]byte, *facts]{
		NumCounters: items * 10,
		MaxCost:     budget,
		BufferItems: 64,
		KeyToHash:   func(k []byte) (uint64, uint64) { return z.MemHash(k), xxhash.Sum64(k) },
	})
	if err != nil {
		return nil, err
	}
	return &factsCache{c: c, negTTL: negTTL, load: load, now: now, flights: map[string]*flight{}}, nil
}

// get returns the facts of id: from the cache, else from the store (and then cached). An
// unknown, deleted or closed account gives (nil, nil) and is cached negatively for negTTL.
// With fresh set, the cache is bypassed (and refilled).
func (fc *factsCache) get(ctx context.Context, id []byte, fresh bool) (*facts, error) {
	if !fresh {
		if f, ok := fc.c.Get(id); ok && f.id == string(id) {
			if fc.hits != nil {
				fc.hits.Inc()
			}
			if f.missing {
				return nil, nil
			}
			return f, nil
		}
	}
	if fc.misses != nil {
		fc.misses.Inc()
	}
	sid := string(id)
	// Concurrent misses of one id (a cold cache after a start, a burst from a new tenant)
	// share one store read. A fresh read never joins one that may have started before the
	// change it must see.
	fc.mu.Lock()
	if fl, ok := fc.flights[sid]; ok && !fresh {
		fl.waiters.Add(1)
		fc.mu.Unlock()
		select {
		case <-fl.done:
			return fl.f, fl.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	fl := &flight{done: make(chan struct{})}
	if _, busy := fc.flights[sid]; !busy {
		fc.flights[sid] = fl
	}
	fc.mu.Unlock()
	fl.f, fl.err = fc.read(ctx, sid)
	close(fl.done)
	fc.mu.Lock()
	if fc.flights[sid] == fl {
		delete(fc.flights, sid)
	}
	fc.mu.Unlock()
	return fl.f, fl.err
}

// read loads id from the store and caches what it found.
func (fc *factsCache) read(ctx context.Context, sid string) (*facts, error) {
	gen := fc.gen.Load()
	a, err := fc.load(ctx, sid)
	now := fc.now()
	var f *facts
	switch {
	case errors.Is(err, balance.ErrNotFound):
		f = &facts{id: sid, missing: true}
	case err != nil:
		return nil, err
	case a.Status == model.StatusClosed:
		f = &facts{id: sid, missing: true}
	default:
		f = factsOf(a, now)
	}
	if fc.gen.Load() == gen {
		if f.missing {
			if fc.negTTL > 0 {
				fc.c.SetWithTTL([]byte(sid), f, f.cost(), fc.negTTL)
			}
		} else {
			fc.c.Set([]byte(sid), f, f.cost())
		}
	}
	if f.missing {
		return nil, nil
	}
	return f, nil
}

func (fc *factsCache) invalidate(id string) {
	fc.gen.Add(1)
	fc.c.Del([]byte(id))
}

func (fc *factsCache) close() { fc.c.Close() }
