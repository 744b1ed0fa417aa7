-- hold_extend: grants an open hold up to another grant seconds, within max_duration and what
-- its billing account can afford (balance + credit_limit - held, this hold's own held
-- counted as available to it), moving the cost into held and lengthening its lifetime (and
-- its slots') by the seconds granted. KEYS[1] the hold's key. A hold that is due (its
-- lifetime ended, not yet reaped) is not extended. Answers {'OK', record} or {'ENDED',
-- record} or {'NOT_FOUND'}.
local hk = KEYS[1]
local h = hold_read(hk)
if not h then return {'NOT_FOUND'} end
local now = now_us()
if h.status ~= 'open' or now >= tonumber(h.expires) then return {'ENDED', redis.call('HGETALL', hk)} end
local prefix = string.match(hk, '^(.-}:)')
local bk = prefix .. 'acct:' .. h.bill
local r = redis.call('HMGET', bk, 'bal', 'credit', 'held')
local G, H, maxd = tonumber(h.granted), tonumber(h.held), tonumber(h.maxd)
local limit = G + tonumber(h.grant)
if limit > maxd then limit = maxd end
local tf = hold_tariff(h)
local avail = (tonumber(r[1] or '0') or 0) + (tonumber(r[2] or '0') or 0) - (tonumber(r[3] or '0') or 0) + H
local g = tariff_longest(tf, avail, limit)
if g < G then g = G end
local c = tariff_cost(tf, g)
if c ~= H then redis.call('HINCRBY', bk, 'held', istr(c - H)) end
local exp = tonumber(h.expires) + (g - G) * 1000000
if g ~= G then
  for id in string.gmatch(h.chain, '[^,]+') do redis.call('ZADD', prefix .. 'slots:' .. id, 'XX', istr(exp), h.id) end
  redis.call('ZADD', prefix .. 'holds', 'XX', istr(exp), h.id)
end
local final = '0'
if g >= maxd or g < limit then final = '1' end
redis.call('HSET', hk, 'granted', istr(g), 'held', istr(c), 'expires', istr(exp), 'final', final)
return {'OK', redis.call('HGETALL', hk)}
