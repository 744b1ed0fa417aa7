-- The reference admit for TestAdmitClosedFormSameAsSequential: the admit script as it was
-- before runs of identical requests were decided in closed form, deciding every request on
-- its own. Not loaded by the store.
-- admit: the whole decision for each of a batch of proxied requests. Every request is one
-- atomic step, decided in order exactly as if each ran alone (a later request of the batch
-- sees the debits and rate state of the earlier ones); they share one reading of the clock.
-- A batch of one is the plain case. Batching the requests that are in flight together
-- reads each account once and writes it once per batch instead of once per request.
--
-- KEYS[1..a] = the account hashes the batch touches, KEYS[a+1..] = their usage hashes.
-- ARGV[1] marker lifetime (ms), ARGV[2] a, ARGV[3] m = number of requests, ARGV[4] where the
-- markers go (marker_key: 'rf:', or '{ROOT}:rf:' on a Redis Cluster), ARGV[5] their
-- tombstone flag (not read here); then per request
-- either '=' and reqid (the same request as the one before, but for its id) or these 8:
--   spec      u c1 c2 … cn, two bytes each (big endian): index in KEYS of the path account's usage hash, then of its chain
--             (path account first, root last); c1 + 32768 flags a hint the reference ignores
--   pos       position (1-based) of the caller in the chain
--   token     SHA-256 hex of the caller's token
--   perm      permission field the route needs ('p_calls', 'p_sms', 'p_cdr'; '' = none)
--   kyc       '1' when the route is KYC-gated
--   price     µ, >= 0
--   route     route name (usage counters)
--   reqid     request id (its refund marker is field marker_field(reqid) of marker_key(reqid))
--
-- Checks for each request, in this order, and writes nothing for it unless every one passes:
--   the caller exists, is not closed and the token is live (tok, or tok_prev before
--   tok_prev_exp)                                               -> 1 INVALID_CREDENTIALS
--   every account of the chain exists and is not closed          -> 2 FORBIDDEN (the one gone)
--   every status is active (topmost offender named)              -> 3 ACCOUNT_SUSPENDED
--   the permission flag is '1' everywhere (topmost offender)     -> 4 PERMISSION_DENIED
--   KYC-gated: no customer_use account that is not verified      -> 5 KYC_REQUIRED
--   GCRA of every account's rate (burst = one second's worth)    -> 6 RATE_LIMITED (the one
--                                                                     that must be waited for longest)
--   the billing account (nearest own = '1' from the path account up) keeps
--   bal - held - price >= -credit (only checked when price > 0; held: open calls' holds)         -> 7 INSUFFICIENT_BALANCE
-- An admitted request moves every tat, debits the billing account, adds 1 to
-- '<day>|<route>|n' and price to '|c' of the path account's usage, stamps last_used on the
-- caller (at most once a second) and writes the marker "a|<billing>|<price>|<day>|<route>".
-- All reads happen before any write, so a store error leaves nothing half done.
--
-- Cost: each account is read once (HMGET) and written once (HSET) per batch, usage once per
-- (account, route), and the markers of the batch in one HSET per marker hash. The checks
-- that depend only on fields an admit never changes (tokens, status, permissions, KYC, who
-- pays) are done once for a run of identical requests; rate and balance for each.
--
-- Answers an array of 8 integers per request, in order: code, who, charge, payer, limit,
-- remaining, reset, available. who and payer are positions (1-based) in that request's chain
-- of the account named (0 = none); admitted (code 0): charge = price, limit/remaining/reset
-- (ms) of the tightest rate in the chain; 6: limit of the offender and reset = retry-after
-- (ms); 7: available = bal + credit - held. (Integers rather than text: Redis writes them out
-- without Lua formatting any number.)
-- Globals and library functions used per admit, as locals (a local is a register; a global
-- is a table lookup each time).
local ARGV, KEYS, tonumber = ARGV, KEYS, tonumber
local floor, ceil, sub = math.floor, math.ceil, string.sub
local ttl = tonumber(ARGV[1])
local a = tonumber(ARGV[2])
local m = tonumber(ARGV[3])
local markers = ARGV[4] -- where the markers go: marker_key(markers, reqid)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

-- Read every account once, before any write: the fields every admit needs, plus the
-- permission fields this batch's routes need.
local F = {'id', 'status', 'rate', 'tat', 'own', 'bal', 'credit', 'kyc_mode', 'kyc_status', 'tok', 'last_used', 'held'}
local NF = #F
do
  local seen, i = {}, 6
  for _ = 1, m do
    if ARGV[i] == '=' then
      i = i + 2
    else
      local p = ARGV[i + 3]
      if p ~= '' and not seen[p] then seen[p] = true F[#F + 1] = p end
      i = i + 9
    end
  end
end
local S = {}
for i = 1, a do
  local r = redis.call('HMGET', KEYS[i], unpack(F))
  if r[1] then
    local rate = tonumber(r[3] or '0') or 0
    local s = {id = r[1], status = r[2], rate = rate, T = rate > 0 and ceil(1000000 / rate) or 0, tat = tonumber(r[4] or '0') or 0,
      own = r[5], bal = tonumber(r[6] or '0'), credit = tonumber(r[7] or '0'), kyc_mode = r[8], kyc_status = r[9],
      tok = r[10], last_used = tonumber(r[11] or '0'), held = tonumber(r[12] or '0') or 0, key = KEYS[i], wtat = false, wbal = false, stamp = false}
    for f = NF + 1, #F do s[F[f]] = r[f] end
    S[i] = s
  else
    S[i] = false
  end
end

-- the UTC day of the store's clock (days since the epoch to a civil date)
local z = math.floor(tonumber(t[1]) / 86400) + 719468
local era = math.floor(z / 146097)
local doe = z - era * 146097
local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
local mp = math.floor((5 * doy + 2) / 153)
local d = doy - math.floor((153 * mp + 2) / 5) + 1
local mo = mp + 3
if mp >= 10 then mo = mp - 9 end
local y = yoe + era * 400
if mo <= 2 then y = y + 1 end
local day = string.format('%04d-%02d-%02d', y, mo, d)

-- out is the answer: 8 integers per request, appended in order (see the top).
local out, no = {}, 0
local function answer(code, who, charge, payer, limit, rem, reset, avail)
  out[no + 1], out[no + 2], out[no + 3], out[no + 4] = code, who, charge, payer
  out[no + 5], out[no + 6], out[no + 7], out[no + 8] = limit, rem, reset, avail
  no = no + 8
end
-- a refusal of the static checks, kept as a table to answer a run of alike requests
local function refused(code, who, charge, payer, limit, rem, reset, avail)
  return {code, who, charge, payer, limit, rem, reset, avail}
end

-- live reports whether th is a live token of account s (tok, or tok_prev before its expiry;
-- tok_prev is only read when tok does not match, which is rare).
local function live(s, th)
  if s.tok == th then return true end
  if s.tok_prev == nil then
    local r = redis.call('HMGET', s.key, 'tok_prev', 'tok_prev_exp')
    s.tok_prev, s.tok_prev_exp = r[1] or false, tonumber(r[2] or '0') or 0
  end
  return s.tok_prev ~= false and s.tok_prev == th and now < s.tok_prev_exp
end

-- static: the checks that no admit changes the outcome of (credentials, the chain, status,
-- permission, KYC) and who pays. Answers a refusal (8 integers), or nil and the billing position.
local function static(ch, pos, th, perm, kyc)
  local n = #ch - 1
  local c = S[ch[pos + 1]]
  if not c then return refused(1, 0, 0, 0, 0, 0, 0, 0) end
  if c.status == 'closed' or not live(c, th) then return refused(1, pos, 0, 0, 0, 0, 0, 0) end
  for i = 1, n do
    local s = S[ch[i + 1]]
    if not s or s.status == 'closed' then return refused(2, i, 0, 0, 0, 0, 0, 0) end
  end
  for i = n, 1, -1 do
    if S[ch[i + 1]].status ~= 'active' then return refused(3, i, 0, 0, 0, 0, 0, 0) end
  end
  if perm ~= '' then
    for i = n, 1, -1 do
      if S[ch[i + 1]][perm] ~= '1' then return refused(4, i, 0, 0, 0, 0, 0, 0) end
    end
  end
  if kyc == '1' then
    for i = n, 1, -1 do
      local s = S[ch[i + 1]]
      if s.kyc_mode == 'customer_use' and s.kyc_status ~= 'verified' then return refused(5, i, 0, 0, 0, 0, 0, 0) end
    end
  end
  for i = 1, n do
    if S[ch[i + 1]].own == '1' then return nil, i end
  end
  return refused(7, 1, 0, 0, 0, 0, 0, 0)
end

local usage, uorder = {}, {}
local marks, mbuckets = {}, {}
local newtat = {}
local pmbs, pmprice, pmroute, pmval -- the last marker value built, reused by a run of alike
local pu, puch, puroute -- the last usage entry, likewise

-- dynamic: the rate limits and the balance for a request that passed static, and its effects;
-- appends its answer.
local function dynamic(ch, pos, b, price, route, reqid)
  local n = #ch - 1
  -- GCRA for every account that has a rate.
  local worst, worstRetry = 0, -1
  local tight, tightRem, tightReset = 0, -1, 0
  for i = 1, n do
    newtat[i] = false
    local s = S[ch[i + 1]]
    local rate = s.rate
    if rate > 0 then
      local T = s.T
      local tat = s.tat
      if tat < now then tat = now end
      local nt = tat + T
      local diff = now - (nt - T * rate)
      if diff < 0 then
        if -diff > worstRetry then worst, worstRetry = i, -diff end
      else
        newtat[i] = nt
        local rem = floor(diff / T)
        if tightRem < 0 or rem < tightRem or (rem == tightRem and rate < S[ch[tight + 1]].rate) then
          tight, tightRem, tightReset = i, rem, nt - now
        end
      end
    end
  end
  if worst > 0 then
    return answer(6, worst, 0, 0, S[ch[worst + 1]].rate, 0, ceil(worstRetry / 1000), 0)
  end
  local bs = S[ch[b + 1]]
  if price > 0 and bs.bal - bs.held - price < -bs.credit then
    return answer(7, b, 0, b, 0, 0, 0, bs.bal + bs.credit - bs.held)
  end
  -- Admitted: apply to the batch's state (written once, at the end).
  for i = 1, n do
    if newtat[i] then
      local s = S[ch[i + 1]]
      s.tat, s.wtat = newtat[i], true
    end
  end
  -- last_used is stamped at most once a second (to the second), saving a write per request.
  local c = S[ch[pos + 1]]
  if now - c.last_used >= 1000000 then c.last_used, c.stamp = now, true end
  if price > 0 then bs.bal, bs.wbal = bs.bal - price, true end
  local u = pu
  if not (ch == puch and route == puroute) then
    local uk = ch[1] .. '|' .. route
    u = usage[uk]
    if not u then
      u = {ch[1], route, 0, 0}
      usage[uk] = u
      uorder[#uorder + 1] = u
    end
    pu, puch, puroute = u, ch, route
  end
  u[3], u[4] = u[3] + 1, u[4] + price
  -- the marker, into the batch's list for its marker hash
  local bucket, field = '', reqid -- marker_split, inline
  if #reqid > 1 then bucket, field = sub(reqid, 1, -2), sub(reqid, -1) end
  local mb = marks[bucket]
  if not mb then
    mb = {}
    marks[bucket] = mb
    mbuckets[#mbuckets + 1] = {markers .. bucket, mb}
  end
  if not (bs == pmbs and price == pmprice and route == pmroute) then
    pmbs, pmprice, pmroute = bs, price, route
    pmval = 'a|' .. bs.id .. '|' .. istr(price) .. '|' .. day .. '|' .. route
  end
  mb[#mb + 1] = field
  mb[#mb + 1] = pmval
  if tight == 0 then return answer(0, 0, price, b, 0, 0, 0, 0) end
  return answer(0, 0, price, b, S[ch[tight + 1]].rate, tightRem, ceil(tightReset / 1000), 0)
end

local specs = {}
-- A run of identical requests (the common case under load) comes as '=' after the first:
-- its static checks are done once, its rate and balance checks for each.
local i = 6
local ch, pos, th, perm, kyc, price, route, refusal, b
for j = 1, m do
  local reqid
  if ARGV[i] == '=' then
    reqid = ARGV[i + 1]
    i = i + 2
  else
    local spec = ARGV[i]
    ch = specs[spec]
    if not ch then
      ch = {}
      for x = 1, #spec, 2 do ch[#ch + 1] = string.byte(spec, x) * 256 + string.byte(spec, x + 1) end
      if ch[2] >= 32768 then ch[2] = ch[2] - 32768 end -- the hint that the path account pays
      specs[spec] = ch
    end
    pos, th, perm, kyc = tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    price, route, reqid = tonumber(ARGV[i + 5]), ARGV[i + 6], ARGV[i + 7]
    i = i + 9 -- the 9th, the call, is not modelled here: plain routes only
    refusal, b = static(ch, pos, th, perm, kyc)
  end
  if refusal then
    answer(unpack(refusal))
  else
    dynamic(ch, pos, b, price, route, reqid)
  end
end

-- Write: each changed account once, usage once per (account, route), the markers in one
-- HSET per marker hash (whose lifetime restarts with each write).
local w = {}
for i = 1, a do
  local s = S[i]
  if s and (s.wtat or s.wbal or s.stamp) then
    local k = 0
    if s.wtat then w[k + 1] = 'tat'; w[k + 2] = istr(s.tat); k = k + 2 end
    if s.wbal then w[k + 1] = 'bal'; w[k + 2] = istr(s.bal); k = k + 2 end
    if s.stamp then w[k + 1] = 'last_used'; w[k + 2] = istr(s.last_used); k = k + 2 end
    redis.call('HSET', KEYS[i], unpack(w, 1, k))
  end
end
for _, u in ipairs(uorder) do
  local f = day .. '|' .. u[2]
  redis.call('HINCRBY', KEYS[u[1]], f .. '|n', u[3])
  redis.call('HINCRBY', KEYS[u[1]], f .. '|c', istr(u[4]))
end
for _, mb in ipairs(mbuckets) do
  redis.call('HSET', mb[1], unpack(mb[2]))
  redis.call('PEXPIRE', mb[1], ttl)
end
return out
