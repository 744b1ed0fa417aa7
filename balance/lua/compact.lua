-- compact: KEYS = usage hashes of accounts of one tree (a few at a time: CompactChunk),
-- ARGV[1] = the cutoff day 'YYYY-MM-DD'. In each, moves every day field older than the
-- cutoff ('<day>|<route>|<kind>', day < ARGV[1]) into its month field
-- ('<YYYY-MM>|<route>|<kind>'), kinds kept as they are (n, c, s and the folded dn, dc, ds),
-- so every sum over a month is what it was. Month fields and days from the cutoff on are
-- left alone, so running it again with the same or an earlier cutoff changes nothing
-- (instances may run it at once). Every hash is read and checked before the first write. A
-- hash that cannot be compacted (a counter that is not an integer, a month sum out of range)
-- is left exactly as it is and named in the answer; the others are compacted all the same.
-- Answers {moved, key, why, key, why, ...}: the number of day fields moved, then each hash
-- left alone and why.
local cutoff = ARGV[1]
if not string.match(cutoff, '^%d%d%d%d%-%d%d%-%d%d$') then
  return redis.error_reply('ERR compact: bad cutoff day ' .. cutoff)
end
local plans = {} -- per hash with something to move: {key, add, order, moved}
local out = {0}
for k = 1, #KEYS do
  local key = KEYS[k]
  local u = redis.call('HGETALL', key)
  local cur, add, order, moved = {}, {}, {}, {}
  local why
  for x = 1, #u, 2 do cur[u[x]] = u[x + 1] end
  for x = 1, #u, 2 do
    local f = u[x]
    local month, rest = string.match(f, '^(%d%d%d%d%-%d%d)%-%d%d(|.*)$')
    if month and string.sub(f, 1, 10) < cutoff then
      local v = stored_int(u[x + 1])
      if not v then
        why = 'usage field ' .. f .. ' is not an integer'
        break
      end
      sum_into(add, order, month .. rest, v)
      moved[#moved + 1] = f
    end
  end
  if not why then
    for _, mf in ipairs(order) do
      local c = stored_int(cur[mf])
      if not c or math.abs(c + add[mf]) > MAX_AMOUNT then
        why = 'usage ' .. mf .. ' out of range'
        break
      end
    end
  end
  if why then
    out[#out + 1], out[#out + 2] = key, why
  elseif #moved > 0 then
    plans[#plans + 1] = {key, add, order, moved}
  end
end
for _, p in ipairs(plans) do
  local key, add, order, moved = p[1], p[2], p[3], p[4]
  for _, mf in ipairs(order) do redis.call('HINCRBY', key, mf, istr(add[mf])) end
  for i = 1, #moved, 1000 do
    redis.call('HDEL', key, unpack(moved, i, math.min(i + 999, #moved)))
  end
  out[1] = out[1] + #moved
end
return out
