package balance

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Admit batching. Under load many admits are in flight at once. Sending each as its own
// script call costs a round trip and, in Redis, a script run that reads and writes every
// account of the chain: on a 2-core machine that is where the time goes. The batcher instead
// lets worker goroutines each take whatever admits are queued (up to maxBatch) and
// send them as one call of the admit script per group (lua/admit.lua): on one Redis server
// (or Sentinel) the whole batch is one group; on a Redis Cluster each tree is one (a
// script's keys must share a slot) and the groups travel as one pipeline. The script reads
// each account once, decides the admits in order exactly as if each ran alone, and writes
// each account, usage counter and marker hash once.
//
// Nothing waits for a batch to fill: a lone request goes out at once, and a batch forms only
// from requests that arrived while the previous calls were in flight, so batching adds no
// latency of its own. When a call fails, every admit of its group gets the error: each is
// then "may have run" and the gateway compensates each by its request id.
//
// Every admit has a deadline: the store timeout (Options.ReadTimeout) from the moment it is
// queued. A batch is sent with the earliest deadline of its admits, and the store client
// honours it (ContextTimeoutEnabled), so a batch stuck on a stalled store ends by then; an
// admit whose deadline passed while it waited behind such a batch is answered
// ErrUnavailable without being sent (nothing was charged: MaybeRan is false). So no admit
// waits longer than the timeout, however many batches are ahead of it. A caller still
// always waits for its own answer (an admit that was sent may have been charged, so it is
// never abandoned).

const (
	lingerAfter = 8                      // a batch this big means load: linger for the next ones
	lingerKeep  = 16                     // … until this many small batches in a row
	lingerFor   = 200 * time.Microsecond // how long at most
	maxBatch    = 64
	// Workers: on one server a single one, so that the admits that arrive while a batch is
	// in flight all go in the next (bigger batches cost Redis less per admit; a second worker
	// only splits them). On a cluster a batch spans nodes, so several, lest one slow node
	// hold up the rest.
	workersServer  = 1
	workersCluster = 4
)

type admitCall struct {
	req      *AdmitRequest
	dec      *Decision
	err      error
	deadline time.Time // when its wait ends: queued + the batcher's timeout; zero = none of its own
	done     chan struct{}
}

// errQueueTimeout: the admit's deadline passed while it waited for a batch; it was never
// sent. errNotSent is the answer such an admit gets (made once: an outage makes many).
var (
	errQueueTimeout = errors.New("admit: not sent within the store timeout (the store did not answer the calls before it)")
	errNotSent      = unavailable(errQueueTimeout)
)

var admitCallPool = sync.Pool{New: func() any { return &admitCall{done: make(chan struct{}, 1)} }}

type admitBatcher struct {
	rdb           redis.UniversalClient
	in            chan *admitCall
	stop          chan struct{}
	wg            sync.WaitGroup
	timeout       time.Duration // each admit's wait, from when it is queued
	markerTTL     time.Duration
	holdRetention time.Duration       // an ended hold is kept this long (its index entry too)
	cluster       bool                // group admits by tree: a script's keys must share a slot
	script        *redis.Script       // the admit script (admitScript; tests may run another)
	sizes         prometheus.Observer // admits per script call; set by Instrument before use
	// exec sends a batch and answers every call in it: run (a benchmark replaces it to
	// measure the hand-off alone).
	exec func(batch []*admitCall, w *batchWork)
	// mu is held shared while an admit is queued and exclusively by close to set closed: once
	// close holds it, nothing more is queued, so the workers' last drain answers every call
	// and a caller can wait for its answer on c.done alone.
	mu     sync.RWMutex
	closed bool
}

func newAdmitBatcher(rdb redis.UniversalClient, timeout, markerTTL, holdRetention time.Duration) *admitBatcher {
	_, cluster := rdb.(*redis.ClusterClient)
	b := &admitBatcher{rdb: rdb, in: make(chan *admitCall, 4096), stop: make(chan struct{}),
		timeout: timeout, markerTTL: markerTTL, holdRetention: holdRetention, cluster: cluster, script: admitScript}
	b.exec = b.run
	workers := workersServer
	if cluster {
		workers = workersCluster
	}
	for i := 0; i < workers; i++ {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// admit queues one admit and waits for its answer, which comes within b.timeout. (Plain
// channel operations, not selects: on 64 callers a select on two channels cost a few per
// cent of the gateway's CPU.)
func (b *admitBatcher) admit(req *AdmitRequest, dec *Decision) error {
	c := admitCallPool.Get().(*admitCall)
	c.req, c.dec, c.err = req, dec, nil
	c.deadline = time.Now().Add(b.timeout)
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		admitCallPool.Put(c)
		return unavailable(redis.ErrClosed)
	}
	b.in <- c // the workers run until close holds mu, so a full queue drains
	b.mu.RUnlock()
	<-c.done
	err := c.err
	c.req, c.dec, c.err = nil, nil, nil
	admitCallPool.Put(c)
	return err
}

// close stops queueing, lets the workers answer what is queued (ErrUnavailable for what no
// batch took) and waits for them.
func (b *admitBatcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	b.wg.Wait()
}

func (b *admitBatcher) loop() {
	defer b.wg.Done()
	batch := make([]*admitCall, 0, maxBatch)
	w := &batchWork{ttl: b.markerTTL}
	hot := 0 // > 0: there was load lately (a big batch within the last lingerKeep)
	for {
		select {
		case <-b.stop:
			// Answer whatever is still queued, so no caller waits forever.
			for {
				select {
				case c := <-b.in:
					c.err = unavailable(redis.ErrClosed)
					c.done <- struct{}{}
				default:
					return
				}
			}
		case c := <-b.in:
			batch = append(batch[:0], c)
		}
		b.fill(&batch, hot > 0)
		if len(batch) >= lingerAfter {
			hot = lingerKeep
		} else if hot > 0 {
			hot--
		}
		b.exec(batch, w)
	}
}

// fill adds whatever is queued to batch, up to maxBatch. With linger (the load is high:
// a recent batch was big) it waits up to lingerFor for more: under load that makes the
// batches bigger, so each admit costs the store less, for a wait that is small next to the
// time requests spend queued anyway. Under light load nothing waits (once a burst is over, at
// most the next lingerKeep batches do, each by lingerFor at most).
func (b *admitBatcher) fill(batch *[]*admitCall, linger bool) {
	var timer <-chan time.Time
	if linger {
		timer = time.After(lingerFor)
	}
	for len(*batch) < maxBatch {
		select {
		case c := <-b.in:
			*batch = append(*batch, c)
			continue
		default:
		}
		if timer == nil {
			return
		}
		select {
		case c := <-b.in:
			*batch = append(*batch, c)
		case <-timer:
			return
		}
	}
}

// batchWork is what one worker reuses from batch to batch.
type batchWork struct {
	ttl    time.Duration // the refund markers' lifetime
	groups []*admitGroup
	byTag  map[string]*admitGroup
	cmds   []*redis.Cmd
}

// group returns the group for c: one per tree on a Redis Cluster (a script's keys must share
// a slot), a single one otherwise.
func (w *batchWork) group(c *admitCall, cluster bool) *admitGroup {
	tag := ""
	if cluster {
		tag = hashTag(c.req.Keys[0])
	}
	if g := w.byTag[tag]; g != nil {
		return g
	}
	if w.byTag == nil {
		w.byTag = make(map[string]*admitGroup)
	}
	n := len(w.byTag)
	if n == len(w.groups) {
		w.groups = append(w.groups, &admitGroup{ttl: w.ttl})
	}
	g := w.groups[n]
	g.markers, g.tombs = markerHashPrefix(cluster, tag), tombsKey(cluster, tag)
	w.byTag[tag] = g
	return g
}

// run sends one batch, one script call per group, pipelined, with the earliest deadline of
// its calls, and answers every call in it; a call whose deadline has passed is answered
// without being sent.
func (b *admitBatcher) run(batch []*admitCall, w *batchWork) {
	now := time.Now()
	deadline := now.Add(b.timeout)
	for _, c := range batch {
		if !c.deadline.IsZero() && !now.Before(c.deadline) {
			c.err = errNotSent
			c.done <- struct{}{}
			continue
		}
		if !c.deadline.IsZero() && c.deadline.Before(deadline) {
			deadline = c.deadline
		}
		w.group(c, b.cluster).add(c)
	}
	if len(w.byTag) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	groups := w.groups[:len(w.byTag)]
	calls := false // a call opens a hold: its index entry travels with the batch
	for _, c := range batch {
		calls = calls || c.req.Call != nil && c.err == nil
	}
	if b.sizes != nil {
		for _, g := range groups {
			b.sizes.Observe(float64(len(g.calls)))
		}
	}
	if len(groups) == 1 && !calls {
		g := groups[0]
		v, err := b.rdb.EvalSha(ctx, b.script.Hash(), g.keys, g.args()...).Result()
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			// The script is not loaded yet (first use, or Redis restarted): EVAL it once.
			v, err = b.script.Eval(ctx, b.rdb, g.keys, g.argv...).Result()
		}
		g.answer(v, err)
	} else {
		pipe := b.rdb.Pipeline()
		cmds := w.cmds[:0]
		for _, g := range groups {
			cmds = append(cmds, pipe.EvalSha(ctx, b.script.Hash(), g.keys, g.args()...))
		}
		if calls { // in the same round trip: done before any caller forwards a hold id
			noteHolds(ctx, pipe, batch, b.holdRetention)
		}
		_, _ = pipe.Exec(ctx) // errors are per command
		for i, g := range groups {
			v, err := cmds[i].Result()
			if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
				v, err = b.script.Eval(ctx, b.rdb, g.keys, g.argv...).Result()
			}
			g.answer(v, err)
			cmds[i] = nil
		}
		w.cmds = cmds[:0]
	}
	for _, g := range groups {
		for _, c := range g.calls {
			c.done <- struct{}{}
		}
		g.reset()
	}
	clear(w.byTag)
}

// noteHolds queues, for every call of batch not answered yet, its hold's index entry (the
// hold id → the tree, written before the admit so that it exists once the hold does; an
// admit refused leaves an entry that expires) and its tree in the reapers' hint.
func noteHolds(ctx context.Context, pipe redis.Pipeliner, batch []*admitCall, retention time.Duration) {
	now := float64(time.Now().UnixMicro())
	for _, c := range batch {
		if c.req.Call == nil || c.err != nil {
			continue
		}
		root := hashTag(c.req.Keys[0])
		pipe.Set(ctx, holdIndexKey(c.req.Call.HoldID), root, c.req.Call.Spec.lifetime()+retention)
		pipe.ZAdd(ctx, holdRootsKey, redis.Z{Score: now, Member: root})
	}
}

// hashTag is the {…} part of a key ("" when it has none).
func hashTag(k string) string {
	if i := strings.IndexByte(k, '{'); i >= 0 {
		if j := strings.IndexByte(k[i+1:], '}'); j > 0 {
			return k[i+1 : i+1+j]
		}
	}
	return ""
}
