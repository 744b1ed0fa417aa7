-- settle: makes the charge of one admitted request what the upstream says it really cost.
-- KEYS as for admit (the path account's chain, path first, root last, then its usage hash).
-- ARGV[1] request id, ARGV[2] the real cost (µ, >= 0).
-- Only a request in state 'a' (admitted, neither refunded nor settled) is settled, so a
-- settlement happens at most once and never after a refund. The difference cost - price is
-- debited from (or, when negative, returned to) the billing account without a floor check:
-- the request was admitted, so the balance may end below -credit_limit by at most that
-- difference. Usage 'charged' moves by the difference and '<day>|<route>|s' counts the
-- settlement; the marker becomes "s|<billing>|<price>|<day>|<route>|<cost>" (the marker hash keeps its expiry).
-- Answers {1, cost, balance_after} when settled, {0, price, 0} when there was nothing to do.
local prefix = string.match(KEYS[1], '^(.-}:)')
local mk, mf = marker_key(prefix, ARGV[1]), marker_field(ARGV[1])
local m = redis.call('HGET', mk, mf)
if not m then return {0, 0, 0} end
local state, bid, price, day, route = string.match(m, '^(%a)|([^|]*)|(%-?%d+)|([^|]*)|([^|]*)')
if state ~= 'a' then return {0, tonumber(price), 0} end
local cost = tonumber(ARGV[2])
local diff = cost - tonumber(price)
local n = #KEYS - 1
local target = payer_key(prefix, bid, KEYS, n)
local after = 0
if diff ~= 0 and target then
  after = redis.call('HINCRBY', target, 'bal', istr(-diff))
  redis.call('HINCRBY', KEYS[n + 1], day .. '|' .. route .. '|c', istr(diff))
elseif diff ~= 0 then
  -- no open billing account left: nothing to settle against; keep the admitted charge
  cost = tonumber(price)
end
redis.call('HINCRBY', KEYS[n + 1], day .. '|' .. route .. '|s', 1)
redis.call('HSET', mk, mf, 's' .. string.sub(m, 2) .. '|' .. istr(cost)) -- keeps its expiry
return {1, cost, after}
