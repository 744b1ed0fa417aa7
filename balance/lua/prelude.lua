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
