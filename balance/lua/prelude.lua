-- prelude: shared by every script of the gateway (prepended when the script is built).
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- istr formats an integer-valued number exactly (tostring would use %.14g and lose digits);
-- every number a script writes or returns goes through it.
local function istr(x) return string.format('%.0f', x) end
local MAX_AMOUNT = 9007199254740991
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
-- bid: bid itself while it is open, else (it was closed since, its balance went up the tree)
-- the nearest open account with an own balance above it among keys[1..n]; nil if none.
local function payer_key(prefix, bid, keys, n)
  local target = prefix .. 'acct:' .. bid
  local st = redis.call('HGET', target, 'status')
  if st and st ~= 'closed' then return target end
  local above = false
  for i = 1, n do
    local r = redis.call('HMGET', keys[i], 'id', 'own', 'status')
    if above and r[2] == '1' and r[3] and r[3] ~= 'closed' then return keys[i] end
    if r[1] == bid then above = true end
  end
  return nil
end
-- Refund markers live in hashes of up to 4096 consecutive request ids (the gateway's ids end
-- in a hex counter): the marker of request id R is field <R's last 3 characters> of
-- {ROOT}:rf:<R without them>; an id of 3 characters or fewer is field R of {ROOT}:rf:.
-- (Go: MarkerKey.) A marker hash expires MarkerTTL after its last admit.
local function marker_key(prefix, rid)
  if #rid <= 3 then return prefix .. 'rf:' end
  return prefix .. 'rf:' .. string.sub(rid, 1, -4)
end
local function marker_field(rid)
  if #rid <= 3 then return rid end
  return string.sub(rid, -3)
end
