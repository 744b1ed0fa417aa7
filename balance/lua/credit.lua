-- credit: KEYS[1] = account, KEYS[2] = idempotency key. ARGV[1] amount (µ, may be
-- negative), ARGV[2] transfer id, ARGV[3] reference, ARGV[4] key prefix '{ROOT}:',
-- ARGV[5] request hash for the idempotency key ('' = no key).
-- Adds money to an own balance; a negative amount never takes it below -credit_limit plus
-- what its open calls hold (held, API.md §8).
-- Answers {'OK', transfer_id} / {'IDEM', transfer_id} or {word, ...}.
-- A record with this transfer id already exists: this very call ran before (a resend after a
-- lost answer); answer it again and move nothing.
if redis.call('EXISTS', ARGV[4] .. 'tr:' .. ARGV[2]) == 1 then return {'IDEM', ARGV[2]} end
local replay = idem_check(KEYS[2], ARGV[5])
if replay then return replay end
local v = redis.call('HMGET', KEYS[1], 'status', 'own', 'bal', 'credit', 'currency', 'id', 'held')
if not v[1] then return {'NOT_FOUND'} end
if v[1] == 'closed' then return {'CLOSED'} end
if v[2] ~= '1' then return {'SHARED'} end
local amt = tonumber(ARGV[1])
local bal = tonumber(v[3])
local credit = tonumber(v[4])
local after = bal + amt
local held = tonumber(v[7] or 0)
if amt < 0 and after - held < -credit then return {'INSUFFICIENT', istr(-amt), istr(bal + credit - held)} end
if after > MAX_AMOUNT then return {'RANGE'} end
local now = now_us()
redis.call('HINCRBY', KEYS[1], 'bal', istr(amt))
ledger(ARGV[4], ARGV[2], '', v[6], amt, v[5], ARGV[3], 'credit', now, 0, after)
idem_store(KEYS[2], ARGV[5], ARGV[2])
return {'OK', ARGV[2]}
