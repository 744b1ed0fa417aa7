package balance

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Admit batching. Under load many admits are in flight at once; sending each as its own
// EVALSHA costs a write and a read system call on both sides per request, which is where a
// 2-core machine spends its time. The batcher instead lets a few worker goroutines each take
// whatever admits are queued (up to maxBatch) and send them as one pipeline: one round trip
// for the lot. Nothing waits for a batch to fill: a lone request goes out at once, and a
// batch forms only from requests that arrived while the previous round trip was in flight,
// so batching adds no latency of its own.
//
// Every admit of a batch is still its own atomic script call: batching changes how they
// travel, never what they decide. A caller always waits for its own answer (an admit that
// was sent may have been charged, so it is never abandoned); the store's read and write
// timeouts bound that wait.

const (
	maxBatch     = 64
	batchWorkers = 4
)

type admitCall struct {
	req  *AdmitRequest
	dec  *Decision
	err  error
	done chan struct{}
}

var admitCallPool = sync.Pool{New: func() any { return &admitCall{done: make(chan struct{}, 1)} }}

type admitBatcher struct {
	rdb     redis.UniversalClient
	in      chan *admitCall
	stop    chan struct{}
	exited  chan struct{} // closed once every worker has returned
	wg      sync.WaitGroup
	timeout time.Duration
}

func newAdmitBatcher(rdb redis.UniversalClient, timeout time.Duration) *admitBatcher {
	b := &admitBatcher{rdb: rdb, in: make(chan *admitCall, 4096), stop: make(chan struct{}), exited: make(chan struct{}), timeout: timeout}
	for i := 0; i < batchWorkers; i++ {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// admit queues one admit and waits for its answer.
func (b *admitBatcher) admit(req *AdmitRequest, dec *Decision) error {
	c := admitCallPool.Get().(*admitCall)
	c.req, c.dec, c.err = req, dec, nil
	select {
	case b.in <- c:
	case <-b.stop:
		admitCallPool.Put(c)
		return unavailable(redis.ErrClosed)
	}
	select {
	case <-c.done:
	case <-b.exited:
		select {
		case <-c.done: // answered just before the workers left
		default:
			// Queued after the last worker drained the queue: it never ran. c stays out of
			// the pool (the queue may still hold it).
			return unavailable(redis.ErrClosed)
		}
	}
	err := c.err
	c.req, c.dec, c.err = nil, nil, nil
	admitCallPool.Put(c)
	return err
}

func (b *admitBatcher) close() {
	close(b.stop)
	b.wg.Wait()
	close(b.exited)
}

func (b *admitBatcher) loop() {
	defer b.wg.Done()
	batch := make([]*admitCall, 0, maxBatch)
	cmds := make([]*redis.Cmd, 0, maxBatch)
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
	fill:
		for len(batch) < maxBatch {
			select {
			case c := <-b.in:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		b.run(batch, cmds[:0])
	}
}

// run sends one batch as a pipeline and answers every call in it.
func (b *admitBatcher) run(batch []*admitCall, cmds []*redis.Cmd) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	if len(batch) == 1 {
		c := batch[0]
		c.err = admitOne(ctx, b.rdb, c.req, c.dec)
		c.done <- struct{}{}
		return
	}
	pipe := b.rdb.Pipeline()
	for _, c := range batch {
		cmds = append(cmds, pipe.EvalSha(ctx, admitScript.Hash(), c.req.Keys, admitArgs(c.req)...))
	}
	_, _ = pipe.Exec(ctx) // errors are per command
	for i, c := range batch {
		err := cmds[i].Err()
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			// The script is not loaded yet (first use, or Redis restarted): EVAL it once.
			c.err = admitOne(ctx, b.rdb, c.req, c.dec)
		} else if err != nil {
			c.err = admitErr(err)
		} else {
			c.err = decodeDecision(cmds[i].Val(), c.req.Price, c.dec)
		}
		c.done <- struct{}{}
	}
}
