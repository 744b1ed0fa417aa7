-- transfer: KEYS and ARGV as movement.lua says, ARGV[3] the reference. Moves money.
-- All or nothing: the payer never goes below -credit_limit, the payee never above MAX.
-- The record shows the real direction with a positive amount.
-- Answers {'OK', transfer_id} / {'IDEM', transfer_id} or {word, ...}.
local stop, from, to, fk, tk, amt = movement()
if stop then return stop end
local fbal = tonumber(from[3])
if fbal - amt < -tonumber(from[4]) then
  return {'INSUFFICIENT', istr(amt), istr(fbal + tonumber(from[4])), from[6]}
end
if tonumber(to[3]) + amt > MAX_AMOUNT then return {'RANGE'} end
local now = now_us()
local fa = redis.call('HINCRBY', fk, 'bal', istr(-amt))
local ta = redis.call('HINCRBY', tk, 'bal', istr(amt))
ledger(ARGV[4], ARGV[2], from[6], to[6], amt, from[5], ARGV[3], 'transfer', now, fa, ta)
idem_store(KEYS[3], ARGV[5], ARGV[2])
return {'OK', ARGV[2]}
