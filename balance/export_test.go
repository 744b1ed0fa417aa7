package balance

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// AdmitBatch runs reqs as one batch exactly as the batcher sends it (one script call per
// group, pipelined), for tests that compare a batch with the same admits one by one.
func AdmitBatch(s *Store, reqs []*AdmitRequest, decs []Decision) []error {
	b := &admitBatcher{rdb: s.rdb, timeout: 10 * time.Second, markerTTL: s.markerTTL}
	_, b.cluster = s.rdb.(*redis.ClusterClient)
	calls := make([]*admitCall, len(reqs))
	for i := range reqs {
		calls[i] = &admitCall{req: reqs[i], dec: &decs[i], done: make(chan struct{}, 1)}
	}
	b.run(calls, &batchWork{ttl: s.markerTTL})
	errs := make([]error, len(reqs))
	for i, c := range calls {
		<-c.done
		errs[i] = c.err
	}
	return errs
}

// AdmitAlone runs one admit in its own script call, never batched.
func AdmitAlone(ctx context.Context, s *Store, req *AdmitRequest, dec *Decision) error {
	return admitOne(ctx, s.rdb, s.markerTTL, req, dec)
}
