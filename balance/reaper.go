package balance

import (
	"context"
	"log/slog"
	"time"
)

// Reaper resolves the call holds whose lifetime ended without a Settle or Void (API.md §8):
// on_expiry commit charges their granted seconds, release nothing; either way held is
// released and the slots freed. Every gateway instance runs one; the script checks state
// and time again, so any number at once resolve each hold once. A slot never waits for a
// reaper: an admit counts only slots whose hold has not expired.
//
// Each pass reaps the trees of the hint (holdroots: trees where a call was admitted lately)
// and, every SweepEvery passes, every tree (the main accounts' list), so that a tree the hint
// lost (an instance killed between its admit and the hint's write, or a hint dropped as a
// hold was admitted) is still reaped within SweepEvery × Interval.
type Reaper struct {
	st         *Store
	Interval   time.Duration // between passes; default 1s
	SweepEvery int           // passes between sweeps of every tree; default 60
	Batch      int           // holds expired per script call; default 200
}

// NewReaper returns a reaper of st's holds with the default pace.
func NewReaper(st *Store) *Reaper {
	return &Reaper{st: st, Interval: time.Second, SweepEvery: 60, Batch: 200}
}

// Pass reaps once: the hinted trees, or every tree when all. It answers how many holds it
// expired.
func (r *Reaper) Pass(ctx context.Context, all bool) (int, error) {
	roots, err := r.st.rdb.ZRange(ctx, holdRootsKey, 0, -1).Result()
	if err != nil {
		return 0, storeErr(err)
	}
	if all {
		mains, err := r.st.rdb.ZRange(ctx, mainsKey, 0, -1).Result()
		if err != nil {
			return 0, storeErr(err)
		}
		roots = append(roots, mains...)
	}
	total := 0
	seen := make(map[string]bool, len(roots))
	for _, root := range roots {
		if seen[root] {
			continue
		}
		seen[root] = true
		for {
			n, open, err := r.st.ReapHolds(ctx, root, r.Batch)
			if err != nil {
				return total, err
			}
			total += n
			if open == 0 {
				// nothing open: the tree leaves the hint (a call admitted meanwhile puts it
				// back, or the next sweep finds it)
				r.st.rdb.ZRem(ctx, holdRootsKey, root)
			}
			if n < r.Batch {
				break
			}
		}
	}
	return total, nil
}

// Run reaps every Interval until ctx ends, logging failures.
func (r *Reaper) Run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for pass := 0; ; pass++ {
		if _, err := r.Pass(ctx, pass%r.SweepEvery == 0); err != nil && ctx.Err() == nil {
			log.Warn("reaping expired call holds", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
