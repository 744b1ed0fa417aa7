-- number_release: KEYS[1] = 'num:NUMBER'. ARGV[1] the value the caller wrote or read there.
-- Deletes the number's index entry if it still is that value (the caller's claim, not one made
-- since). Answers {'OK'}.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return {'OK'}
