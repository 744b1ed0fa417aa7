-- Shared by the layout prototypes (BenchmarkAdmitLayouts; not the store's scripts). An
-- account's hot state is one value packed with Redis's struct library: version, status
-- (1 = active), flags (bit 1: the route's permission), rate, tat, last_used, bal, credit,
-- held. ARGV[1] = n requests, then per request: sub id, root id, number, request id, price,
-- token hash. Each request is checked like an admit (status, permission, token, caller-ID
-- owner, both accounts' GCRA, the root's balance), and admitted ones write both accounts'
-- hot values, two usage counters and a refund marker (16 to a marker hash); the answer is 8
-- integers per request, like the admit's.
local HOT = '>lBBllllll'
local unpackS, packS = struct.unpack, struct.pack
local floor, ceil, sub = math.floor, math.ceil, string.sub
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local day = '2026-12-06'
local n = tonumber(ARGV[1])
local out, no = {}, 0
local mk, mkeys = {}, {}
local function hot(v)
  local ver, st, fl, rate, tat, lu, bal, credit, held = unpackS(HOT, v)
  return {ver = ver, st = st, fl = fl, rate = rate, tat = tat, lu = lu, bal = bal, credit = credit, held = held}
end
local function enc(h) return packS(HOT, h.ver, h.st, h.fl, h.rate, h.tat, h.lu, h.bal, h.credit, h.held) end
-- decide answers the code for request (s, m): the caller s under the root m, and applies it
local function decide(s, m, tokok, ownerok, price)
  if not tokok then return 1 end
  if s.st ~= 1 or m.st ~= 1 then return 3 end
  if s.fl % 2 ~= 1 or m.fl % 2 ~= 1 then return 4 end
  if not ownerok then return 9 end
  local bases = {}
  for x, a in ipairs({s, m}) do
    local T = ceil(1000000 / a.rate)
    local base = a.tat < now and now or a.tat
    if now - (base + T - T * a.rate) < 0 then return 6 end
    bases[x] = base + T
  end
  if m.bal - price < m.held - m.credit then return 7 end
  s.tat, m.tat, m.bal = bases[1], bases[2], m.bal - price
  if now - s.lu >= 1000000 then s.lu = now end
  return 0
end
local function marker(rid, root, price)
  local key, f = 'rf:' .. sub(rid, 1, -2), sub(rid, -1)
  local b = mk[key]
  if not b then
    b = {}
    mk[key] = b
    mkeys[#mkeys + 1] = key
  end
  b[#b + 1] = f
  b[#b + 1] = 'a|' .. root .. '|' .. string.format('%d', price) .. '|' .. day .. '|sms'
end
local function answer(code, price)
  out[no + 1], out[no + 2], out[no + 3], out[no + 4] = code, 0, code == 0 and price or 0, 2
  out[no + 5], out[no + 6], out[no + 7], out[no + 8] = 0, 0, 0, 0
  no = no + 8
end
-- done answers a request and, admitted, gives it its refund marker
local function done(code, rid, root, price)
  if code == 0 then marker(rid, root, price) end
  answer(code, price)
end
local function markers()
  for _, k in ipairs(mkeys) do
    redis.call('HSET', k, unpack(mk[k]))
    redis.call('PEXPIRE', k, 3600000)
  end
end
