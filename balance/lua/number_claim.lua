-- number_claim: KEYS[1] = 'num:NUMBER'. ARGV[1] the main account's id, ARGV[2] a random nonce.
-- Claims the number's index entry for an add (SET NX) with a claim made by the store's
-- clock, '<µs>.<nonce>' (balance/keys.go), so that the age of a claim is measured by Redis
-- clocks alone. Answers {'OK', claim} or {'TAKEN'} (any tree, or an add in flight, has it).
local claim = istr(now_us()) .. '.' .. ARGV[2]
if not redis.call('SET', KEYS[1], ARGV[1] .. '|' .. claim, 'NX') then return {'TAKEN'} end
return {'OK', claim}
