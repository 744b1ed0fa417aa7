package balance_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// callCostScript does ARGV[1] to each of its KEYS: nothing ('loop'), or one command.
var callCostScript = redis.NewScript(`
local op = ARGV[1]
for i = 1, #KEYS do
  local k = KEYS[i]
  if op == 'exists' then redis.call('EXISTS', k)
  elseif op == 'hmget1' then redis.call('HMGET', k, 'status')
  elseif op == 'hmget7' then redis.call('HMGET', k, 'status', 'rate', 'tat', 'own', 'p_calls', 'tok', 'last_used')
  elseif op == 'hset2' then redis.call('HSET', k, 'tat', '1765000000000000', 'last_used', '1765000000000000')
  elseif op == 'hincrby' then redis.call('HINCRBY', k, 'bench|n', 1)
  end
end
return #KEYS`)

// BenchmarkRedisCallCost measures what one command from a script costs Redis on this
// machine, against 10,000 account records as the store writes them (100 trees × 100
// subaccounts, each key visited in turn, 128 to a script call): µs/call is the script's
// time in Redis (INFO commandstats) per command, less that of the same loop doing nothing
// ('loop'). It is the floor under the admit's cost per request: each account an admit reads
// is one HMGET, each it changes one HSET, and its usage two HINCRBY (see README, issue 15).
//
//	go test -run '^$' -bench RedisCallCost -benchtime 256000x ./balance/
func BenchmarkRedisCallCost(b *testing.B) {
	ctx := context.Background()
	s, rdb := benchStore(b)
	var keys []string
	for _, r := range spreadRequests(b, s, 100, 100, false) {
		keys = append(keys, r.Keys[0])
	}
	const perCall = 128
	scriptUs := func(b *testing.B, op string) float64 {
		before := redisCounters(b, rdb)
		for i := 0; i < b.N; i += perCall {
			at := i % len(keys)
			if err := callCostScript.Run(ctx, rdb, keys[at:min(at+perCall, len(keys))], op).Err(); err != nil {
				b.Fatal(err)
			}
		}
		return redisCounters(b, rdb).scriptUs - before.scriptUs
	}
	var loopUs float64 // per key, of the last 'loop' run
	for _, op := range []string{"loop", "exists", "hmget1", "hmget7", "hset2", "hincrby"} {
		b.Run(op, func(b *testing.B) {
			us := scriptUs(b, op) / float64(b.N)
			if op == "loop" {
				loopUs = us
			}
			b.ReportMetric(us-loopUs, "µs/call")
		})
	}
}
