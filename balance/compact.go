package balance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/config"
)

// UsageCutoff is the first day whose usage counters are kept when the retention is
// retention at now: the UTC day of now - retention ("YYYY-MM-DD"). Earlier days are
// compacted into their months.
func UsageCutoff(now time.Time, retention time.Duration) string {
	return now.Add(-retention).UTC().Format(time.DateOnly)
}

// CompactUsage moves the day counters of ids (accounts of the tree of root) older than
// cutoff ("YYYY-MM-DD") into month counters ("YYYY-MM|route|kind", kinds kept), one atomic
// script per CompactChunk usage hashes, and answers how many day fields it moved. The sums
// of UsageOf and SubtreeUsage over any month are what they were; refunds and settlements of
// requests admitted on a compacted day net into its month. Running it again, or on several
// instances at once, changes nothing more. A hash it cannot compact (a counter that is not
// an integer, a month sum out of range) is left exactly as it is and the others are compacted
// all the same: it then answers a *SkippedUsageError naming each such hash, once every chunk
// is done. Any other error (the store's) stops it, the chunks before done.
func (s *Store) CompactUsage(ctx context.Context, root string, ids []string, cutoff string) (int, error) {
	moved := 0
	var skipped []string
	keys := make([]string, 0, CompactChunk)
	for len(ids) > 0 {
		n := min(len(ids), CompactChunk)
		keys = keys[:0]
		for _, id := range ids[:n] {
			keys = append(keys, UsageKey(root, id))
		}
		ids = ids[n:]
		v, err := compactScript.Run(ctx, s.rdb, keys, cutoff).Slice() // EVALSHA, EVAL when not loaded
		if err != nil {
			return moved, storeErr(err)
		}
		m, rest, err := compactAnswer(v)
		if err != nil {
			return moved, err
		}
		moved += m
		skipped = append(skipped, rest...)
	}
	if len(skipped) > 0 {
		return moved, &SkippedUsageError{Hashes: skipped}
	}
	return moved, nil
}

// compactAnswer decodes compact.lua's answer {moved, key, why, ...}: the day fields moved
// and, for each hash left alone, "key: why".
func compactAnswer(v []interface{}) (int, []string, error) {
	if len(v)%2 != 1 {
		return 0, nil, fmt.Errorf("compact: unexpected answer %v", v)
	}
	moved, ok := v[0].(int64)
	if !ok {
		return 0, nil, fmt.Errorf("compact: unexpected answer %v", v)
	}
	var skipped []string
	for i := 1; i < len(v); i += 2 {
		skipped = append(skipped, fmt.Sprintf("%v: %v", v[i], v[i+1]))
	}
	return int(moved), skipped, nil
}

// SkippedUsageError names the usage hashes a compaction left as they were because they
// cannot be compacted ("key: why" each); everything else it was given it compacted. Such a
// hash needs an operator (a counter that is not an integer was not written by the gateway);
// the next day's pass tries it again.
type SkippedUsageError struct{ Hashes []string }

func (e *SkippedUsageError) Error() string {
	return fmt.Sprintf("usage compaction left %d hash(es) as they were: %s", len(e.Hashes), strings.Join(e.Hashes, "; "))
}

// Compaction defaults: a Compactor compacts CompactTrees main accounts' trees per tick, one
// tick every CompactEvery, so that a pass over every tree spreads over time. A pass is made
// once per cutoff: the cutoff is a day, so after a pass the Compactor only looks at its clock
// until the next UTC day begins (and one that starts makes the day's pass unless an
// instance has recorded it in the store).
const (
	CompactTrees = 100
	CompactEvery = 10 * time.Second
	// CompactChunk is how many usage hashes one script call compacts: one call per account
	// made a pass over 10,000 accounts 10,000 round trips (about 8 s of back-to-back calls
	// here); a chunk keeps each call short (it reads every retained day of each hash).
	CompactChunk = 16
)

// Compactor walks every account tree in turn and compacts its usage (CompactUsage) with the
// cutoff of the retention at its clock: bounded work per Step, the whole store once per
// pass, and one pass per cutoff (day fields only become older than the cutoff when it moves;
// what is written for an older day later — a refund or settlement of a request admitted on a
// compacted day, the counters a deleted account folds into its parent — waits for the next
// day's pass). Each instance of the gateway runs one; the compaction is idempotent, so they
// may overlap. It is not safe for concurrent use.
type Compactor struct {
	st        *Store
	retention time.Duration
	now       func() time.Time
	trees     int64
	next      int64  // index in mains of the next tree; trees added meanwhile are seen next pass
	passCut   string // the cutoff the pass under way began with
	doneCut   string // the cutoff of the last pass finished ("" = none yet)
}

// NewCompactor returns the Compactor of st for a retention (limits.usage_retention;
// 0 = config.DefaultUsageRetention); now is its clock (nil = time.Now).
func NewCompactor(st *Store, retention time.Duration, now func() time.Time) *Compactor {
	if now == nil {
		now = time.Now
	}
	return &Compactor{st: st, retention: config.Or(retention, config.DefaultUsageRetention), now: now, trees: CompactTrees}
}

// Step compacts the usage of the next CompactTrees main accounts' trees and answers the day
// fields it moved and whether it finished a pass (the next Step starts from the first tree).
// Between passes, while the cutoff is the one the last pass began with, it does nothing and
// answers (0, true). A pass is made once per cutoff for the whole store, not per instance: a
// finished pass records its cutoff in the store (compactedKey), and a Compactor about to
// begin a pass whose cutoff is recorded there (by any instance: a restart, or another
// instance of a fleet) skips it. Instances that begin the same pass at once both make it,
// which changes nothing more. A usage hash that cannot be compacted does not hold the pass
// up: it is left as it is, the step goes on, and then answers a *SkippedUsageError naming it
// (its other answers as if it had not been there).
func (c *Compactor) Step(ctx context.Context) (moved int, passDone bool, err error) {
	cutoff := UsageCutoff(c.now(), c.retention)
	if c.next == 0 {
		if cutoff == c.doneCut {
			return 0, true, nil
		}
		done, err := c.st.rdb.Get(ctx, compactedKey).Result()
		if err != nil && err != redis.Nil {
			return 0, false, storeErr(err)
		}
		if done >= cutoff { // dates compare as strings
			c.doneCut = cutoff
			return 0, true, nil
		}
		c.passCut = cutoff
	}
	mains, err := c.st.rdb.ZRange(ctx, mainsKey, c.next, c.next+c.trees-1).Result()
	if err != nil {
		return 0, false, storeErr(err)
	}
	var skipped []string
	for _, root := range mains {
		ids, err := c.st.Subtree(ctx, root, root)
		if err != nil {
			return moved, false, err
		}
		n, err := c.st.CompactUsage(ctx, root, ids, cutoff)
		moved += n
		var sk *SkippedUsageError
		if errors.As(err, &sk) {
			skipped = append(skipped, sk.Hashes...)
		} else if err != nil {
			return moved, false, err
		}
	}
	var skippedErr error // reported once the step's work is done
	if len(skipped) > 0 {
		skippedErr = &SkippedUsageError{Hashes: skipped}
	}
	if int64(len(mains)) < c.trees {
		// Record the pass, unless a later one is recorded already (a read and a write, not
		// atomic: at worst a later cutoff is overwritten and its pass made once more).
		done, err := c.st.rdb.Get(ctx, compactedKey).Result()
		if err != nil && err != redis.Nil {
			return moved, false, storeErr(err)
		}
		if done < c.passCut {
			if err := c.st.rdb.Set(ctx, compactedKey, c.passCut, 0).Err(); err != nil {
				return moved, false, storeErr(err)
			}
		}
		c.next, c.doneCut = 0, c.passCut
		return moved, true, skippedErr
	}
	c.next += c.trees
	return moved, false, skippedErr
}

// Run calls Step every CompactEvery until ctx ends; a failed step is logged at warn and
// retried on the next tick. A step that left usage hashes alone (a *SkippedUsageError) is
// logged at warn too, once a pass, since the pass goes on past them.
func (c *Compactor) Run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(CompactEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, _, err := c.Step(ctx); err != nil && ctx.Err() == nil {
			log.Warn("compacting usage", "err", err)
		}
	}
}
