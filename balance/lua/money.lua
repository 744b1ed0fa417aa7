-- money: helpers of the scripts that move money outside the hot path (prepended after the
-- prelude; the admit script does without them).
-- ledger writes one ledger record and indexes it under each side that is an account.
local function ledger(prefix, trid, from, to, amount, currency, ref, kind, now, from_after, to_after)
  local k = prefix .. 'tr:' .. trid
  redis.call('HSET', k, 'id', trid, 'from', from, 'to', to, 'amount', istr(amount), 'currency', currency,
    'reference', ref, 'kind', kind, 'created', istr(now), 'from_after', istr(from_after), 'to_after', istr(to_after))
  if from ~= '' then redis.call('ZADD', prefix .. 'ledger:' .. from, istr(now), trid) end
  if to ~= '' then redis.call('ZADD', prefix .. 'ledger:' .. to, istr(now), trid) end
end
-- billing returns the first key in keys[from..] whose account has its own balance.
local function billing(keys, from)
  for i = from, #keys do
    if redis.call('HGET', keys[i], 'own') == '1' then return keys[i] end
  end
  return nil
end
-- sum_into adds v to acc[k] (from 0), keeping in order the keys in the order first seen, and
-- answers the sum (delete's fold and compact's months sum usage counters this way).
local function sum_into(acc, order, k, v)
  if not acc[k] then
    acc[k] = 0
    order[#order + 1] = k
  end
  acc[k] = acc[k] + v
  return acc[k]
end
-- stored_int reads an integer field a script is about to add to (a balance or a usage
-- counter; absent reads as 0): its value, or nil when it is not a decimal integer within
-- +-MAX_AMOUNT. A script checks every such field before its first write and answers an error
-- instead of failing halfway, since Redis keeps whatever a failing script wrote before.
local function stored_int(v)
  if not v then return 0 end
  if not string.match(v, '^%-?%d+$') then return nil end
  local x = tonumber(v)
  if x > MAX_AMOUNT or x < -MAX_AMOUNT then return nil end
  return x
end
-- usage_of_path returns where a refund or a settlement of a request admitted on the path
-- account keys[1] nets its usage: the path account's usage hash keys[n + 1] and kind prefix
-- '', or, once that account has been deleted (its usage hash gone, folded into the one of
-- the account that deleted it; see delete.lua), the usage hash of the nearest account above
-- it in keys[2..n] that has one — where the fold went — and 'd' (the folded counters).
local function usage_of_path(prefix, keys, n)
  if redis.call('EXISTS', keys[n + 1]) == 1 then return keys[n + 1], '' end
  for i = 2, n do
    local uk = prefix .. 'usage:' .. string.sub(keys[i], #prefix + 6)
    if redis.call('EXISTS', uk) == 1 then return uk, 'd' end
  end
  return keys[n + 1], ''
end
-- usage_period returns the period of uk's counters that a refund or a settlement of a
-- request admitted on day nets (d = usage_of_path's kind prefix): the day while its counters
-- are kept (the admit wrote its count), else the month 'YYYY-MM' they were moved into
-- (compact.lua), so that nothing is netted twice or into a day the sums no longer hold.
local function usage_period(uk, day, route, d)
  if redis.call('HEXISTS', uk, day .. '|' .. route .. '|' .. d .. 'n') == 1 then return day end
  return string.sub(day, 1, 7)
end
-- idem_check answers a replay: nil when the key is new, {'IDEM', transfer_id} when the same
-- request was done before, {'IDEM_REUSED'} when the key was used for a different request.
local function idem_check(key, reqhash)
  if reqhash == '' then return nil end
  local v = redis.call('GET', key)
  if not v then return nil end
  local sep = string.find(v, '|', 1, true)
  if string.sub(v, 1, sep - 1) ~= reqhash then return {'IDEM_REUSED'} end
  return {'IDEM', string.sub(v, sep + 1)}
end
local IDEM_TTL_MS = 172800000 -- 48 hours: keys live at least 24 hours
local function idem_store(key, reqhash, trid)
  if reqhash ~= '' then redis.call('SET', key, reqhash .. '|' .. trid, 'PX', IDEM_TTL_MS) end
end
-- payer_key returns the key of the account that pays back or settles a request billed to
-- bid: bid itself while it is open, else (it was closed or deleted since, its balance went up the tree)
-- the nearest open account with an own balance above it among keys[1..n]; nil if none.
local function payer_key(prefix, bid, keys, n)
  local target = prefix .. 'acct:' .. bid
  local st = redis.call('HGET', target, 'status')
  if st and st ~= 'closed' then return target end
  local above = false
  for i = 1, n do
    local r = redis.call('HMGET', keys[i], 'id', 'own', 'status')
    if above and r[2] == '1' and r[3] and r[3] ~= 'closed' then return keys[i] end
    if keys[i] == target then above = true end -- by key: a deleted account has no id left
  end
  return nil
end
