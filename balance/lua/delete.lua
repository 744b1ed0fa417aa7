-- delete: KEYS[1] = the account to delete, KEYS[2] = its parent, KEYS[3] = the parent's kids
-- set, KEYS[4..] = the parent's ancestors (parent's parent .. root). ARGV[1] cascade '1'/'0',
-- ARGV[2] transfer id prefix, ARGV[3] key prefix '{ROOT}:'.
-- Deletes the account (and with cascade its whole subtree; closed children always go with
-- it). Own balances move to the parent's billing account as ledger records of kind 'delete'.
-- The subtree's keys are found through the kids sets; all carry the same hash tag.
-- Answers {'OK', id, id, ...} (every deleted id) or {word}.
local P = ARGV[3]
local target = redis.call('HMGET', KEYS[1], 'id', 'status')
if not target[1] then return {'NOT_FOUND'} end
-- collect the subtree breadth-first
local ids = {target[1]}
local i = 1
while i <= #ids do
  local kids = redis.call('ZRANGE', P .. 'kids:' .. ids[i], 0, -1)
  for _, k in ipairs(kids) do
    if redis.call('EXISTS', P .. 'acct:' .. k) == 1 then
      if ARGV[1] ~= '1' and i == 1 and redis.call('HGET', P .. 'acct:' .. k, 'status') ~= 'closed' then
        return {'HAS_SUB'}
      end
      ids[#ids + 1] = k
    end
  end
  i = i + 1
end
if ARGV[1] ~= '1' and #ids > 1 then
  -- only closed children: they go with it
  for j = 2, #ids do
    if redis.call('HGET', P .. 'acct:' .. ids[j], 'kids') ~= '0' then return {'HAS_SUB'} end
  end
end
local now = now_us()
local bkeys = {KEYS[2]}
for j = 4, #KEYS do bkeys[#bkeys + 1] = KEYS[j] end
local b = billing(bkeys, 1)
local bid = b and redis.call('HGET', b, 'id') or ''
local n = 0
for j = #ids, 1, -1 do
  local k = P .. 'acct:' .. ids[j]
  local v = redis.call('HMGET', k, 'own', 'bal', 'currency')
  local bal = tonumber(v[2] or '0')
  if v[1] == '1' and bal ~= 0 and b then
    n = n + 1
    local after = redis.call('HINCRBY', b, 'bal', istr(bal))
    ledger(P, ARGV[2] .. n, ids[j], bid, bal, v[3], '', 'delete', now, 0, after)
  end
  redis.call('DEL', k, P .. 'kids:' .. ids[j], P .. 'usage:' .. ids[j], P .. 'ledger:' .. ids[j])
end
redis.call('ZREM', KEYS[3], target[1])
if target[2] ~= 'closed' then redis.call('HINCRBY', KEYS[2], 'kids', -1) end
local out = {'OK'}
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
