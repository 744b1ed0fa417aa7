-- credit_transfer: KEYS and ARGV as movement.lua says, ARGV[3] the reference. Moves
-- credit_limit, never money: the giver's credit_limit goes down by the amount and the
-- receiver's up. All or nothing: the giver's credit_limit stays >= 0 and its balance >= its
-- new -credit_limit (it can give its credit_limit, less its debt when its balance is
-- negative; held, what its open calls reserve, counts as spent); the receiver's credit_limit never goes above MAX (its floor only goes down).
-- No balance changes, so the sum of credit limits in the tree stays what it was.
-- The record shows the real direction with a positive amount; its from_after and to_after
-- are the credit limits after the movement.
-- Answers {'OK', transfer_id} / {'IDEM', transfer_id} or {word, ...}; 'INSUFFICIENT' names
-- the amount, what the giver could give and the giver.
local stop, from, to, fk, tk, amt = movement()
if stop then return stop end
local fcredit = tonumber(from[4])
local room = fcredit + math.min(tonumber(from[3]) - tonumber(redis.call('HGET', fk, 'held') or 0), 0)
if amt > room then return {'INSUFFICIENT', istr(amt), istr(math.max(room, 0)), from[6]} end
return move('credit', 4, 'credit_transfer', from, to, fk, tk, amt)
