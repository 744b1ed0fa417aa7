-- Layout prototype "tree": one hash per account tree holding every account's hot value
-- ('h:ID', see layout_prelude.lua) and token ('t:ID'), the numbers' owners ('n:NUMBER') and
-- the day's usage ('u:ID|DAY|ROUTE|n', '|c'). KEYS per request: the tree's hash. Per
-- request: one HMGET of six fields and one HSET of four.
local i = 2
for j = 1, n do
  local key = KEYS[j]
  local sid, root, num, rid, price, th = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5]
  i = i + 6
  local uf = 'u:' .. sid .. '|' .. day .. '|sms|'
  local r = redis.call('HMGET', key, 'h:' .. sid, 'h:' .. root, 't:' .. sid, 'n:' .. num, uf .. 'n', uf .. 'c')
  local s, m = hot(r[1]), hot(r[2])
  local code = decide(s, m, r[3] == th, r[4] == sid, price)
  if code == 0 then
    redis.call('HSET', key, 'h:' .. sid, enc(s), 'h:' .. root, enc(m),
      uf .. 'n', string.format('%d', (tonumber(r[5]) or 0) + 1), uf .. 'c', string.format('%d', (tonumber(r[6]) or 0) + price))
  end
  done(code, rid, root, price)
end
markers()
return out
