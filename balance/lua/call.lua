-- call: the call part of the admit (API.md §8), prepended (after the prelude and the
-- tariff) to admit.lua, which calls it for a request of a call route once that request has
-- passed every check of a plain one. The plain admit decides runs of alike requests in
-- closed form; a call request is always a run of one (its hold id is its own).
--
-- Per request, admit.lua's 9th argument is '' for a plain route, or the call:
--   "hold_id rate first next fee grant max_duration min_duration ring_timeout expiry_grace
--    on_expiry upstream": the tariff in µ and seconds, durations in seconds, on_expiry 'c'
--   (commit) or 'r' (release), the upstream whose token may end the hold.
-- The codes of the call's refusals follow admit.lua's (balance.Reason, the refusal table).
local CPS_LIMITED = 10
local CONCURRENCY_LIMITED = 11
-- sid is the id of an account read by admit.lua (s): the tail of its key '{ROOT}:acct:ID',
-- taken once and kept (the script does not read the id field).
local function sid(s)
  local v = s.id
  if not v then
    v = string.sub(s.key, (string.find(s.key, '}:acct:', 1, true)) + 7)
    s.id = v
  end
  return v
end
-- the account fields a batch with a call reads besides admit.lua's own (keys.go)
local CALL_FIELDS = {'mcc', 'cps', 'ctat'}

local function call_parse(a)
  local f = {}
  for x in string.gmatch(a, '%S+') do f[#f + 1] = x end
  return {hid = f[1], tf = {tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), tonumber(f[5])},
    grant = tonumber(f[6]), maxd = tonumber(f[7]), mind = tonumber(f[8]), ring = tonumber(f[9]),
    grace = tonumber(f[10]), onexp = f[11], up = f[12]}
end

-- call_state gives account state s its call fields as numbers, once per script.
local function call_state(s)
  if s.callready then return end
  s.callready = true
  s.mccn, s.cpsn = tonumber(s.mcc or 0) or 0, tonumber(s.cps or 0) or 0
  s.ctatn = tonumber(s.ctat or 0) or 0
end

-- slots_key: the concurrency slots of the account at account key k (keys.go: slotsKey).
local function slots_key(k) return (string.gsub(k, '}:acct:', '}:slots:', 1)) end

-- call_check decides the call's own checks, in this order, for the chain ch (indexes into
-- S; path account first) whose billing account bs (at position b) has bal after the price:
--   calls_per_second (GCRA, burst one second's worth) of every account -> CPS_LIMITED (the
--     one that must be waited for longest; reset = retry-after ms, limit = its cps)
--   max_concurrent_calls of every account against its live slots -> CONCURRENCY_LIMITED
--     (the topmost that is full; limit = its cap, remaining = its open calls)
--   the longest duration bal + credit - held pays for, at most grant and max_duration, at
--     least min_duration; else the caller answers INSUFFICIENT_BALANCE
-- Answers a refusal (8 integers, as admit.lua's); or nil, the granted seconds and their
-- cost; or nil, false and the available amount (balance + credit - held before the price)
-- when too little is affordable.
local function call_check(cx, S, ch, bs, bal, price, now)
  local n = #ch - 1
  local worst, who = 0, 0
  for x = 1, n do
    local s = S[ch[x + 1]]
    call_state(s)
    if s.cpsn > 0 then
      local T = math.ceil(1000000 / s.cpsn)
      local base = s.ctatn
      if base < now then base = now end
      local retry = base + T - T * s.cpsn - now
      if retry > worst then worst, who = retry, x end
    end
  end
  if who > 0 then
    return {CPS_LIMITED, who, 0, 0, S[ch[who + 1]].cpsn, 0, math.ceil(worst / 1000), 0}
  end
  local since = '(' .. istr(now)
  for x = n, 1, -1 do
    local s = S[ch[x + 1]]
    if s.mccn > 0 then
      local active = redis.call('ZCOUNT', slots_key(s.key), since, '+inf')
      if active >= s.mccn then return {CONCURRENCY_LIMITED, x, 0, 0, s.mccn, active, 0, 0} end
    end
  end
  local limit = cx.grant
  if cx.maxd < limit then limit = cx.maxd end
  local g = tariff_longest(cx.tf, bal + bs.credit - bs.held, limit)
  if g < cx.mind then return nil, false, bal + price + bs.credit - bs.held end
  return nil, g, tariff_cost(cx.tf, g)
end

-- call_apply opens the hold of an admitted call granted g seconds costing cost: the CPS
-- state of every account, held of the billing account, the hold record, a slot on every
-- account of the chain (dead ones purged first), the tree's index of open holds. path is
-- the path account's id, route and day as in the usage counters.
local function call_apply(cx, S, ch, bs, g, cost, now, route, day)
  local n = #ch - 1
  local prefix = string.match(bs.key, '^(.-}:)')
  local exp = now + (cx.ring + g + cx.grace) * 1000000
  local ids = {}
  for x = 1, n do
    local s = S[ch[x + 1]]
    if s.cpsn > 0 then
      local T = math.ceil(1000000 / s.cpsn)
      local base = s.ctatn
      if base < now then base = now end
      s.ctatn = base + T
      redis.call('HSET', s.key, 'ctat', istr(s.ctatn))
    end
    local sk = slots_key(s.key)
    redis.call('ZREMRANGEBYSCORE', sk, '-inf', istr(now))
    redis.call('ZADD', sk, istr(exp), cx.hid)
    ids[x] = sid(s)
  end
  bs.held = bs.held + cost
  redis.call('HSET', bs.key, 'held', istr(bs.held))
  local limit = cx.grant
  if cx.maxd < limit then limit = cx.maxd end
  local final = '0'
  if g >= cx.maxd or g < limit then final = '1' end
  local tf = cx.tf
  redis.call('HSET', prefix .. 'hold:' .. cx.hid, 'id', cx.hid, 'acct', ids[1], 'bill', sid(bs), 'route', route,
    'up', cx.up, 'status', 'open', 'granted', istr(g), 'held', istr(cost), 'charged', '0', 'created', istr(now),
    'expires', istr(exp), 'ended', '0', 'final', final, 'tf', istr(tf[1]) .. ' ' .. istr(tf[2]) .. ' ' .. istr(tf[3]) .. ' ' .. istr(tf[4]),
    'grant', istr(cx.grant), 'maxd', istr(cx.maxd), 'grace', istr(cx.grace), 'onexp', cx.onexp,
    'chain', table.concat(ids, ','), 'day', day)
  redis.call('ZADD', prefix .. 'holds', istr(exp), cx.hid)
end
