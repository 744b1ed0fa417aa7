-- transfer: KEYS[1] = the parent ({auth_id}), KEYS[2] = a direct child, KEYS[3] =
-- idempotency key. ARGV[1] amount (µ; > 0 parent → child, < 0 child → parent), ARGV[2]
-- transfer id, ARGV[3] reference, ARGV[4] key prefix, ARGV[5] request hash ('' = no key).
-- All or nothing: the payer never goes below -credit_limit, the payee never above MAX.
-- The record shows the real direction with a positive amount.
-- Answers {'OK', transfer_id} / {'IDEM', transfer_id} or {word, ...}.
-- A record with this transfer id already exists: this very call ran before (a resend after a
-- lost answer); answer it again and move nothing.
if redis.call('EXISTS', ARGV[4] .. 'tr:' .. ARGV[2]) == 1 then return {'IDEM', ARGV[2]} end
local replay = idem_check(KEYS[3], ARGV[5])
if replay then return replay end
local p = redis.call('HMGET', KEYS[1], 'status', 'own', 'bal', 'credit', 'currency', 'id')
local c = redis.call('HMGET', KEYS[2], 'status', 'own', 'bal', 'credit', 'currency', 'id', 'parent')
if not p[1] or not c[1] or c[7] ~= p[6] then return {'NOT_FOUND'} end
if p[1] == 'closed' or c[1] == 'closed' then return {'CLOSED'} end
if p[2] ~= '1' then return {'SHARED', p[6]} end
if c[2] ~= '1' then return {'SHARED', c[6]} end
local amt = tonumber(ARGV[1])
local from, to, fk, tk = p, c, KEYS[1], KEYS[2]
if amt < 0 then
  from, to, fk, tk = c, p, KEYS[2], KEYS[1]
  amt = -amt
end
local fbal = tonumber(from[3])
if fbal - amt < -tonumber(from[4]) then
  return {'INSUFFICIENT', istr(amt), istr(fbal + tonumber(from[4])), from[6]}
end
if tonumber(to[3]) + amt > MAX_AMOUNT then return {'RANGE'} end
local now = now_us()
local fa = redis.call('HINCRBY', fk, 'bal', istr(-amt))
local ta = redis.call('HINCRBY', tk, 'bal', istr(amt))
ledger(ARGV[4], ARGV[2], from[6], to[6], amt, p[5], ARGV[3], 'transfer', now, fa, ta)
idem_store(KEYS[3], ARGV[5], ARGV[2])
return {'OK', ARGV[2]}
