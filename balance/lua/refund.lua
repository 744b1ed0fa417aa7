-- refund: returns the charge of one admitted request, exactly once.
-- KEYS as for admit (the path account's chain, path first, root last, then its usage hash).
-- ARGV[1] request id, ARGV[2] marker lifetime (ms), ARGV[3] where the markers are (marker_key),
-- ARGV[4] their tombstone flag.
-- The marker of the request (see marker_key) written by admit ("a|<billing>|<price>|<day>|<route>") says who
-- paid what; it is rewritten with state 'r' (the marker hash keeps its expiry), so a second refund finds
-- nothing to do. The money goes back to the billing account, or, if that account has been
-- closed or deleted since, to the nearest own balance above it in the chain that is not closed (if
-- there is none, nothing is refunded and the charge stands). Usage is netted: count - 1,
-- charged - price, in the path account's counters, or, once the path account has been
-- deleted, in the folded counters its usage went to (usage_of_path); in the day's counters, or,
-- once that day was compacted into its month, in the month's (usage_period).
-- Every value it adds to (the balance, the two counters) is read and checked before the
-- first write: if one cannot take the change (not an integer, or it would leave
-- +-MAX_AMOUNT), it answers an error and has written nothing; the marker stays open.
-- When the request has no marker, it was never admitted — or its admit has not run yet
-- (the gateway refunds a request whose admit answer was lost, and a stalled store may run
-- that admit later): the refund then leaves a tombstone "x||0||" in the marker's place (the
-- marker hash's lifetime restarts, as with an admit's write) and sets the tree's flag
-- (ARGV[4]) for as long, and the admit script refuses
-- a request whose marker exists, so that admit takes nothing. Refund and settle find
-- nothing to do with a tombstone.
-- Answers {1, price, billing id} when refunded, {0, 0, ''} when there was nothing to refund
-- (the marker was spent or a tombstone, or there was none and it left one).
local prefix = string.match(KEYS[1], '^(.-}:)')
local mk, mf = marker_key(ARGV[3], ARGV[1]), marker_field(ARGV[1])
local m = redis.call('HGET', mk, mf)
if not m then
  local ttl = tonumber(ARGV[2])
  if not ttl or ttl < 1 or ttl ~= math.floor(ttl) then
    return redis.error_reply('ERR refund ' .. ARGV[1] .. ': bad marker lifetime')
  end
  redis.call('HSET', mk, mf, 'x||0||')
  redis.call('PEXPIRE', mk, istr(ttl))
  -- the flag that a tombstone may exist (see admit.lua): it outlives every tombstone
  redis.call('SET', ARGV[4], '1', 'PX', istr(ttl))
  return {0, 0, ''}
end
local state, bid, price, day, route = string.match(m, '^(%a)|([^|]*)|(%-?%d+)|([^|]*)|([^|]*)')
if state ~= 'a' then return {0, 0, ''} end
local p = tonumber(price)
local n = #KEYS - 1
local target = payer_key(prefix, bid, KEYS, n)
-- No open account left to pay back (the whole tree above the payer is closed): the charge
-- stands, so money is neither lost nor made; the marker stays open.
if not target and p ~= 0 then return {0, 0, ''} end
local uk, d = usage_of_path(prefix, KEYS, n)
day = usage_period(uk, day, route, d)
local fn, fc = day .. '|' .. route .. '|' .. d .. 'n', day .. '|' .. route .. '|' .. d .. 'c'
local u = redis.call('HMGET', uk, fn, fc)
local cnt, chg, bal = stored_int(u[1]), stored_int(u[2]), 0
if p ~= 0 then bal = stored_int(redis.call('HGET', target, 'bal')) end
if p < 0 or p > MAX_AMOUNT or not (cnt and chg and bal) or cnt - 1 < -MAX_AMOUNT or chg - p < -MAX_AMOUNT
    or bal + p > MAX_AMOUNT then
  return redis.error_reply('ERR refund ' .. ARGV[1] .. ': the price, the balance or a usage counter cannot take it')
end
if p ~= 0 then redis.call('HINCRBY', target, 'bal', istr(p)) end
redis.call('HINCRBY', uk, fn, -1)
redis.call('HINCRBY', uk, fc, istr(-p)) -- istr prints -0 as 0 (HINCRBY refuses "-0")
redis.call('HSET', mk, mf, 'r' .. string.sub(m, 2)) -- the marker hash keeps its expiry
local paid = ''
if target then paid = redis.call('HGET', target, 'id') end
return {1, p, paid}
