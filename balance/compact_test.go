package balance_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/policy/model"
)

// monthSums sums usage rows (days and compacted months) per month and route.
func monthSums(rows []balance.Usage) map[string]balance.Usage {
	out := map[string]balance.Usage{}
	for _, r := range rows {
		k := r.Date[:7] + "|" + r.Route
		u := out[k]
		u.Date, u.Route = r.Date[:7], r.Route
		u.Count += r.Count
		u.Charged += r.Charged
		out[k] = u
	}
	return out
}

// TestCompactUsageYear: a simulated year of admits on a tree (one account deleted half way,
// so folded counters exist too), the compactor run every few days with an injected clock:
// every usage hash then holds at most the retention's days (plus the days since the last
// run) and one field set a month per route, and the per-month sums of the Usage API's reads
// (own and include_subaccounts) are exactly what they were before each compaction. A refund
// and a settlement of requests admitted on days compacted since net into their months,
// without bringing the day back.
func TestCompactUsageYear(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1000")
		c := testkit.NewAccount(t, s, m, "")
		g := testkit.NewAccount(t, s, c, "")
		gAlive := true
		retention := config.DefaultUsageRetention
		start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
		now := start
		comp := balance.NewCompactor(s, retention, func() time.Time { return now })

		reads := func() map[string]map[string]balance.Usage {
			t.Helper()
			out := map[string]map[string]balance.Usage{}
			for _, a := range []*testkit.Account{m, c} {
				sub, err := s.SubtreeUsage(ctx, m.Root, a.ID, "", "")
				if err != nil {
					t.Fatal(err)
				}
				own, err := s.UsageOf(ctx, m.Root, []string{a.ID}, "", "")
				if err != nil {
					t.Fatal(err)
				}
				out["subtree "+a.ID], out["own "+a.ID] = monthSums(sub), monthSums(own)
			}
			return out
		}
		compact := func() int {
			t.Helper()
			before := reads()
			moved := compactPass(t, comp)
			if after := reads(); !reflect.DeepEqual(after, before) {
				t.Fatalf("%s: the sums changed with the compaction:\nbefore %v\nafter  %v", now.Format(time.DateOnly), before, after)
			}
			return moved
		}

		var early, earlySettled *balance.AdmitRequest // admitted on the 10th day, refunded / settled at the end
		moved := 0
		for day := 0; day < 365; day++ {
			now = start.AddDate(0, 0, day)
			var reqs []*balance.AdmitRequest
			for i, a := range []*testkit.Account{m, c, g} {
				if a == g && !gAlive {
					continue
				}
				for j, route := range []string{"voice.call", "sms"} {
					req := admReq(a, a, model.PermNone, false, fmt.Sprintf("0.00%d", 1+(day+i+j)%9))
					req.Route = route
					reqs = append(reqs, req)
				}
			}
			decs := make([]balance.Decision, len(reqs))
			for i, err := range balance.AdmitWithClock(t, s, balance.AdmitScriptBody(), now, reqs, decs, false) {
				if err != nil || !decs[i].Admitted {
					t.Fatalf("day %d admit %d: %v %+v", day, i, err, decs[i])
				}
			}
			if day == 10 {
				early, earlySettled = reqs[2], reqs[3] // c's voice.call and sms
			}
			if day == 180 { // g's usage is folded into c's 'd' counters, to be compacted too
				if _, err := s.DeleteAccount(ctx, c.Account, g.Account, false, newID("TR")); err != nil {
					t.Fatal(err)
				}
				gAlive = false
			}
			if day%3 == 0 {
				moved += compact()
			}
		}
		if moved == 0 {
			t.Fatal("the compactor moved nothing")
		}

		// the bound: per usage hash, at most retention + 3 days (runs every 3 days) and 13 months
		maxDays := int(retention/(24*time.Hour)) + 3
		rdb := s.Client()
		for _, a := range []*testkit.Account{m, c} {
			fields, err := rdb.HKeys(ctx, balance.UsageKey(m.Root, a.ID)).Result()
			if err != nil {
				t.Fatal(err)
			}
			days, months := map[string]bool{}, map[string]bool{}
			for _, f := range fields {
				d := f[:strings.IndexByte(f, '|')]
				if len(d) == len("2006-01") {
					months[d] = true
				} else {
					days[d] = true
				}
			}
			if len(days) > maxDays || len(months) > 13 || len(months) < 9 {
				t.Errorf("%s keeps %d days and %d months (at most %d days and 13 months)", a.ID, len(days), len(months), maxDays)
			}
		}

		// a refund and a settlement of requests admitted on a compacted day
		before := reads()
		bal := testkit.Balance(t, s, m)
		if amt, ok, err := s.Refund(ctx, early); err != nil || !ok {
			t.Fatalf("refund: %v %v %v", amt, ok, err)
		}
		if _, ok, err := s.Settle(ctx, earlySettled, earlySettled.Price+5); err != nil || !ok {
			t.Fatalf("settle: %v %v", ok, err)
		}
		if got, want := testkit.Balance(t, s, m), bal+early.Price-5; got != want {
			t.Errorf("balance after refund and settle = %v, want %v", got, want)
		}
		after := reads()
		for _, k := range []string{"own " + c.ID, "subtree " + c.ID, "subtree " + m.ID} {
			want := before[k]
			v := want["2025-01|voice.call"]
			v.Count--
			v.Charged -= early.Price
			want["2025-01|voice.call"] = v
			sv := want["2025-01|sms"]
			sv.Charged += 5
			want["2025-01|sms"] = sv
			if !reflect.DeepEqual(after[k], want) {
				t.Errorf("%s after the refund and the settlement:\n got %v\nwant %v", k, after[k], want)
			}
		}
		rows, err := s.UsageOf(ctx, m.Root, []string{c.ID}, "2025-01-05", "2025-01-15")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Date != "2025-01" {
				t.Errorf("a row of a compacted day or outside the range: %+v", r)
			}
		}
		if len(rows) != 2 {
			t.Errorf("rows of 2025-01-05..15 = %+v, want the month 2025-01 of both routes", rows)
		}
	})
}

// TestCompactUsageRefusesWholly: a usage hash with a counter that is not an integer is
// left whole (nothing moved) and named in a *SkippedUsageError, and once the counter is
// fixed, a run compacts it and a second run with the same cutoff moves nothing more.
func TestCompactUsageRefusesWholly(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1")
		k := balance.UsageKey(m.Root, m.ID)
		rdb := s.Client()
		if err := rdb.HSet(ctx, k, "2025-01-01|sms|n", "3", "2025-01-01|sms|c", "x", "2025-03-01|sms|n", "1").Err(); err != nil {
			t.Fatal(err)
		}
		before := rdb.HGetAll(ctx, k).Val()
		var sk *balance.SkippedUsageError
		if n, err := s.CompactUsage(ctx, m.Root, []string{m.ID}, "2025-02-01"); !errors.As(err, &sk) || n != 0 ||
			len(sk.Hashes) != 1 || !strings.HasPrefix(sk.Hashes[0], k+": usage field 2025-01-01|sms|c is not an integer") {
			t.Fatalf("compacting a counter that is not an integer: moved %d, %v; want nothing moved and the hash named", n, err)
		}
		if after := rdb.HGetAll(ctx, k).Val(); !reflect.DeepEqual(after, before) {
			t.Fatalf("a refused compaction wrote: %v, was %v", after, before)
		}
		rdb.HSet(ctx, k, "2025-01-01|sms|c", "7", "2025-01-02|sms|dc", "2")
		for i, want := range []int{3, 0} {
			if n, err := s.CompactUsage(ctx, m.Root, []string{m.ID}, "2025-02-01"); err != nil || n != want {
				t.Fatalf("run %d moved %d (%v), want %d", i, n, err, want)
			}
		}
		want := map[string]string{"2025-01|sms|n": "3", "2025-01|sms|c": "7", "2025-01|sms|dc": "2", "2025-03-01|sms|n": "1"}
		if got := rdb.HGetAll(ctx, k).Val(); !reflect.DeepEqual(got, want) {
			t.Fatalf("after compaction %v, want %v", got, want)
		}
	})
}

// compactPass runs comp's steps until a pass is done and answers the day fields moved.
func compactPass(t *testing.T, comp *balance.Compactor) int {
	t.Helper()
	moved := 0
	for done := false; !done; {
		n, d, err := comp.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		moved, done = moved+n, d
	}
	return moved
}

// usageField makes a main account and answers a function that writes a field of its usage
// hash and one that reads one.
func usageField(t *testing.T, s *balance.Store) (set func(field, v string), get func(field string) string) {
	ctx := context.Background()
	m := testkit.NewAccount(t, s, nil, "1")
	k := balance.UsageKey(m.Root, m.ID)
	rdb := s.Client()
	set = func(field, v string) {
		t.Helper()
		if err := rdb.HSet(ctx, k, field, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return set, func(field string) string { return rdb.HGet(ctx, k, field).Val() }
}

// TestCompactorOncePerCutoff: after a pass the Compactor leaves the store alone until its
// cutoff moves (the next UTC day): a day field older than the cutoff written after the pass
// stays until then, and the next day's pass moves it.
func TestCompactorOncePerCutoff(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		set, get := usageField(t, s)
		now := time.Date(2025, 6, 1, 23, 0, 0, 0, time.UTC)
		comp := balance.NewCompactor(s, config.DefaultUsageRetention, func() time.Time { return now })
		pass := func() int { t.Helper(); return compactPass(t, comp) }
		set("2025-01-01|sms|n", "3")
		if n := pass(); n != 1 {
			t.Fatalf("the first pass moved %d day fields, want 1", n)
		}
		set("2025-01-02|sms|n", "4")
		now = now.Add(59 * time.Minute) // the same UTC day: the same cutoff
		if n := pass(); n != 0 {
			t.Fatalf("a second pass with the same cutoff moved %d day fields, want none", n)
		}
		if v := get("2025-01-02|sms|n"); v != "4" {
			t.Fatalf("the day field written after the pass = %q, want it kept until the next day", v)
		}
		now = now.Add(2 * time.Minute) // the next UTC day
		if n := pass(); n != 1 {
			t.Fatalf("the next day's pass moved %d day fields, want 1", n)
		}
		if v := get("2025-01|sms|n"); v != "7" {
			t.Fatalf("month counter = %q, want 7", v)
		}
	})
}

// TestCompactorPassOncePerStore: a pass finished by one instance is not made again by
// another one (or by the same one restarted) at the same cutoff: a day field older than the
// cutoff written after the first pass stays until the next day, whose pass the first
// instance to get there makes and the other then skips.
func TestCompactorPassOncePerStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		set, get := usageField(t, s)
		now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		a := balance.NewCompactor(s, config.DefaultUsageRetention, clock)
		set("2025-01-01|sms|n", "3")
		if n := compactPass(t, a); n != 1 {
			t.Fatalf("the first instance's pass moved %d day fields, want 1", n)
		}
		set("2025-01-02|sms|n", "4")
		b := balance.NewCompactor(s, config.DefaultUsageRetention, clock) // another instance, or a restart
		if n, done, err := b.Step(ctx); err != nil || n != 0 || !done {
			t.Fatalf("another instance at the same cutoff: moved %d, pass done %v, %v; want nothing moved and no pass", n, done, err)
		}
		if v := get("2025-01-02|sms|n"); v != "4" {
			t.Fatalf("the day field written after the pass = %q, want it kept until the next day", v)
		}
		now = now.Add(24 * time.Hour) // the next day: b gets there first and makes the pass
		if n := compactPass(t, b); n != 1 {
			t.Fatalf("the next day's pass moved %d day fields, want 1", n)
		}
		set("2025-01-03|sms|n", "5")
		if n, done, err := a.Step(ctx); err != nil || n != 0 || !done {
			t.Fatalf("the first instance on the next day: moved %d, pass done %v, %v; want the pass skipped", n, done, err)
		}
		if v := get("2025-01|sms|n"); v != "7" {
			t.Fatalf("month counter = %q, want 7", v)
		}
	})
}

// TestCompactUsageChunks: CompactUsage sends the usage hashes of a tree CompactChunk at a
// time (one script call per chunk, not per account) and compacts every one of them; a hash
// it cannot compact is left as it was and named, and every other hash, of its chunk too, is
// compacted all the same.
func TestCompactUsageChunks(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		rdb := s.Client()
		m := testkit.NewAccount(t, s, nil, "1")
		n := 2*balance.CompactChunk + 3
		ids := make([]string, n)
		for i := range ids {
			ids[i] = testkit.NewAccount(t, s, m, "").ID
			if err := rdb.HSet(ctx, balance.UsageKey(m.Root, ids[i]), "2025-01-01|sms|n", "2", "2025-01-02|sms|n", "3").Err(); err != nil {
				t.Fatal(err)
			}
		}
		badAt := 2*balance.CompactChunk + 1 // in the last chunk, between two good hashes
		bad := balance.UsageKey(m.Root, ids[badAt])
		rdb.HSet(ctx, bad, "2025-01-03|sms|c", "x")
		if moved, err := s.CompactUsage(ctx, m.Root, ids[:1], "2024-01-01"); err != nil || moved != 0 { // loads the script
			t.Fatalf("a cutoff before every day moved %d (%v)", moved, err)
		}
		calls := evalCalls(t, s)
		var sk *balance.SkippedUsageError
		moved, err := s.CompactUsage(ctx, m.Root, ids, "2025-02-01")
		if !errors.As(err, &sk) || len(sk.Hashes) != 1 || !strings.HasPrefix(sk.Hashes[0], bad+": ") || moved != 2*(n-1) {
			t.Fatalf("moved %d (%v); want every good hash's %d day fields moved and %s named", moved, err, 2*(n-1), bad)
		}
		if c := evalCalls(t, s); calls >= 0 && c-calls != 3 {
			t.Fatalf("%d script calls for %d accounts, want 3 (chunks of %d)", c-calls, n, balance.CompactChunk)
		}
		for i, id := range ids {
			got := rdb.HGetAll(ctx, balance.UsageKey(m.Root, id)).Val()
			if i != badAt && (len(got) != 1 || got["2025-01|sms|n"] != "5") {
				t.Fatalf("account %d: %v, want compacted", i, got)
			}
			if i == badAt && (len(got) != 3 || got["2025-01-01|sms|n"] != "2") {
				t.Fatalf("the hash that cannot be compacted was written: %v", got)
			}
		}
		rdb.HSet(ctx, bad, "2025-01-03|sms|c", "1")
		if moved, err := s.CompactUsage(ctx, m.Root, ids, "2025-02-01"); err != nil || moved != 3 {
			t.Fatalf("the second run moved %d (%v), want the fixed hash's 3", moved, err)
		}
	})
}

// TestCompactorPassesBadHash: a usage hash that cannot be compacted does not hold a pass
// up: the Compactor's step compacts the rest of its tree and the trees after it, finishes
// the pass (recorded, so the next step at that cutoff does nothing) and names the hash.
func TestCompactorPassesBadHash(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		rdb := s.Client()
		now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		comp := balance.NewCompactor(s, config.DefaultUsageRetention, func() time.Time { return now })
		var keys []string
		for range 2 { // the tree with the bad hash first
			m := testkit.NewAccount(t, s, nil, "1")
			sa := testkit.NewAccount(t, s, m, "")
			for _, id := range []string{m.ID, sa.ID} {
				k := balance.UsageKey(m.Root, id)
				if err := rdb.HSet(ctx, k, "2025-01-01|sms|n", "2", "2025-01-02|sms|n", "3").Err(); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
		}
		rdb.HSet(ctx, keys[0], "2025-01-03|sms|c", "x")
		var sk *balance.SkippedUsageError
		moved, done, err := comp.Step(ctx)
		if !errors.As(err, &sk) || len(sk.Hashes) != 1 || !strings.HasPrefix(sk.Hashes[0], keys[0]+": ") || !done || moved != 2*3 {
			t.Fatalf("step: moved %d, pass done %v, %v; want 6 moved, the pass done and %s named", moved, done, err, keys[0])
		}
		for _, k := range keys[1:] {
			if got := rdb.HGetAll(ctx, k).Val(); len(got) != 1 || got["2025-01|sms|n"] != "5" {
				t.Fatalf("%s after the pass: %v, want compacted", k, got)
			}
		}
		if got := rdb.HLen(ctx, keys[0]).Val(); got != 3 {
			t.Fatalf("the bad hash has %d fields after the pass, want its 3 untouched", got)
		}
		if moved, done, err := comp.Step(ctx); err != nil || moved != 0 || !done {
			t.Fatalf("a step after the pass at the same cutoff: moved %d, done %v, %v", moved, done, err)
		}
	})
}

// evalCalls answers how many script calls (EVALSHA + EVAL) Redis has served, or -1 where
// the store does not say (the embedded store, a cluster's nodes).
func evalCalls(t *testing.T, s *balance.Store) int64 {
	t.Helper()
	rc, ok := s.Client().(*redis.Client)
	if !ok || strings.HasSuffix(t.Name(), "/embedded") {
		return -1
	}
	stats, err := rc.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(stats, "\n") {
		for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd); ok {
				v, _, _ := strings.Cut(rest, ",")
				c, _ := strconv.ParseInt(v, 10, 64)
				n += c
			}
		}
	}
	return n
}
