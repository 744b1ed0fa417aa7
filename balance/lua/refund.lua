-- refund: returns the charge of one admitted request, exactly once.
-- KEYS as for admit (the path account's chain, path first, root last, then its usage hash).
-- ARGV[1] request id.
-- The marker of the request (see marker_key) written by admit ("a|<billing>|<price>|<day>|<route>") says who
-- paid what; it is rewritten with state 'r' (the marker hash keeps its expiry), so a second refund finds
-- nothing to do. The money goes back to the billing account, or, if that account has been
-- closed since, to the nearest own balance above it in the chain that is not closed (if
-- there is none, nothing is refunded and the charge stands). Usage is netted: count - 1,
-- charged - price.
-- Answers {1, price, billing id} when refunded, {0, 0, ''} when there was nothing to refund.
local prefix = string.match(KEYS[1], '^(.-}:)')
local mk, mf = marker_key(prefix, ARGV[1]), marker_field(ARGV[1])
local m = redis.call('HGET', mk, mf)
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
redis.call('HSET', mk, mf, 'r' .. string.sub(m, 2)) -- the marker hash keeps its expiry
local paid = ''
if target then paid = redis.call('HGET', target, 'id') end
return {1, tonumber(price), paid}
