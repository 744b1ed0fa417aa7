-- create: KEYS[1] = new account, KEYS[2] = parent's kids set, KEYS[3..] = parent .. root
-- (a main account passes KEYS[1] only). ARGV = field, value, ... of the record.
-- Answers {'OK', created_us} or {word}.
if redis.call('EXISTS', KEYS[1]) == 1 then return {'EXISTS'} end
local now = now_us()
if #KEYS >= 3 then
  local p = redis.call('HMGET', KEYS[3], 'status', 'kids', 'max_sub', 'id')
  if not p[1] then return {'NOT_FOUND'} end
  if p[1] == 'closed' then return {'CLOSED'} end
  for i = 3, #KEYS do
    if redis.call('HGET', KEYS[i], 'status') ~= 'active' then return {'PARENT_SUSPENDED', redis.call('HGET', KEYS[i], 'id')} end
  end
  if tonumber(p[2]) >= tonumber(p[3]) then return {'SUB_LIMIT'} end
  redis.call('HINCRBY', KEYS[3], 'kids', 1)
end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('HSET', KEYS[1], 'created', istr(now), 'updated', istr(now))
if #KEYS >= 3 then
  redis.call('ZADD', KEYS[2], istr(now), redis.call('HGET', KEYS[1], 'id'))
end
return {'OK', istr(now)}
