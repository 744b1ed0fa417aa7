-- hold_reap: expires the due holds of one tree (at most ARGV[2] of them). KEYS[1] the tree's
-- index of open holds ({ROOT}:holds, scored by expiry); ARGV[1] how long an ended record
-- stays (ms). Each is ended by hold_end, which checks state and time again, so any number of
-- reapers may run at once. An id whose record is gone or ended leaves the index. Answers
-- {expired, still open, then per hold expired: its id, its route}.
local now = now_us()
local prefix = string.match(KEYS[1], '^(.-}:)')
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', istr(now), 'LIMIT', 0, tonumber(ARGV[2]))
local out = {0, 0}
for _, id in ipairs(due) do
  local r = hold_end(prefix .. 'hold:' .. id, 'x', '', ARGV[1], now)
  if r[1] == 'OK' then
    out[1] = out[1] + 1
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGET', prefix .. 'hold:' .. id, 'route') or ''
  elseif r[1] ~= 'NOT_DUE' then
    redis.call('ZREM', KEYS[1], id) -- ended or gone: not open
  end
end
out[2] = redis.call('ZCARD', KEYS[1])
return out
