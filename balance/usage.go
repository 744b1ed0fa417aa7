package balance

import (
	"context"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/policy/model"
)

// Usage is what one account (or a subtree, summed) used of one route on one day (UTC), or,
// once that day is older than the usage retention (see CompactUsage), in one month.
// The admit script counts it; refunds net it out; settlement adjusts Charged.
type Usage struct {
	Date    string // YYYY-MM-DD, or YYYY-MM for a month's compacted days
	Route   string
	Count   int64
	Charged model.Amount
}

// Subtree returns id and every descendant of id that is still listed (breadth-first), with
// one pipelined round trip per level of the tree.
func (s *Store) Subtree(ctx context.Context, root, id string) ([]string, error) {
	out := []string{id}
	for level := out; len(level) > 0; {
		cmds := make([]*redis.StringSliceCmd, len(level))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, a := range level {
				cmds[i] = p.ZRevRange(ctx, kidsKey(root, a), 0, -1)
			}
			return nil
		}); err != nil {
			return nil, storeErr(err)
		}
		start := len(out)
		for _, c := range cmds {
			out = append(out, c.Val()...)
		}
		level = out[start:]
	}
	return out, nil
}

// SubtreeUsage sums the usage of id and of every account below it per day and route, as
// UsageOf, and adds what was folded into them from accounts deleted since (see the delete
// script): deleting an account never changes the SubtreeUsage of an account above it, so
// it accounts for every charge made in the subtree, deleted accounts included.
func (s *Store) SubtreeUsage(ctx context.Context, root, id, startDay, endDay string) ([]Usage, error) {
	ids, err := s.Subtree(ctx, root, id)
	if err != nil {
		return nil, err
	}
	return s.usageOf(ctx, root, ids, startDay, endDay, true)
}

// UsageOf sums the own usage counters of ids (one tree) per day and route, for days in
// [startDay, endDay] (inclusive, "YYYY-MM-DD"; "" = unbounded) and months (compacted days)
// that overlap it, ordered by date (a month before its days) then route:
// what was used on those accounts' own paths. What the delete of a descendant folded into
// them is left out (SubtreeUsage counts it).
func (s *Store) UsageOf(ctx context.Context, root string, ids []string, startDay, endDay string) ([]Usage, error) {
	return s.usageOf(ctx, root, ids, startDay, endDay, false)
}

// usageOf is UsageOf, with the folded counters of deleted descendants too when folded.
func (s *Store) usageOf(ctx context.Context, root string, ids []string, startDay, endDay string, folded bool) ([]Usage, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = UsageKey(root, id)
	}
	maps, err := s.hashes(ctx, keys)
	if err != nil {
		return nil, err
	}
	type key struct{ day, route string }
	sum := map[key]*Usage{}
	for _, m := range maps {
		for f, v := range m {
			// field: day|route|kind, kind n (count), c (charged), s (settlements), or the
			// same folded from deleted descendants: dn, dc, ds. Route names never hold '|'.
			first := strings.IndexByte(f, '|')
			last := strings.LastIndexByte(f, '|')
			if first < 0 || last <= first {
				continue
			}
			day, route, kind := f[:first], f[first+1:last], f[last+1:]
			if folded && len(kind) == 2 && kind[0] == 'd' {
				kind = kind[1:]
			}
			if (kind != "n" && kind != "c") || !inRange(day, startDay, endDay) {
				continue
			}
			u := sum[key{day, route}]
			if u == nil {
				u = &Usage{Date: day, Route: route}
				sum[key{day, route}] = u
			}
			switch kind {
			case "n":
				u.Count += atoi(v)
			case "c":
				u.Charged += model.Amount(atoi(v))
			}
		}
	}
	out := make([]Usage, 0, len(sum))
	for _, u := range sum {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Date != out[j].Date {
			return out[i].Date < out[j].Date
		}
		return out[i].Route < out[j].Route
	})
	return out, nil
}

// inRange reports whether date, a day "YYYY-MM-DD" or a month "YYYY-MM", is in or overlaps
// [startDay, endDay] (inclusive; "" = unbounded).
func inRange(date, startDay, endDay string) bool {
	if len(date) == len("2006-01") {
		return (startDay == "" || date >= startDay[:min(len(startDay), 7)]) &&
			(endDay == "" || date <= endDay[:min(len(endDay), 7)])
	}
	return (startDay == "" || date >= startDay) && (endDay == "" || date <= endDay)
}
