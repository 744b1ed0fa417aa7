-- admit: the whole decision for each of a batch of proxied requests. Every request is one
-- atomic step, decided in order exactly as if each ran alone (a later request of the batch
-- sees the debits and rate state of the earlier ones); they share one reading of the clock.
-- A batch of one is the plain case. Batching the requests that are in flight together
-- reads each account once and writes it once per batch instead of once per request.
--
-- KEYS[1..a] = the account hashes the batch touches, KEYS[a+1..] = their usage hashes.
-- ARGV[1] marker lifetime (ms), ARGV[2] a, ARGV[3] m = number of requests, ARGV[4] where the
-- markers go (marker_key: 'rf:', or '{ROOT}:rf:' on a Redis Cluster, whose call holds one
-- tree), ARGV[5] the flag that a tombstone may be among them ('tombs', '{ROOT}:tombs'); then
-- per request
-- either '=' and reqid (the same request as the one before, but for its id) or these 10:
--   spec      u c1 c2 … cn, each two bytes (big endian): index in KEYS of the path account's
--             usage hash, then of its chain (path account first, root last); c1 + 32768 when
--             the path account is thought to pay (a hint: its money is read up front)
--   pos       position (1-based) of the caller in the chain
--   token     SHA-256 hex of the caller's token
--   perm      permission field the route needs ('p_calls', 'p_sms', 'p_cdr'; '' = none)
--   kyc       '1' when the route is KYC-gated
--   price     µ, >= 0
--   route     route name (usage counters)
--   reqid     request id (its refund marker is field marker_field(reqid) of marker_key(reqid))
--   number    the caller-ID number the path account must own ('' = the route checks none)
--   call      '' for a plain route, else the call of a call route (call.lua): such a request
--             also passes call.lua's checks and opens a hold; ADMITTED then answers the
--             granted seconds in place of available
--
-- Checks for each request, in this order, and writes nothing for it unless every one passes:
--   the caller exists, is not closed and the token is live (tok, or tok_prev before
--   tok_prev_exp)                                               -> INVALID_CREDENTIALS
--   every account of the chain exists and is not closed          -> FORBIDDEN (the one gone)
--   every status is active (topmost offender named)              -> SUSPENDED
--   the permission flag is '1' everywhere (topmost offender)     -> PERMISSION_DENIED
--   KYC-gated: no customer_use account that is not verified      -> KYC_REQUIRED
--   number: the path account owns it ('{ROOT}:nums', one HGET)  -> NUMBER_NOT_OWNED
--   GCRA of every account's rate (burst = one second's worth)    -> RATE_LIMITED (the one
--                                                                     that must be waited for longest)
--   the billing account (nearest own = '1' from the path account up) keeps
--   bal - held - price >= -credit (only checked when price > 0; held: open calls' holds)         -> INSUFFICIENT_BALANCE
-- An admitted request moves every tat, debits the billing account, adds 1 to
-- '<day>|<route>|n' and price to '|c' of the path account's usage, stamps last_used on the
-- caller (at most once a second) and writes the marker "a|<billing>|<price>|<day>|<route>".
-- All reads happen before any write, so a store error leaves nothing half done.
--
-- Cost: each account is read once (HMGET) and written once (HSET) per batch, usage once per
-- (account, route), and the markers of the batch in one HSET per marker hash. The checks
-- that depend only on fields an admit never changes (tokens, status, permissions, KYC, who
-- pays) are done once for a run of identical requests, and its rate limits and balance in
-- closed form (see run): what is left per request is its answer and its marker.
--
-- Answers an array of 8 integers per request, in order: code, who, charge, payer, limit,
-- remaining, reset, available. who and payer are positions (1-based) in that request's chain
-- of the account named (0 = none); ADMITTED: charge = price, limit/remaining/reset (ms) of
-- the tightest rate in the chain; RATE_LIMITED: limit of the offender and reset =
-- retry-after (ms); INSUFFICIENT_BALANCE: available = bal + credit - held. (Integers rather than
-- text: Redis writes them out without Lua formatting any number.)

-- The codes (the first integer of an answer): balance.Reason in Go, whose refusal table
-- (policy/wire.Refusals) has one row per code, in this order; a test pins each name (the
-- row's metric label in capitals) and number to its row. A new refusal is one constant here and one row there.
local ADMITTED = 0
local INVALID_CREDENTIALS = 1
local FORBIDDEN = 2
local SUSPENDED = 3
local PERMISSION_DENIED = 4
local KYC_REQUIRED = 5
local RATE_LIMITED = 6
local INSUFFICIENT_BALANCE = 7
local WITHDRAWN = 8
local NUMBER_NOT_OWNED = 9

-- Globals and library functions used per admit, as locals (a local is a register; a global
-- is a table lookup each time).
local ARGV, KEYS, tonumber = ARGV, KEYS, tonumber
local floor, ceil, sub, byte = math.floor, math.ceil, string.sub, string.byte
local ttl = ARGV[1] -- as PEXPIRE takes it
local a = tonumber(ARGV[2])
local m = tonumber(ARGV[3])
local markers, tombs = ARGV[4], ARGV[5]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- phase: start (a line '-- phase: NAME' ends a phase of the script for BenchmarkAdmitPhases, which
-- times them; in the store's script they are comments)

-- Read every account once, before any write: the fields every admit needs of every account
-- of its chain (FB), the permission and KYC fields only when a request of the batch needs
-- them, the money (FM) only of the accounts likely to pay, and the token and last_used only
-- of the accounts that call: each field read costs Redis a search of the account's hash and
-- Lua a string, so a batch whose requests come from different accounts reads no more than it
-- uses. Only the account that pays for a request needs its money: a root pays for itself,
-- and a path account that keeps its own balance is flagged in its spec, so their money is
-- read with the rest; any other account found to pay has its money read then (money, from
-- static), once a batch.
-- (Not the id: it is in the key, and each field read costs about as much as taking it
-- from there, which only the payer and the path account of a caller-ID check need: sid.)
local FB = {'status', 'rate', 'tat', 'own'}
local FM = {'bal', 'credit', 'held'}
-- Where each request's refund marker goes: field MF[j] of hash MK[j] (marker_key and
-- marker_field of its reqid), for the j-th request of the batch.
local MK, MF = {}, {}
local specs = {} -- spec -> the chain as KEYS indexes (usage key first), parsed once
local function chain_of(spec)
  local ch = specs[spec]
  if not ch then
    ch = {}
    local b = {byte(spec, 1, -1)}
    for x = 2, #b, 2 do ch[x / 2] = b[x - 1] % 128 * 256 + b[x] end -- less the hint's bit
    specs[spec] = ch
  end
  return ch
end
local caller = {} -- KEYS index -> true for an account that calls in a request of the batch
local pays = {} -- KEYS index -> true for an account whose money is read up front
do
  local seen, i = {}, 6
  for j = 1, m do
    local rid
    if ARGV[i] == '=' then
      rid = ARGV[i + 1]
      i = i + 2
    else
      local spec = ARGV[i]
      local ch = chain_of(spec)
      caller[ch[tonumber(ARGV[i + 1]) + 1]], pays[ch[#ch]] = true, true
      if byte(spec, 3) >= 128 then pays[ch[2]] = true end
      local p = ARGV[i + 3]
      if p ~= '' and not seen[p] then seen[p] = true FB[#FB + 1] = p end
      if ARGV[i + 4] == '1' and not seen.kyc then
        seen.kyc = true
        FB[#FB + 1], FB[#FB + 2] = 'kyc_mode', 'kyc_status'
      end
      if ARGV[i + 9] ~= '' and not seen.call then
        seen.call = true
        for _, f in ipairs(CALL_FIELDS) do FB[#FB + 1] = f end
      end
      rid = ARGV[i + 7]
      i = i + 10
    end
    local key, field = markers, rid -- marker_split, inline
    if #rid > 1 then key, field = markers .. sub(rid, 1, -2), sub(rid, -1) end
    MK[j], MF[j] = key, field
  end
end
local NB = #FB
-- phase: parse
-- the four field lists: FB, and FB with the money (pays), the caller's fields or both
local function with(t, more)
  local r = {unpack(t)}
  for _, f in ipairs(more) do r[#r + 1] = f end
  return r
end
local CF = {'tok', 'last_used'}
local FR, FC = with(FB, FM), with(FB, CF)
local FRC = with(FR, CF)
local S = {}
for i = 1, a do
  local F = pays[i] and (caller[i] and FRC or FR) or (caller[i] and FC or FB)
  local r = redis.call('HMGET', KEYS[i], unpack(F))
  if r[1] then
    local rate = tonumber(r[2] or '0') or 0
    local s = {status = r[1], rate = rate, T = rate > 0 and ceil(1000000 / rate) or 0, tat = tonumber(r[3] or '0') or 0,
      own = r[4], bal = false, credit = 0, held = 0, last_used = 0, key = KEYS[i], wtat = false, wbal = false, stamp = false}
    for f = 5, NB do s[F[f]] = r[f] end
    local x = NB
    if pays[i] then
      s.bal, s.credit, s.held = tonumber(r[x + 1] or '0'), tonumber(r[x + 2] or '0'), tonumber(r[x + 3] or '0') or 0
      x = x + 3
    end
    if caller[i] then s.tok, s.last_used = r[x + 1], tonumber(r[x + 2] or '0') end
    S[i] = s
  else
    S[i] = false
  end
end
-- phase: read

-- money makes sure the money of account s is read (bal is false until it is): an account
-- found to pay for a request that was not thought to. (A read after the batch's first writes,
-- like live's: an HMGET of an existing hash does not fail.)
local function money(s)
  if s.bal == false then
    local r = redis.call('HMGET', s.key, 'bal', 'credit', 'held')
    s.bal, s.credit, s.held = tonumber(r[1] or '0'), tonumber(r[2] or '0'), tonumber(r[3] or '0') or 0
  end
end

-- A request whose marker already exists is refused first of all, with WITHDRAWN, and changes
-- nothing: a refund that found no marker for its id left a tombstone there (the gateway
-- gave the request up, answered 503 "nothing was charged" and checked it for a charge
-- before this admit ran: a stalled store, or the admit's bytes still in a socket buffer), or
-- the id was admitted before. dead[j] is true for such a request j. A refund that leaves a
-- tombstone also sets the flag beside the marker hashes (ARGV[5]) for the tombstone's
-- lifetime, and tombstones are rare (a lost admit answer whose admit had not run), so the
-- usual batch reads that one flag and nothing else; only when it is up are the batch's
-- marker fields read, one HMGET per marker hash. (A marker of an id admitted before, the
-- other case, is never looked for then: ids are made unique per request.)
local dead = false
if redis.call('EXISTS', tombs) > 0 then
  local mf, mkeys = {}, {} -- per marker hash: its fields and their requests
  for j = 1, m do
    local key = MK[j]
    local g = mf[key]
    if not g then
      g = {{}, {}}
      mf[key] = g
      mkeys[#mkeys + 1] = key
    end
    local n = #g[1] + 1
    g[1][n], g[2][n] = MF[j], j
  end
  for x = 1, #mkeys do
    local g = mf[mkeys[x]]
    local r = redis.call('HMGET', mkeys[x], unpack(g[1]))
    for y = 1, #r do
      if r[y] then
        dead = dead or {}
        dead[g[2][y]] = true
      end
    end
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
-- phase: tombs_day

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

-- owner_of answers the owner of a number in the tree of the path account of ch (false for
-- none), read once per batch. The owners are kept per tree (NUMS, by the tree's key) and
-- each chain remembers its tree's key and owners (ch.nk, ch.nums), so a request pays a few
-- table lookups.
local NUMS = {}
local function owner_of(ch, num)
  local t = ch.nums
  if not t then
    local key = string.match(KEYS[ch[2]], '^(.-}:)') .. 'nums'
    t = NUMS[key]
    if not t then
      t = {}
      NUMS[key] = t
    end
    ch.nk, ch.nums = key, t
  end
  local o = t[num]
  if o == nil then
    local v = redis.call('HGET', ch.nk, num)
    o = v and string.match(v, '^[^|]*') or false
    t[num] = o
  end
  return o
end

-- static: the checks that no admit changes the outcome of (credentials, the chain, status,
-- permission, KYC, the caller-ID) and who pays. Answers a refusal (8 integers), or nil and
-- the billing position.
local function static(ch, pos, th, perm, kyc, num)
  local n = #ch - 1
  local c = S[ch[pos + 1]]
  if not c then return refused(INVALID_CREDENTIALS, 0, 0, 0, 0, 0, 0, 0) end
  if c.status == 'closed' or not live(c, th) then return refused(INVALID_CREDENTIALS, pos, 0, 0, 0, 0, 0, 0) end
  for i = 1, n do
    local s = S[ch[i + 1]]
    if not s or s.status == 'closed' then return refused(FORBIDDEN, i, 0, 0, 0, 0, 0, 0) end
  end
  for i = n, 1, -1 do
    if S[ch[i + 1]].status ~= 'active' then return refused(SUSPENDED, i, 0, 0, 0, 0, 0, 0) end
  end
  if perm ~= '' then
    for i = n, 1, -1 do
      if S[ch[i + 1]][perm] ~= '1' then return refused(PERMISSION_DENIED, i, 0, 0, 0, 0, 0, 0) end
    end
  end
  if kyc == '1' then
    for i = n, 1, -1 do
      local s = S[ch[i + 1]]
      if s.kyc_mode == 'customer_use' and s.kyc_status ~= 'verified' then return refused(KYC_REQUIRED, i, 0, 0, 0, 0, 0, 0) end
    end
  end
  if num ~= '' and owner_of(ch, num) ~= sid(S[ch[2]]) then return refused(NUMBER_NOT_OWNED, 1, 0, 0, 0, 0, 0, 0) end
  for i = 1, n do
    local s = S[ch[i + 1]]
    if s.own == '1' then
      money(s)
      return nil, i
    end
  end
  return refused(INSUFFICIENT_BALANCE, 1, 0, 0, 0, 0, 0, 0)
end

local usage, uorder = {}, {}
local mbk, mbuckets = {}, {} -- the markers to write, per marker hash
local pmbs, pmprice, pmroute, pmval -- the last marker value built, reused by a run of alike
local pu, puch, puroute -- the last usage entry, likewise
local pstr = {} -- istr of each price

-- run: the rate limits and the balance for a run of k identical requests that passed
-- static, their effects and their answers, in closed form; the t-th one is request
-- j0 + t - 1 of the batch. It decides exactly what k requests one after the
-- other would (each sees the debits and rate state of those before it):
--   GCRA: with base = max(tat, now), the t-th admit of the run moves tat to base + t*T and
--   passes iff now - (base + t*T - T*rate) >= 0, i.e. t <= cap = floor((now + T*rate - base) / T);
--   its remaining is cap - t, so the tightest rate (least remaining; ties: the lower rate,
--   then the first in the chain) is the same account for the whole run.
--   Balance: the t-th passes iff bal - t*price >= held - credit (checked by the same subtractions
--   one at a time would make).
--   The first request that fails is refused with the reason one at a time would give (rates
--   are checked before the balance), and since a refusal changes nothing, so is every
--   request after it in the run, with the same answer.
local caps, bases = {}, {}
local function run(ch, pos, b, price, route, k, j0, cx)
  local n = #ch - 1
  local adm = k -- how many the rates let in
  local tight, tcap = 0, 0
  for x = 1, n do
    local s = S[ch[x + 1]]
    local rate = s.rate
    if rate > 0 then
      local T = s.T
      local base = s.tat
      if base < now then base = now end
      local cap = floor((now + T * rate - base) / T)
      caps[x], bases[x] = cap, base
      if cap < adm then adm = cap end
      if tight == 0 or cap < tcap or (cap == tcap and rate < S[ch[tight + 1]].rate) then tight, tcap = x, cap end
    end
  end
  if adm < 0 then adm = 0 end
  local bs = S[ch[b + 1]]
  local A, bal = adm, bs.bal -- A: how many are admitted
  if price > 0 then
    local lim = bs.held - bs.credit
    A = 0
    while A < adm and bal - price >= lim do bal, A = bal - price, A + 1 end
  end
  local granted, gcost = 0, 0 -- a call (k = 1): its own checks once the plain ones passed
  if cx and A > 0 then
    local refusal
    refusal, granted, gcost = call_check(cx, S, ch, bs, bal, price, now)
    if refusal then
      answer(unpack(refusal))
      return
    end
    if not granted then
      answer(INSUFFICIENT_BALANCE, b, 0, b, 0, 0, 0, gcost)
      return
    end
  end
  if A > 0 then
    -- Apply to the batch's state (written once, at the end).
    for x = 1, n do
      local s = S[ch[x + 1]]
      if s.rate > 0 then s.tat, s.wtat = bases[x] + A * s.T, true end
    end
    -- last_used is stamped at most once a second (to the second), saving a write per request.
    local c = S[ch[pos + 1]]
    if now - c.last_used >= 1000000 then c.last_used, c.stamp = now, true end
    if price > 0 then bs.bal, bs.wbal = bal, true end
    if cx then call_apply(cx, S, ch, bs, granted, gcost, now, route, day) end
    local u = pu
    if not (ch == puch and route == puroute) then
      local ur = usage[ch[1]] -- by usage key, then route
      if not ur then
        ur = {}
        usage[ch[1]] = ur
      end
      u = ur[route]
      if not u then
        u = {ch[1], route, 0, 0}
        ur[route] = u
        uorder[#uorder + 1] = u
      end
      pu, puch, puroute = u, ch, route
    end
    u[3], u[4] = u[3] + A, u[4] + A * price -- the sums one at a time makes (integers < 2^53)
    -- the markers, into the batch's list for their marker hash
    if not (bs == pmbs and price == pmprice and route == pmroute) then
      pmbs, pmprice, pmroute = bs, price, route
      local ps = pstr[price]
      if not ps then
        ps = istr(price)
        pstr[price] = ps
      end
      pmval = 'a|' .. sid(bs) .. '|' .. ps .. '|' .. day .. '|' .. route
    end
    local rlimit, T, tbase
    if tight > 0 then
      local ts = S[ch[tight + 1]]
      rlimit, T, tbase = ts.rate, ts.T, bases[tight]
    end
    local jj = j0
    for t = 1, A do
      local key = MK[jj]
      local mb = mbk[key]
      if not mb then
        mb = {}
        mbk[key] = mb
        mbuckets[#mbuckets + 1] = {key, mb}
      end
      mb[#mb + 1] = MF[jj]
      mb[#mb + 1] = pmval
      jj = jj + 1
      if tight == 0 then
        answer(ADMITTED, 0, price, b, 0, 0, 0, granted)
      else
        answer(ADMITTED, 0, price, b, rlimit, tcap - t, ceil((tbase + t * T - now) / 1000), granted)
      end
    end
  end
  if A == k then return end
  -- The (A+1)th is refused, and so is every one after it, alike.
  local code, who, payer, limit, reset, avail = INSUFFICIENT_BALANCE, b, b, 0, 0, bal + bs.credit - bs.held
  if A == adm then
    -- a rate: the one that must be waited for longest (ties: the first in the chain)
    local j, worstRetry = A + 1, -1
    for x = 1, n do
      local s = S[ch[x + 1]]
      if s.rate > 0 and caps[x] < j then
        local retry = bases[x] + j * s.T - s.T * s.rate - now
        if retry > worstRetry then who, worstRetry = x, retry end
      end
    end
    code, payer, limit, reset, avail = RATE_LIMITED, 0, S[ch[who + 1]].rate, ceil(worstRetry / 1000), 0
  end
  for _ = A + 1, k do answer(code, who, 0, payer, limit, 0, reset, avail) end
end

-- A run of identical requests (the common case under load) comes as '=' after the first:
-- its static checks are done once, the rest in closed form (run). A withdrawn request
-- (dead) is answered alone and ends the run: the requests after it, alike, are a new run.
local i, j = 6, 1
local ch, pos, th, perm, kyc, price, route, num, cx
while j <= m do
  if ARGV[i] == '=' then
    i = i + 2
  else
    ch = chain_of(ARGV[i])
    pos, th, perm, kyc = tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    price, route, num = tonumber(ARGV[i + 5]), ARGV[i + 6], ARGV[i + 8]
    cx = false
    if ARGV[i + 9] ~= '' then cx = call_parse(ARGV[i + 9]) end
    i = i + 10
  end
  if dead and dead[j] then
    answer(WITHDRAWN, 0, 0, 0, 0, 0, 0, 0)
    j = j + 1
  else
    local k = 1
    if dead then
      while j + k <= m and ARGV[i] == '=' and not dead[j + k] do k, i = k + 1, i + 2 end
    else
      while j + k <= m and ARGV[i] == '=' do k, i = k + 1, i + 2 end
    end
    local refusal, b = static(ch, pos, th, perm, kyc, num)
    if refusal then
      for _ = 1, k do answer(unpack(refusal)) end
    else
      run(ch, pos, b, price, route, k, j, cx)
    end
    j = j + k
  end
end

-- phase: decide

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
local ufields = {} -- per route: its count and charged fields of the day
for _, u in ipairs(uorder) do
  local fs = ufields[u[2]]
  if not fs then
    local f = day .. '|' .. u[2]
    fs = {f .. '|n', f .. '|c'}
    ufields[u[2]] = fs
  end
  redis.call('HINCRBY', KEYS[u[1]], fs[1], istr(u[3]))
  redis.call('HINCRBY', KEYS[u[1]], fs[2], istr(u[4]))
end
for _, mb in ipairs(mbuckets) do
  redis.call('HSET', mb[1], unpack(mb[2]))
  redis.call('PEXPIRE', mb[1], ttl)
end
-- phase: write
return out
