-- update: KEYS[1] = account, KEYS[2..] = its ancestors, parent first, root last.
-- ARGV[1] new status or '', ARGV[2] own balance wanted '1' / '0' / '', ARGV[3] transfer id
-- for the balance returned on close, ARGV[4] closed retention (ms), ARGV[5] key prefix
-- '{ROOT}:', ARGV[6] comma-separated fields to delete, ARGV[7..] field, value, ... to set.
-- Closing a subaccount gives its balance, its credit_limit and its phone numbers to the parent.
-- Answers {'OK'} or {word, detail}.
local a = KEYS[1]
local cur = redis.call('HMGET', a, 'status', 'own', 'kids', 'bal', 'currency', 'id', 'parent')
if not cur[1] then return {'NOT_FOUND'} end
if cur[1] == 'closed' then return {'CLOSED'} end
local now = now_us()
local newst = ARGV[1]
if newst ~= '' and newst ~= cur[1] then
  for i = 2, #KEYS do
    if redis.call('HGET', KEYS[i], 'status') ~= 'active' then return {'PARENT_SUSPENDED', redis.call('HGET', KEYS[i], 'id')} end
  end
end
if ARGV[2] == '0' and cur[2] == '1' then return {'SHARED'} end
if newst == 'closed' and cur[1] ~= 'closed' and tonumber(cur[3]) > 0 then return {'HAS_SUB'} end
-- A main account has no parent to take its balance: it closes only at zero, so that closing
-- never makes money disappear with the record.
if newst == 'closed' and cur[1] ~= 'closed' and #KEYS == 1 and tonumber(cur[4] or '0') ~= 0 then return {'BALANCE'} end
-- Closing a subaccount returns its credit_limit, with its balance, to the parent's billing
-- account (a record of kind credit_transfer, id ARGV[3] .. 'C'), so that the credit in a tree
-- changes only by the operator. Checked here, written below.
local closing = newst == 'closed' and cur[1] ~= 'closed' and #KEYS >= 2
local ccredit, cbill = 0, nil
if closing then
  ccredit = stored_int(redis.call('HGET', a, 'credit'))
  cbill = billing(KEYS, 2)
  if not ccredit then return redis.error_reply('ERR update ' .. cur[6] .. ': credit_limit is not an amount') end
  if ccredit > 0 and cbill then
    local bc = stored_int(redis.call('HGET', cbill, 'credit'))
    if not bc or bc + ccredit > MAX_AMOUNT then return {'RANGE'} end
  end
end
-- every check passed: write.
if ARGV[2] == '1' and cur[2] ~= '1' then
  redis.call('HSET', a, 'own', '1', 'bal', '0')
  cur[2] = '1'
  cur[4] = '0'
end
if #ARGV >= 7 then redis.call('HSET', a, unpack(ARGV, 7)) end
if ARGV[6] ~= '' then
  for f in string.gmatch(ARGV[6], '[^,]+') do redis.call('HDEL', a, f) end
end
if newst ~= '' then redis.call('HSET', a, 'status', newst) end
redis.call('HSET', a, 'updated', istr(now))
if newst == 'closed' and cur[1] ~= 'closed' then
  local bal = tonumber(cur[4] or '0')
  if cur[2] == '1' and bal ~= 0 then
    local b = billing(KEYS, 2)
    if b then
      local to_after = redis.call('HINCRBY', b, 'bal', istr(bal))
      redis.call('HSET', a, 'bal', '0')
      ledger(ARGV[5], ARGV[3], cur[6], redis.call('HGET', b, 'id'), bal, cur[5], '', 'close', now, 0, to_after)
    end
  end
  if closing and ccredit > 0 and cbill then
    local to_after = redis.call('HINCRBY', cbill, 'credit', istr(ccredit))
    redis.call('HSET', a, 'credit', '0')
    ledger(ARGV[5], ARGV[3] .. 'C', cur[6], redis.call('HGET', cbill, 'id'), ccredit, cur[5], '', 'credit_transfer', now, 0, to_after)
  end
  if #KEYS >= 2 then redis.call('HINCRBY', KEYS[2], 'kids', -1) end
  -- its phone numbers go to the parent (a main account keeps its own: the operator removes them)
  if closing then give_numbers(ARGV[5], cur[6], cur[7], now) end
  redis.call('HSET', a, 'closed', istr(now))
  redis.call('PEXPIRE', a, ARGV[4])
end
return {'OK'}
