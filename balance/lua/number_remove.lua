-- number_remove: KEYS[1] = '{ROOT}:nums', KEYS[2] = '{ROOT}:nclaim'. ARGV[1] the number,
-- ARGV[2] key prefix '{ROOT}:', ARGV[3] the claim of the index entry the caller read ('' for
-- an entry written before claims existed), ARGV[4] the age (µs) past which a claim the tree
-- does not have is orphaned.
-- Removes the number from the tree, whoever owns it, if the tree has it under that claim (or
-- under none: an entry from before claims, or an index entry from before them). Answers
-- {'OK', owner} when it removed it, {'OK'} when the tree does not have it under the claim and
-- the claim is orphaned (older than ARGV[4], or from before claims: no add can still land under
-- it, number_add.lua), {'NO_NUMBER'} otherwise: the tree has it under a later claim (the caller
-- read the index before a remove and an add since), or not at all while the claim is recent (an
-- add under it may be on its way, or a remove took the number and will delete the entry). With
-- 'OK' the caller deletes the index entry it read, if it is still the same.
local n, claim = ARGV[1], ARGV[3]
local v = redis.call('HGET', KEYS[1], n)
if v then
  local have = redis.call('HGET', KEYS[2], n)
  if claim ~= '' and have and have ~= claim then return {'NO_NUMBER'} end
  local owner = num_owner(v)
  redis.call('HDEL', KEYS[1], n)
  redis.call('HDEL', KEYS[2], n)
  redis.call('ZREM', ARGV[2] .. 'onum:' .. owner, n)
  return {'OK', owner}
end
local t = num_claim_time(claim)
if not t or now_us() - t > tonumber(ARGV[4]) then return {'OK'} end
return {'NO_NUMBER'}
