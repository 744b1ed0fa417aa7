-- admit: the whole decision for one proxied request, in one atomic step.
-- KEYS[1..n] = account hashes of the path account's chain, path account first, root last;
-- KEYS[n+1] = the path account's usage hash.
-- ARGV[1] position (1-based) of the caller in KEYS, ARGV[2] SHA-256 hex of the caller's token,
-- ARGV[3] permission field the route needs ('p_calls', 'p_sms', 'p_cdr'; '' = none),
-- ARGV[4] '1' when the route is KYC-gated, ARGV[5] price (µ, >= 0), ARGV[6] route name,
-- ARGV[7] request id (the refund marker is {ROOT}:rf:<id>), ARGV[8] marker lifetime (ms).
--
-- Checks, in this order, and writes nothing unless every one passes:
--   the caller exists, is not closed and the token is live (tok, or tok_prev before
--   tok_prev_exp)                                               -> 1 INVALID_CREDENTIALS
--   every account of the chain exists and is not closed          -> 2 FORBIDDEN (the one gone)
--   every status is active (topmost offender named)              -> 3 ACCOUNT_SUSPENDED
--   the permission flag is '1' everywhere (topmost offender)     -> 4 PERMISSION_DENIED
--   KYC-gated: no customer_use account that is not verified      -> 5 KYC_REQUIRED
--   GCRA of every account's rate (burst = one second's worth)    -> 6 RATE_LIMITED (the one
--                                                                     that must be waited for longest)
--   the billing account (nearest own = '1' from the path account up) keeps
--   bal - price >= -credit (only checked when price > 0)         -> 7 INSUFFICIENT_BALANCE
-- Then: every tat, the debit, usage '<day>|<route>|n' += 1 and '|c' += price on the path
-- account, last_used on the caller (at most once a second), and the marker "a|<billing>|<price>|<day>|<route>".
--
-- Answers {code, account id, charge, billing id, limit, remaining, reset or retry (ms), available}:
--   admitted (code 0): charge = price, limit/remaining/reset of the tightest rate in the chain;
--   6: limit of the offender, remaining 0, retry-after ms; 7: available = bal + credit.
local n = #KEYS - 1
local pos = tonumber(ARGV[1])
local perm = ARGV[3]
local price = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

-- 1. read the chain (the caller's token fields and last_used with its own record), then
-- 2. check the caller's credentials before anything else, then that the chain exists.
local pf = perm
if pf == '' then pf = 'id' end
local v = {}
for i = 1, n do
  if i == pos then
    v[i] = redis.call('HMGET', KEYS[i], 'id', 'status', 'rate', 'tat', 'own', 'bal', 'credit', 'kyc_mode', 'kyc_status', pf,
      'tok', 'tok_prev', 'tok_prev_exp', 'last_used')
  else
    v[i] = redis.call('HMGET', KEYS[i], 'id', 'status', 'rate', 'tat', 'own', 'bal', 'credit', 'kyc_mode', 'kyc_status', pf)
  end
end
local c = v[pos]
if not c[1] or c[2] == 'closed' then return {1, c[1] or '', 0, '', 0, 0, 0, 0} end
local th = ARGV[2]
if not (c[11] == th or (c[12] and c[12] == th and now < tonumber(c[13] or '0'))) then
  return {1, c[1], 0, '', 0, 0, 0, 0}
end
for i = 1, n do
  local r = v[i]
  if not r[1] or r[2] == 'closed' then
    return {2, r[1] or string.match(KEYS[i], ':acct:(.*)$'), 0, '', 0, 0, 0, 0}
  end
end

-- 3. status, 4. permission, 5. KYC; the topmost offender is named.
for i = n, 1, -1 do
  if v[i][2] ~= 'active' then return {3, v[i][1], 0, '', 0, 0, 0, 0} end
end
if perm ~= '' then
  for i = n, 1, -1 do
    if v[i][10] ~= '1' then return {4, v[i][1], 0, '', 0, 0, 0, 0} end
  end
end
if ARGV[4] == '1' then
  for i = n, 1, -1 do
    if v[i][8] == 'customer_use' and v[i][9] ~= 'verified' then return {5, v[i][1], 0, '', 0, 0, 0, 0} end
  end
end

-- 6. GCRA for every account that has a rate.
local newtat = {}
local worst, worstRetry = 0, -1
local tight, tightRem, tightReset = 0, -1, 0
for i = 1, n do
  local rate = tonumber(v[i][3] or '0') or 0
  if rate > 0 then
    local T = math.ceil(1000000 / rate)
    local tat = tonumber(v[i][4] or '0') or 0
    if tat < now then tat = now end
    local nt = tat + T
    local diff = now - (nt - T * rate)
    if diff < 0 then
      if -diff > worstRetry then worst, worstRetry = i, -diff end
    else
      newtat[i] = nt
      local rem = math.floor(diff / T)
      if tightRem < 0 or rem < tightRem or (rem == tightRem and rate < tonumber(v[tight][3])) then
        tight, tightRem, tightReset = i, rem, nt - now
      end
    end
  end
end
if worst > 0 then
  return {6, v[worst][1], 0, '', tonumber(v[worst][3]), 0, math.ceil(worstRetry / 1000), 0}
end

-- 7. the billing account
local b = 0
for i = 1, n do
  if v[i][5] == '1' then b = i break end
end
if b == 0 then return {7, v[1][1], 0, '', 0, 0, 0, 0} end
if price > 0 then
  local bal = tonumber(v[b][6] or '0')
  local credit = tonumber(v[b][7] or '0')
  if bal - price < -credit then return {7, v[b][1], 0, v[b][1], 0, 0, 0, bal + credit} end
end

-- Every check passed: write.
local function num(x) return string.format('%.0f', x) end
-- last_used is stamped at most once a second (to the second), saving a write per request.
local stamp = now - tonumber(c[14] or '0') >= 1000000
for i = 1, n do
  if i == pos and stamp then
    if newtat[i] then
      redis.call('HSET', KEYS[i], 'tat', num(newtat[i]), 'last_used', num(now))
    else
      redis.call('HSET', KEYS[i], 'last_used', num(now))
    end
    stamp = false
  elseif newtat[i] then
    redis.call('HSET', KEYS[i], 'tat', num(newtat[i]))
  end
end
if price > 0 then redis.call('HINCRBY', KEYS[b], 'bal', num(-price)) end
-- the UTC day of the store's clock (days since the epoch to a civil date)
local z = math.floor(tonumber(t[1]) / 86400) + 719468
local era = math.floor(z / 146097)
local doe = z - era * 146097
local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
local mp = math.floor((5 * doy + 2) / 153)
local d = doy - math.floor((153 * mp + 2) / 5) + 1
local m = mp + 3
if mp >= 10 then m = mp - 9 end
local y = yoe + era * 400
if m <= 2 then y = y + 1 end
local day = string.format('%04d-%02d-%02d', y, m, d)
local route = ARGV[6]
redis.call('HINCRBY', KEYS[n + 1], day .. '|' .. route .. '|n', 1)
redis.call('HINCRBY', KEYS[n + 1], day .. '|' .. route .. '|c', num(price))
local prefix = string.match(KEYS[1], '^(.-}:)')
redis.call('SET', prefix .. 'rf:' .. ARGV[7], 'a|' .. v[b][1] .. '|' .. num(price) .. '|' .. day .. '|' .. route,
  'PX', tonumber(ARGV[8]))
if tight == 0 then return {0, '', price, v[b][1], 0, 0, 0, 0} end
return {0, '', price, v[b][1], tonumber(v[tight][3]), tightRem, math.ceil(tightReset / 1000), 0}
