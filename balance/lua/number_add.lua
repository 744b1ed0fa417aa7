-- number_add: KEYS[1] = the main account, KEYS[2] = '{ROOT}:nums', KEYS[3] = the main
-- account's '{ROOT}:onum:ID'. ARGV[1] the number, ARGV[2] the main account's id.
-- Adds the number to the main account's inventory. Answers {'OK', created µs} or {word}:
-- NOT_FOUND (no such main account), CLOSED, TAKEN (the tree has it already).
local v = redis.call('HMGET', KEYS[1], 'id', 'parent', 'status')
if not v[1] or (v[2] and v[2] ~= '') then return {'NOT_FOUND'} end
if v[3] == 'closed' then return {'CLOSED'} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'TAKEN'} end
local now = istr(now_us())
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. now .. '|' .. now)
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return {'OK', now}
