-- transfer: KEYS and ARGV as movement.lua says, ARGV[3] the reference. Moves money.
-- All or nothing: the payer never goes below -credit_limit, the payee never above MAX; what
-- the payer's open calls hold (held, API.md §8) is not the payer's to give, so a settle
-- within its hold still finds it above its floor.
-- The record shows the real direction with a positive amount.
-- Answers {'OK', transfer_id} / {'IDEM', transfer_id} or {word, ...}.
local stop, from, to, fk, tk, amt = movement()
if stop then return stop end
local fbal = tonumber(from[3]) - tonumber(redis.call('HGET', fk, 'held') or 0)
if fbal - amt < -tonumber(from[4]) then
  return {'INSUFFICIENT', istr(amt), istr(fbal + tonumber(from[4])), from[6]}
end
return move('bal', 3, 'transfer', from, to, fk, tk, amt)
