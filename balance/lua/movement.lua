-- movement: what a movement between a parent and a direct child checks first, and how it
-- ends (move, below); prepended to transfer.lua and credit_transfer.lua, which decide in
-- between what the giver can afford, after the money helpers. KEYS[1] = the parent
-- ({auth_id}), KEYS[2] = the child, KEYS[3] = idempotency key; ARGV[1] amount (µ; > 0 parent →
-- child, < 0 child → parent), ARGV[2] transfer id, ARGV[4] key prefix, ARGV[5] request hash
-- ('' = no key).
-- movement() returns the answer to give at once — {'IDEM', transfer_id} for a resend of this
-- very call (its record exists) or a replay of the idempotency key, or a refusal — or nil and
-- the giving side, the receiving side (each HMGET status, own, bal, credit, currency, id),
-- their keys and the positive amount. Both sides must be open, with their own balance, and
-- KEYS[2] must be a child of KEYS[1].
local function movement()
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
  if amt < 0 then return nil, c, p, KEYS[2], KEYS[1], -amt end
  return nil, p, c, KEYS[1], KEYS[2], amt
end

-- move(field, i, kind, from, to, fk, tk, amt) ends a movement the giver can afford: 'RANGE'
-- when the receiver's field (its HMGET index i) would go above MAX, else amt of field goes
-- from the giver to the receiver, the ledger records it as kind (from_after and to_after the
-- two fields after it), the idempotency key is stored, and the answer is {'OK', transfer_id}.
local function move(field, i, kind, from, to, fk, tk, amt)
  if tonumber(to[i]) + amt > MAX_AMOUNT then return {'RANGE'} end
  local now = now_us()
  local fa = redis.call('HINCRBY', fk, field, istr(-amt))
  local ta = redis.call('HINCRBY', tk, field, istr(amt))
  ledger(ARGV[4], ARGV[2], from[6], to[6], amt, from[5], ARGV[3], kind, now, fa, ta)
  idem_store(KEYS[3], ARGV[5], ARGV[2])
  return {'OK', ARGV[2]}
end
