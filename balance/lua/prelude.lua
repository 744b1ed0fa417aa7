-- prelude: shared by every script of the gateway (prepended when the script is built).
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- istr formats an integer-valued number exactly (tostring would use %.14g and lose digits);
-- every number a script writes or returns goes through it. '%d' converts to a 64-bit
-- integer first, exact for every value we keep (|x| <= 2^53), and prints it with integer
-- arithmetic (much cheaper than '%.0f', which takes the floating-point path).
local function istr(x) return string.format('%d', x) end
local MAX_AMOUNT = 9007199254740991
-- Refund markers live in hashes of up to 16 consecutive request ids (the gateway's ids end
-- in a hex counter): the marker of request id R is field <R's last character> of
-- <markers><R without it>, where markers is 'rf:' on one server and '{ROOT}:rf:' on a
-- Redis Cluster (the Go side passes it); an id of one character is field R of <markers>.
-- (Go: markerKey, markerHashPrefix.) A marker hash expires MarkerTTL after its last admit.
local function marker_split(rid)
  if #rid <= 1 then return '', rid end
  return string.sub(rid, 1, -2), string.sub(rid, -1)
end
local function marker_key(markers, rid) return markers .. (marker_split(rid)) end
local function marker_field(rid)
  local _, f = marker_split(rid)
  return f
end
-- The account record's hot fields: the ones every admit reads or writes, kept in one field
-- 'hv' of the account hash as "<status>|<own>|<p_calls>|<p_sms>|<p_cdr>|<rate>|<tat>|
-- <last_used>|<bal>|<credit>|<held>" (HOTF, in this order; Go: hotFields), so that an admit
-- reads and writes one field of an account instead of up to eleven (keys.go). Scripts read
-- and write them by name with acct_get, acct_set and acct_incr, as HMGET, HSET and HINCRBY
-- would the plain fields. A record written before 'hv' existed keeps them as plain fields:
-- acct_get reads those when 'hv' is absent, and the first write packs them into 'hv' and
-- deletes them.
local HOTF = {'status', 'own', 'p_calls', 'p_sms', 'p_cdr', 'rate', 'tat', 'last_used', 'bal', 'credit', 'held'}
local HOTX = {}
for x, f in ipairs(HOTF) do HOTX[f] = x end
local HOT_PAT = '^' .. string.rep('([^|]*)|', #HOTF - 1) .. '([^|]*)$'
-- hot_split answers the fields of a hot value as an array of strings (HOTF's order), or
-- raises an error for a value that is not one.
local function hot_split(v)
  local h = {string.match(v, HOT_PAT)}
  if #h ~= #HOTF then error('account hot value "' .. v .. '" is malformed') end
  return h
end
-- acct_get(key, field, ...) answers the fields of the account at key like HMGET (false for
-- an absent field or account), hot or not.
local function acct_get(key, ...)
  local fs = {...}
  local r = redis.call('HMGET', key, 'hv', ...)
  local h = r[1] and hot_split(r[1])
  local out = {}
  for i = 1, #fs do
    local x = HOTX[fs[i]]
    if h and x then out[i] = h[x] else out[i] = r[i + 1] end
  end
  return out
end
-- acct_hot answers the hot fields of the account at key (an array, HOTF's order) and
-- whether they are still plain fields (a record from before 'hv'), or nil when there is no
-- account; acct_put writes them back packed (and deletes the plain ones).
local function acct_hot(key)
  local r = redis.call('HMGET', key, 'hv', unpack(HOTF))
  if r[1] then return hot_split(r[1]), false end
  if not r[2] then return nil end
  local h = {}
  for x = 1, #HOTF do h[x] = r[x + 1] or (x == 1 and '' or '0') end
  return h, true
end
local function acct_put(key, h, plain)
  redis.call('HSET', key, 'hv', table.concat(h, '|'))
  if plain then redis.call('HDEL', key, unpack(HOTF)) end
end
-- acct_set(key, field, value, ...) sets fields of the existing account at key like HSET.
local function acct_set(key, ...)
  local a = {...}
  local h, plain, rest = nil, false, {}
  for i = 1, #a, 2 do
    local x = HOTX[a[i]]
    if x then
      if not h then
        h, plain = acct_hot(key)
        if not h then error('no account at ' .. key) end
      end
      h[x] = a[i + 1]
    else
      rest[#rest + 1], rest[#rest + 2] = a[i], a[i + 1]
    end
  end
  if h then acct_put(key, h, plain) end
  if #rest > 0 then redis.call('HSET', key, unpack(rest)) end
end
-- acct_incr adds delta to the integer field f of the existing account at key and answers
-- the sum, like HINCRBY (the scripts check the range before they write).
local function acct_incr(key, f, delta)
  local x = HOTX[f]
  if not x then return redis.call('HINCRBY', key, f, istr(delta)) end
  local h, plain = acct_hot(key)
  if not h then error('no account at ' .. key) end
  local v = tonumber(h[x]) + tonumber(delta)
  h[x] = istr(v)
  acct_put(key, h, plain)
  return v
end
