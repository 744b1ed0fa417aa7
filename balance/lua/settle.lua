-- settle: makes the charge of one admitted request what the upstream says it really cost.
-- KEYS as for admit (the path account's chain, path first, root last, then its usage hash).
-- ARGV[1] request id, ARGV[2] the real cost (µ, >= 0), ARGV[3] where the markers are (marker_key).
-- Only a request in state 'a' (admitted, neither refunded nor settled) is settled, so a
-- settlement happens at most once and never after a refund. The difference cost - price is
-- debited from (or, when negative, returned to) the billing account without a floor check:
-- the request was admitted, so the balance may end below -credit_limit by at most that
-- difference. Usage 'charged' moves by the difference and '<day>|<route>|s' counts the
-- settlement (in the folded counters once the path account is deleted, as in refund, and in the month's once the day was compacted); the marker becomes "s|<billing>|<price>|<day>|<route>|<cost>" (the marker hash keeps its expiry).
-- Every value it adds to (the balance, the two counters) is read and checked before the
-- first write, as in refund: an error answer has written nothing.
-- Answers {1, cost, balance_after} when settled, {0, price, 0} when there was nothing to do.
local prefix = string.match(KEYS[1], '^(.-}:)')
local mk, mf = marker_key(ARGV[3], ARGV[1]), marker_field(ARGV[1])
local m = redis.call('HGET', mk, mf)
if not m then return {0, 0, 0} end
local state, bid, price, day, route = string.match(m, '^(%a)|([^|]*)|(%-?%d+)|([^|]*)|([^|]*)')
if state ~= 'a' then return {0, tonumber(price), 0} end
local cost, p = tonumber(ARGV[2]), tonumber(price)
local n = #KEYS - 1
local target = payer_key(prefix, bid, KEYS, n)
-- no open billing account left: nothing to settle against; keep the admitted charge
if not target then cost = p end
local diff = 0
if cost then diff = cost - p end
local uk, d = usage_of_path(prefix, KEYS, n)
day = usage_period(uk, day, route, d)
local fc, fs = day .. '|' .. route .. '|' .. d .. 'c', day .. '|' .. route .. '|' .. d .. 's'
local u = redis.call('HMGET', uk, fc, fs)
local chg, cnt, bal = stored_int(u[1]), stored_int(u[2]), 0
if diff ~= 0 then bal = stored_int(redis.call('HGET', target, 'bal')) end
if not cost or cost < 0 or cost > MAX_AMOUNT or cost ~= math.floor(cost) or p < 0 or p > MAX_AMOUNT
    or not (chg and cnt and bal) or math.abs(chg + diff) > MAX_AMOUNT or cnt + 1 > MAX_AMOUNT
    or math.abs(bal - diff) > MAX_AMOUNT then
  return redis.error_reply('ERR settle ' .. ARGV[1] .. ': the cost, the balance or a usage counter cannot take it')
end
local after = 0
if diff ~= 0 then
  after = redis.call('HINCRBY', target, 'bal', istr(-diff))
  redis.call('HINCRBY', uk, fc, istr(diff))
end
redis.call('HINCRBY', uk, fs, 1)
redis.call('HSET', mk, mf, 's' .. string.sub(m, 2) .. '|' .. istr(cost)) -- keeps its expiry
return {1, cost, after}
