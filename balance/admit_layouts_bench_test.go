package balance_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchmarkAdmitLayouts weighs two layouts of the stored state against the store's at 100
// trees × 100 subaccounts (issue 15: Redis's CPU per admit with many tenants), all on one
// real redis-server in one run, reporting the script's time in Redis per admit
// (script-µs/admit, INFO commandstats):
//
//   - store: the store's admit (BenchmarkAdmitSpread's 100x100: 64 in flight, batched);
//   - account: a prototype that keeps a hash per account as the store does but the hot state
//     an admit reads and writes (status, flags, rate, tat, last_used, bal, credit, held) as
//     one packed field, testdata/layout_account.lua;
//   - tree: a prototype with one hash per tree holding every account's hot value and token,
//     the numbers' owners and the day's usage, testdata/layout_tree.lua.
//
// The prototypes make each admit's checks and writes (token, status, permission, caller-ID
// owner, two GCRA limits, the root's balance; both hot values, two usage counters, a
// refund marker) for 64 requests a call, but not the rest of the store's script (KYC,
// calls, tombstones, runs of alike requests, a payer below the root, the rolling-upgrade
// readers every other script would need): they are not the store's, and most of their lead
// is the part of the script they leave out, not the layout (the account layout's packed
// value, built into the store, saved nothing there: README, and BenchmarkRedisCallCost's
// fields, text and struct). Each checks that every request was admitted.
//
//	go test -run '^$' -bench AdmitLayouts -benchtime 64000x -count 3 ./balance/
func BenchmarkAdmitLayouts(b *testing.B) {
	ctx := context.Background()
	s, rdb := benchStore(b)
	const trees, subs = 100, 100
	b.Run("store", func(b *testing.B) {
		reqs := spreadRequests(b, s, trees, subs, false)
		before := redisCounters(b, rdb)
		runSpread(b, s, reqs)
		b.ReportMetric((redisCounters(b, rdb).scriptUs-before.scriptUs)/float64(b.N), "script-µs/admit")
	})
	prelude, err := os.ReadFile("testdata/layout_prelude.lua")
	if err != nil {
		b.Fatal(err)
	}
	// A hash of more fields than hash-max-listpack-entries is a hash table; up to it, a
	// listpack that every field look-up scans. A tree's hash holds three fields per account
	// and more, so the tree layout needs a hash table at 100 accounts a tree: the default,
	// 512, keeps it a listpack, so the benchmark lowers it to 128 for every layout (the
	// account records, 28 fields, and the other small hashes stay listpacks either way).
	if err := rdb.ConfigSet(ctx, "hash-max-listpack-entries", "128").Err(); err != nil {
		b.Fatal(err)
	}
	if err := rdb.Eval(ctx, layoutSeed, nil, trees, subs).Err(); err != nil {
		b.Fatal(err)
	}
	for _, layout := range []string{"account", "tree"} {
		body, err := os.ReadFile("testdata/layout_" + layout + ".lua")
		if err != nil {
			b.Fatal(err)
		}
		script := redis.NewScript(string(prelude) + string(body))
		b.Run(layout, func(b *testing.B) {
			const batch = 64
			k, rid := 0, 0
			var keys []string
			var argv []interface{}
			next := func() { // one script call's keys and arguments: batch admits, round robin
				keys, argv = keys[:0], append(argv[:0], batch)
				for range batch {
					tr, sa := k%trees, (k/trees)%subs
					k++
					rid++
					root, sid := layoutID("MA", tr, 0), layoutID("SA", tr, sa)
					if layout == "tree" {
						keys = append(keys, "lp:tree:"+root)
					} else {
						keys = append(keys, "lp:acct:"+sid, "lp:acct:"+root, "lp:nums:"+root, "lp:usage:"+sid)
					}
					argv = append(argv, sid, root, layoutNumber(tr, sa), fmt.Sprintf("R%x", rid), 5000, layoutToken(tr, sa))
				}
			}
			next()
			if err := script.Load(ctx, rdb).Err(); err != nil {
				b.Fatal(err)
			}
			before := redisCounters(b, rdb)
			b.ResetTimer()
			for n := 0; n < b.N; n += batch {
				v, err := script.EvalSha(ctx, rdb, keys, argv...).Int64Slice()
				if err != nil || len(v) != 8*batch {
					b.Fatalf("%s: %v (%d integers)", layout, err, len(v))
				}
				for j := 0; j < len(v); j += 8 {
					if v[j] != 0 {
						b.Fatalf("%s: request %d refused with code %d", layout, j/8, v[j])
					}
				}
				next()
			}
			b.StopTimer()
			b.ReportMetric((redisCounters(b, rdb).scriptUs-before.scriptUs)/float64(b.N), "script-µs/admit")
		})
	}
}

func layoutID(prefix string, tree, sub int) string {
	return fmt.Sprintf("%s_%08d%010d", prefix, tree, sub)
}
func layoutNumber(tree, sub int) string { return fmt.Sprintf("+1415%03d%04d", tree, sub) }
func layoutToken(tree, sub int) string  { return fmt.Sprintf("%064x", tree*1000+sub) }

// layoutSeed writes both prototypes' state for ARGV[1] trees × ARGV[2] subaccounts: for
// "account" a hash per account with its packed hot value, token and the other fields of a
// record as the store writes them (so the hashes are as big), the tree's numbers and usage
// hashes; for "tree" one hash per tree.
const layoutSeed = `
local trees, subs = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = 1765000000000000
local function id(p, t, s) return string.format('%s_%08d%010d', p, t, s) end
local function hot(bal) return struct.pack('>lBBllllll', 1, 1, 1, 1000000, now, now, bal, 0, 0) end
local function record(key, aid, root, parent, h, tok)
  redis.call('HSET', key, 'id', aid, 'hot', h, 'tok', tok, 'tok_prev', '', 'tok_prev_exp', '0',
    'p_sub', '0', 'parent', parent, 'root', root, 'depth', '1', 'chain', root .. ',' .. aid, 'name', 'load account',
    'currency', 'USD', 'max_sub', '0', 'kids', '0', 'created', now, 'updated', now, 'mcc', '0', 'cps', '0',
    'kyc_mode', 'none', 'kyc_status', 'unverified')
end
for t = 0, trees - 1 do
  local root = id('MA', t, 0)
  local tree = 'lp:tree:' .. root
  local rh = hot(1000000000000000)
  record('lp:acct:' .. root, root, root, '', rh, string.format('%064x', 0))
  redis.call('HSET', tree, 'h:' .. root, rh)
  for s = 0, subs - 1 do
    local sid, num, tok = id('SA', t, s), string.format('+1415%03d%04d', t, s), string.format('%064x', t * 1000 + s)
    local sh = hot(0)
    record('lp:acct:' .. sid, sid, root, root, sh, tok)
    redis.call('HSET', 'lp:nums:' .. root, num, sid)
    redis.call('HSET', tree, 'h:' .. sid, sh, 't:' .. sid, tok, 'n:' .. num, sid)
  end
end
return 1`
