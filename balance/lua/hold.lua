-- hold: how a call's hold (API.md §8) ends or grows; prepended, after the prelude, the money
-- helpers and the tariff, to hold_end.lua, hold_extend.lua and hold_reap.lua. The hold
-- record is the hash {ROOT}:hold:HL_… that the admit wrote (call.lua; fields in keys.go).
-- Every function reads and checks before it writes, and checks the hold's state first, so
-- racing Settles, Voids, Extends and expiries resolve a hold once.

local function hold_read(hk)
  local r = redis.call('HGETALL', hk)
  if #r == 0 then return nil end
  local h = {}
  for i = 1, #r, 2 do h[r[i]] = r[i + 1] end
  return h
end

local function hold_tariff(h)
  local tf = {}
  for x in string.gmatch(h.tf, '%S+') do tf[#tf + 1] = tonumber(x) end
  return tf
end

-- hold_keys: the account keys of the hold's chain (path account first) and then the path
-- account's usage key, as refund and settle get them (payer_key, usage_of_path).
local function hold_keys(prefix, h)
  local keys = {}
  for id in string.gmatch(h.chain, '[^,]+') do keys[#keys + 1] = prefix .. 'acct:' .. id end
  keys[#keys + 1] = prefix .. 'usage:' .. h.acct
  return keys
end

-- hold_charge moves delta µ of charge for the hold (a negative delta gives back): off the
-- balance of the account that pays (the billing account, or the nearest open own balance
-- above it once it is closed or deleted; none: nothing moves), onto the route's charged usage
-- of the day the call opened (netted as refund does once that day was folded or compacted).
-- No floor check: the call happened. Answers false, having written nothing, when a value
-- cannot take the change.
local function hold_charge(prefix, h, delta)
  if delta == 0 then return true end
  local keys = hold_keys(prefix, h)
  local n = #keys - 1
  local target = payer_key(prefix, h.bill, keys, n)
  if not target then return true end
  local uk, d = usage_of_path(prefix, keys, n)
  local day = usage_period(uk, h.day, h.route, d)
  local fc = day .. '|' .. h.route .. '|' .. d .. 'c'
  local bal, chg = stored_int(redis.call('HGET', target, 'bal')), stored_int(redis.call('HGET', uk, fc))
  if not (bal and chg) or math.abs(bal - delta) > MAX_AMOUNT or math.abs(chg + delta) > MAX_AMOUNT then return false end
  redis.call('HINCRBY', target, 'bal', istr(-delta))
  redis.call('HINCRBY', uk, fc, istr(delta))
  return true
end

-- hold_release takes the hold's held amount off its billing account's held.
local function hold_release(prefix, h)
  local bk = prefix .. 'acct:' .. h.bill
  if redis.call('EXISTS', bk) == 1 and tonumber(h.held) ~= 0 then
    redis.call('HINCRBY', bk, 'held', istr(-tonumber(h.held)))
  end
end

-- hold_free frees the hold's slots and its place among the tree's open holds.
local function hold_free(prefix, h)
  for id in string.gmatch(h.chain, '[^,]+') do redis.call('ZREM', prefix .. 'slots:' .. id, h.id) end
  redis.call('ZREM', prefix .. 'holds', h.id)
end

local HOLD_STATUS = {d = 'settled', c = 'settled', v = 'voided', x = 'expired'}

-- hold_end ends the hold at hk by op: 'd' settle by a duration of val seconds, 'c' settle by
-- a cost of val µ, 'v' void, 'x' expire (the reaper: only once the hold is due; commit
-- charges the cost of its granted seconds, release nothing). An open hold is charged, its
-- held released, its slots freed, its record kept ret ms. An ended hold answers its record
-- again for the same op and value (a replay); a settle of an expired hold corrects its
-- charge once; anything else is 'ENDED'. Answers {word, the record as HGETALL}: 'OK',
-- 'REPLAY', 'ENDED', 'NOT_DUE', or {'NOT_FOUND'}, {'RANGE'}.
local function hold_end(hk, op, val, ret, now)
  local h = hold_read(hk)
  if not h then return {'NOT_FOUND'} end
  local prefix = string.match(hk, '^(.-}:)')
  local sig = op .. ':' .. val
  local settle = op == 'd' or op == 'c'
  local cost = 0
  if op == 'd' then
    local tf, d = hold_tariff(h), tonumber(val)
    if tf[1] * tariff_billed(tf, d) + 59 > MAX_AMOUNT then return {'RANGE'} end
    cost = tariff_cost(tf, d)
  elseif op == 'c' then
    cost = tonumber(val)
  end
  if h.status == 'open' then
    if op == 'x' then
      if now < tonumber(h.expires) then return {'NOT_DUE'} end
      if h.onexp == 'c' then cost = tariff_cost(hold_tariff(h), tonumber(h.granted)) end
    end
    if not hold_charge(prefix, h, cost) then return {'RANGE'} end
    hold_release(prefix, h)
    hold_free(prefix, h)
    redis.call('HSET', hk, 'status', HOLD_STATUS[op], 'charged', istr(cost), 'ended', istr(now), 'sig', sig)
    redis.call('PEXPIRE', hk, ret)
    return {'OK', redis.call('HGETALL', hk)}
  end
  if h.sig == sig then return {'REPLAY', redis.call('HGETALL', hk)} end
  if settle and h.status == 'expired' and not h.late then
    if not hold_charge(prefix, h, cost - tonumber(h.charged)) then return {'RANGE'} end
    redis.call('HSET', hk, 'status', 'settled', 'charged', istr(cost), 'sig', sig, 'late', '1')
    return {'OK', redis.call('HGETALL', hk)}
  end
  return {'ENDED', redis.call('HGETALL', hk)}
end
