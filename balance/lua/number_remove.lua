-- number_remove: KEYS[1] = '{ROOT}:nums'. ARGV[1] the number, ARGV[2] key prefix '{ROOT}:'.
-- Removes the number from the tree, whoever owns it. Answers {'OK', owner} or {'NO_NUMBER'}.
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {'NO_NUMBER'} end
local owner = num_owner(v)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', ARGV[2] .. 'onum:' .. owner, ARGV[1])
return {'OK', owner}
