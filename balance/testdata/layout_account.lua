-- Layout prototype "account": each account its own hash as today, its hot state in one
-- packed field 'hot' (see layout_prelude.lua). KEYS per request: the subaccount's hash, the
-- root's, the tree's numbers, the subaccount's usage. Per request: HMGET of the
-- subaccount's hot value and token, HGET of the root's hot value, HGET of the number's
-- owner, two HSETs, two HINCRBYs.
local i = 2
for j = 1, n do
  local k = (j - 1) * 4
  local sid, root, num, rid, price, th = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5]
  i = i + 6
  local rs = redis.call('HMGET', KEYS[k + 1], 'hot', 'tok')
  local s, m = hot(rs[1]), hot(redis.call('HGET', KEYS[k + 2], 'hot'))
  local code = decide(s, m, rs[2] == th, redis.call('HGET', KEYS[k + 3], num) == sid, price)
  if code == 0 then
    redis.call('HSET', KEYS[k + 1], 'hot', enc(s))
    redis.call('HSET', KEYS[k + 2], 'hot', enc(m))
    redis.call('HINCRBY', KEYS[k + 4], day .. '|sms|n', 1)
    redis.call('HINCRBY', KEYS[k + 4], day .. '|sms|c', price)
  end
  done(code, rid, root, price)
end
markers()
return out
