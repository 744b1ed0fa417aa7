-- numbers: the helpers of the scripts that add, move and remove phone numbers (number_*.lua)
-- or move them with an account that closes or is deleted (update.lua, delete.lua). The layout
-- is balance/keys.go's: '{ROOT}:nums' maps each number of the tree to
-- '<owner>|<created µs>|<updated µs>', '{ROOT}:onum:ID' lists the numbers ID owns,
-- '{ROOT}:nclaim' maps each number of the tree to the claim of its index entry.

-- num_owner splits a value of '{ROOT}:nums' into owner and created (strings).
local function num_owner(v)
  return string.match(v, '^([^|]*)|(%d*)')
end

-- give_numbers moves every number of account from to account to, at now (µs); it answers
-- how many moved. Writes only: callers check before they call it.
local function give_numbers(P, from, to, now)
  local fk = P .. 'onum:' .. from
  local ns = redis.call('ZRANGE', fk, 0, -1)
  if #ns == 0 then return 0 end
  local nk, tk, ts = P .. 'nums', P .. 'onum:' .. to, istr(now)
  for _, n in ipairs(ns) do
    local _, created = num_owner(redis.call('HGET', nk, n) or '|')
    if not created or created == '' then created = ts end
    redis.call('HSET', nk, n, to .. '|' .. created .. '|' .. ts)
    redis.call('ZADD', tk, 0, n)
  end
  redis.call('DEL', fk)
  return #ns
end

-- num_claim_time is the time (µs) of a claim '<µs>.<nonce>', or nil for '' (an index entry
-- from before claims) or anything else.
local function num_claim_time(claim)
  local t = string.match(claim, '^(%d+)%.')
  return t and tonumber(t)
end
