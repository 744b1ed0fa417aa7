-- number_move: KEYS[1] = '{ROOT}:nums'. ARGV[1] the number, ARGV[2] scope (the account of
-- the path), ARGV[3] the account to give it to, or '' to give it back to its owner's parent,
-- ARGV[4] key prefix '{ROOT}:'.
-- The number must be owned by scope or an account below it, and the account it goes to
-- must be scope or below it (give-back: the owner's parent, wherever it is) and not closed.
-- Answers {'OK', owner after, created µs, updated µs} or {word}: NO_NUMBER (no such number
-- in the tree, or out of scope), NOT_FOUND (the account to give it to is unknown or out of
-- scope), CLOSED (it is closed), MAIN_NUMBER (give-back of a main account's number).
local P, n, scope, dest = ARGV[4], ARGV[1], ARGV[2], ARGV[3]
local v = redis.call('HGET', KEYS[1], n)
if not v then return {'NO_NUMBER'} end
local owner, created = num_owner(v)
-- within: id is scope or below it (scope is in its chain of ancestors)
local function within(id)
  if id == scope then return redis.call('EXISTS', P .. 'acct:' .. id) == 1 end
  local ch = redis.call('HGET', P .. 'acct:' .. id, 'chain')
  if not ch then return false end
  for a in string.gmatch(ch, '[^,]+') do
    if a == scope then return true end
  end
  return false
end
if not within(owner) then return {'NO_NUMBER'} end
if dest == '' then
  dest = redis.call('HGET', P .. 'acct:' .. owner, 'parent')
  if not dest or dest == '' then return {'MAIN_NUMBER'} end
elseif not within(dest) then
  return {'NOT_FOUND'}
end
local st = redis.call('HGET', P .. 'acct:' .. dest, 'status')
if not st then return {'NOT_FOUND'} end
if st == 'closed' then return {'CLOSED'} end
local now = istr(now_us())
if dest ~= owner then
  redis.call('ZREM', P .. 'onum:' .. owner, n)
  redis.call('ZADD', P .. 'onum:' .. dest, 0, n)
end
redis.call('HSET', KEYS[1], n, dest .. '|' .. created .. '|' .. now)
return {'OK', dest, created, now}
