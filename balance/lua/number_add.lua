-- number_add: KEYS[1] = the main account, KEYS[2] = '{ROOT}:nums', KEYS[3] = the main
-- account's '{ROOT}:onum:ID', KEYS[4] = '{ROOT}:nclaim'. ARGV[1] the number, ARGV[2] the main
-- account's id, ARGV[3] the claim the caller holds on the number's index entry ('<µs>.<nonce>',
-- balance/keys.go), ARGV[4] how old (µs) the claim may be when this runs.
-- Adds the number to the main account's inventory under the claim. Answers {'OK', created µs}
-- or {word}: NOT_FOUND (no such main account), CLOSED, TAKEN (the tree has it already: an
-- entry whose index entry was lost, which this claim adopts, so that the index names the tree
-- again and a remove can take it), STALE (the claim is too old: a remove may have given it up
-- as orphaned, so the number must not land under it).
local v = redis.call('HMGET', KEYS[1], 'id', 'parent', 'status')
if not v[1] or (v[2] and v[2] ~= '') then return {'NOT_FOUND'} end
if v[3] == 'closed' then return {'CLOSED'} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
  return {'TAKEN'}
end
local now = now_us()
if now - (num_claim_time(ARGV[3]) or 0) > tonumber(ARGV[4]) then return {'STALE'} end
local ts = istr(now)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ts .. '|' .. ts)
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
return {'OK', ts}
