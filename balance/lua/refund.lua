-- refund: returns the charge of one admitted request, exactly once.
-- KEYS as for admit (the path account's chain, path first, root last, then its usage hash).
-- ARGV[1] request id.
-- The marker {ROOT}:rf:<id> written by admit ("a|<billing>|<price>|<day>|<route>") says who
-- paid what; it is rewritten with state 'r' (keeping its expiry), so a second refund finds
-- nothing to do. The money goes back to the billing account, or, if that account has been
-- closed since, to the nearest own balance above it in the chain that is not closed (if
-- there is none, nothing is refunded and the charge stands). Usage is netted: count - 1,
-- charged - price.
-- Answers {1, price, billing id} when refunded, {0, 0, ''} when there was nothing to refund.
local prefix = string.match(KEYS[1], '^(.-}:)')
local mk = prefix .. 'rf:' .. ARGV[1]
local m = redis.call('GET', mk)
if not m then return {0, 0, ''} end
local state, bid, price, day, route = string.match(m, '^(%a)|([^|]*)|(%-?%d+)|([^|]*)|([^|]*)')
if state ~= 'a' then return {0, 0, ''} end
local n = #KEYS - 1
local target = payer_key(prefix, bid, KEYS, n)
-- No open account left to pay back (the whole tree above the payer is closed): the charge
-- stands, so money is neither lost nor made; the marker stays open.
if not target and tonumber(price) ~= 0 then return {0, 0, ''} end
if target and tonumber(price) ~= 0 then redis.call('HINCRBY', target, 'bal', price) end
redis.call('HINCRBY', KEYS[n + 1], day .. '|' .. route .. '|n', -1)
redis.call('HINCRBY', KEYS[n + 1], day .. '|' .. route .. '|c', string.format('%.0f', -tonumber(price)))
local ttl = redis.call('PTTL', mk)
if ttl and ttl > 0 then
  redis.call('SET', mk, 'r' .. string.sub(m, 2), 'PX', ttl)
else
  redis.call('SET', mk, 'r' .. string.sub(m, 2))
end
local paid = ''
if target then paid = redis.call('HGET', target, 'id') end
return {1, tonumber(price), paid}
