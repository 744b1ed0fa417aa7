-- hold_end: Settle, Void or expire one hold (hold.lua's hold_end). KEYS[1] the hold's key;
-- ARGV[1] op ('d', 'c', 'v', 'x'), ARGV[2] its value ('' for v and x), ARGV[3] how long the
-- ended record stays (ms).
return hold_end(KEYS[1], ARGV[1], ARGV[2], ARGV[3], now_us())
