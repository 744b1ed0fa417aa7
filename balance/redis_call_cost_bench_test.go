package balance_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// callCostScript does ARGV[1] to each of its KEYS: nothing ('loop'), one command, or one
// way of reading an account's hot state into the Lua values an admit works with, or of
// writing it back:
//   - fields: HMGET of seven fields one by one (the store's layout), five made numbers or kept;
//   - text, struct: HMGET of one packed value and the token ('hx': '|'-separated text, 'hs':
//     struct.pack), split into the same values;
//   - fields_w, text_w, struct_w: HSET of tat and last_used, or of the whole packed value
//     built again with them changed.
//
// 'pack' (run once, untimed) gives every record the two packed values as its first fields.
var callCostScript = redis.NewScript(`
local op = ARGV[1]
local PAT = '^' .. string.rep('([^|]*)|', 10) .. '([^|]*)$'
local SF = '>BBBBBllllll'
local match, tonumber, ceil, concat = string.match, tonumber, math.ceil, table.concat
local function istr(x) return string.format('%d', x) end
local now = 1765000000000000
for i = 1, #KEYS do
  local k = KEYS[i]
  if op == 'exists' then redis.call('EXISTS', k)
  elseif op == 'hmget1' then redis.call('HMGET', k, 'status')
  elseif op == 'hmget7' then redis.call('HMGET', k, 'status', 'rate', 'tat', 'own', 'p_calls', 'tok', 'last_used')
  elseif op == 'hset2' then redis.call('HSET', k, 'tat', '1765000000000000', 'last_used', '1765000000000000')
  elseif op == 'hincrby' then redis.call('HINCRBY', k, 'bench|n', 1)
  elseif op == 'pack' then
    local all = redis.call('HGETALL', k)
    local m = {}
    for x = 1, #all, 2 do m[all[x]] = all[x + 1] end
    local text = concat({m.status, m.own, m.p_calls, m.p_sms, m.p_cdr, m.rate, m.tat, m.last_used, m.bal, m.credit, m.held}, '|')
    local st = struct.pack(SF, 1, tonumber(m.own), tonumber(m.p_calls), tonumber(m.p_sms), tonumber(m.p_cdr),
      tonumber(m.rate), tonumber(m.tat), tonumber(m.last_used), tonumber(m.bal), tonumber(m.credit), tonumber(m.held))
    redis.call('DEL', k)
    redis.call('HSET', k, 'hx', text, 'hs', st, unpack(all))
  elseif op == 'fields' then
    local r = redis.call('HMGET', k, 'status', 'rate', 'tat', 'own', 'p_calls', 'tok', 'last_used')
    local rate = tonumber(r[2] or '0') or 0
    local s = {status = r[1], rate = rate, T = rate > 0 and ceil(1000000 / rate) or 0, tat = tonumber(r[3] or '0') or 0,
      own = r[4], perm = r[5], tok = r[6], last_used = tonumber(r[7] or '0') or 0, key = k}
  elseif op == 'text' then
    local r = redis.call('HMGET', k, 'hx', 'tok')
    local h = {match(r[1], PAT)}
    local rate = tonumber(h[6]) or 0
    local s = {status = h[1], rate = rate, T = rate > 0 and ceil(1000000 / rate) or 0, tat = tonumber(h[7]) or 0,
      own = h[2], perm = h[3], tok = r[2], last_used = tonumber(h[8]) or 0, key = k, h = h}
  elseif op == 'struct' then
    local r = redis.call('HMGET', k, 'hs', 'tok')
    local st, own, pc, ps, pd, rate, tat, lu, bal, credit, held = struct.unpack(SF, r[1])
    local s = {status = st, rate = rate, T = rate > 0 and ceil(1000000 / rate) or 0, tat = tat,
      own = own, perm = pc, tok = r[2], last_used = lu, key = k, bal = bal, credit = credit, held = held}
  elseif op == 'fields_w' then
    redis.call('HSET', k, 'tat', istr(now + i), 'last_used', istr(now))
  elseif op == 'text_w' then
    redis.call('HSET', k, 'hx', concat({'active', '0', '1', '1', '1', '1000', istr(now + i), istr(now), '0', '0', '0'}, '|'))
  elseif op == 'struct_w' then
    redis.call('HSET', k, 'hs', struct.pack(SF, 1, 0, 1, 1, 1, 1000, now + i, now, 0, 0, 0))
  end
end
return #KEYS`)

// BenchmarkRedisCallCost measures what one command from a script costs Redis on this
// machine, against 10,000 account records as the store writes them (100 trees × 100
// subaccounts, each key visited in turn, 128 to a script call): µs/call is the script's
// time in Redis (INFO commandstats) per command, less that of the same loop doing nothing
// ('loop'). It is the floor under the admit's cost per request: each account an admit reads
// is one HMGET, each it changes one HSET, and its usage two HINCRBY (see README, issue 15).
// Then, with a packed copy of each record's hot fields put first in it, what reading the
// hot state into Lua values and writing it back cost with the fields one by one and packed
// (callCostScript): the question whether a packed hot value would make the admit cheaper.
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
	run := func(b *testing.B, op string, n int) {
		for i := 0; i < n; i += perCall {
			at := i % len(keys)
			if err := callCostScript.Run(ctx, rdb, keys[at:min(at+perCall, len(keys))], op).Err(); err != nil {
				b.Fatal(err)
			}
		}
	}
	scriptUs := func(b *testing.B, op string) float64 {
		before := redisCounters(b, rdb)
		run(b, op, b.N)
		return redisCounters(b, rdb).scriptUs - before.scriptUs
	}
	var loopUs float64 // per key, of the last 'loop' run
	measure := func(op string) {
		b.Run(op, func(b *testing.B) {
			us := scriptUs(b, op) / float64(b.N)
			if op == "loop" {
				loopUs = us
			}
			b.ReportMetric(us-loopUs, "µs/call")
		})
	}
	for _, op := range []string{"loop", "exists", "hmget1", "hmget7", "hset2", "hincrby"} {
		measure(op)
	}
	run(b, "pack", len(keys))
	for _, op := range []string{"loop", "fields", "text", "struct", "fields_w", "text_w", "struct_w"} {
		measure(op)
	}
}
