-- rotate: KEYS[1] = account. ARGV[1] = hash of the new token, ARGV[2] = grace (ms).
-- The current token stays valid for the grace period (0 revokes it now); an older previous
-- token is dropped, so at most two tokens are live. Answers {'OK', prev_expires_us}.
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'NOT_FOUND'} end
if st == 'closed' then return {'CLOSED'} end
local now = now_us()
local grace = tonumber(ARGV[2])
local exp = 0
if grace > 0 then
  exp = now + grace * 1000
  redis.call('HSET', KEYS[1], 'tok_prev', redis.call('HGET', KEYS[1], 'tok'), 'tok_prev_exp', istr(exp))
else
  redis.call('HSET', KEYS[1], 'tok_prev', '', 'tok_prev_exp', '0') -- kept in place: see account.go fields()
end
redis.call('HSET', KEYS[1], 'tok', ARGV[1], 'updated', istr(now))
return {'OK', istr(exp)}
