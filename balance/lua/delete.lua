-- delete: KEYS[1] = the account to delete, KEYS[2] = its parent, KEYS[3] = the parent's kids
-- set, KEYS[4..] = the parent's ancestors (parent's parent .. root). ARGV[1] cascade '1'/'0',
-- ARGV[2] transfer id prefix, ARGV[3] key prefix '{ROOT}:', ARGV[4] '1' to forget an expired
-- closed child (see below) whose id is ARGV[5].
-- Deletes the account (and with cascade its whole subtree; closed children always go with
-- it, those whose record has expired too). Own balances move to the parent's billing account
-- as ledger records of kind 'delete'. The usage of everything deleted is folded into the
-- parent's usage hash, per day and route: field '<day>|<route>|<kind>' of a deleted account
-- adds to '<day>|<route>|d<kind>' of the parent (dn, dc, ds; its own 'd' fields, folded into
-- it by earlier deletes, add to the same), so the parent's include_subaccounts sums are what
-- they were and its own counters stay its own (see Store.SubtreeUsage). The credit_limit of
-- everything deleted goes to the same billing account as the balances (records of kind
-- credit_transfer), so the credit in a tree changes only by the operator. Its phone numbers
-- (with cascade, the subtree's) go to the parent, so no number is left without an owner.
-- The subtree's keys are found through the kids sets; all carry the same hash tag.
-- Everything is read and checked before the first write: an answer other than 'OK' (or an
-- error answer, for a counter or balance that is not an integer the store keeps) has
-- written nothing.
-- Answers {'OK', id, id, ...} (every deleted id) or {word}.
local P = ARGV[3]
local target = redis.call('HMGET', KEYS[1], 'id', 'status')
if ARGV[4] == '1' then
  -- forget (ARGV[5] = the id): a closed child whose record has expired, still listed in the
  -- parent's kids set, goes the same way (its balance and credit went up when it closed), so
  -- its usage stays in the subtree sums; a child whose record still exists is not forgotten.
  if target[1] or not redis.call('ZSCORE', KEYS[3], ARGV[5]) then return {'NOT_FOUND'} end
  target = {ARGV[5], 'closed'}
elseif not target[1] then
  return {'NOT_FOUND'}
end
local pid = redis.call('HGET', KEYS[2], 'id')
if not pid then return {'NOT_FOUND'} end
-- collect the subtree breadth-first (a child whose closed record has expired is still listed)
local ids = {target[1]}
local i = 1
while i <= #ids do
  local kids = redis.call('ZRANGE', P .. 'kids:' .. ids[i], 0, -1)
  for _, k in ipairs(kids) do
    local st = redis.call('HGET', P .. 'acct:' .. k, 'status')
    if ARGV[1] ~= '1' and i == 1 and st and st ~= 'closed' then return {'HAS_SUB'} end
    ids[#ids + 1] = k
  end
  i = i + 1
end
if ARGV[1] ~= '1' and #ids > 1 then
  -- only closed children: they go with it
  for j = 2, #ids do
    local kids = redis.call('HGET', P .. 'acct:' .. ids[j], 'kids')
    if kids and kids ~= '0' then return {'HAS_SUB'} end
  end
end
-- read the balances and the usage to fold, and check them
local bad = 'ERR delete ' .. target[1] .. ': '
local accts = {}
local credit = 0 -- the credit_limit of everything deleted, returned with the balances
local fold, forder = {}, {}
for j = 1, #ids do
  local v = redis.call('HMGET', P .. 'acct:' .. ids[j], 'own', 'bal', 'currency', 'credit')
  local bal, cr = stored_int(v[2]), stored_int(v[4])
  if not bal then return redis.error_reply(bad .. 'the balance of ' .. ids[j] .. ' is not an amount') end
  if not cr or cr < 0 then return redis.error_reply(bad .. 'the credit_limit of ' .. ids[j] .. ' is not an amount') end
  accts[j] = {own = v[1], bal = bal, currency = v[3], credit = cr}
  credit = credit + cr
  local u = redis.call('HGETALL', P .. 'usage:' .. ids[j])
  for x = 1, #u, 2 do
    local base, kind = string.match(u[x], '^(.*|)(%a+)$')
    local val = stored_int(u[x + 1])
    if not (base and val) then return redis.error_reply(bad .. 'usage field ' .. u[x] .. ' of ' .. ids[j]) end
    if string.sub(kind, 1, 1) ~= 'd' then kind = 'd' .. kind end
    local f = base .. kind
    if math.abs(sum_into(fold, forder, f, val)) > MAX_AMOUNT then
      return redis.error_reply(bad .. 'usage ' .. f .. ' out of range')
    end
  end
end
local pu = P .. 'usage:' .. pid
if #forder > 0 then
  local cur = {}
  local u = redis.call('HGETALL', pu)
  for x = 1, #u, 2 do cur[u[x]] = u[x + 1] end
  for _, f in ipairs(forder) do
    local c = stored_int(cur[f])
    if not c or math.abs(c + fold[f]) > MAX_AMOUNT then return redis.error_reply(bad .. 'usage ' .. f .. ' of ' .. pid) end
  end
end
local bkeys = {KEYS[2]}
for j = 4, #KEYS do bkeys[#bkeys + 1] = KEYS[j] end
local b = billing(bkeys, 1)
if b and credit > 0 then
  local bc = stored_int(redis.call('HGET', b, 'credit'))
  if not bc or bc + credit > MAX_AMOUNT then return {'RANGE'} end
end
-- write
local now = now_us()
local bid = b and redis.call('HGET', b, 'id') or ''
for _, f in ipairs(forder) do redis.call('HINCRBY', pu, f, istr(fold[f])) end
local n = 0
for j = #ids, 1, -1 do
  local a = accts[j]
  if a.own == '1' and a.bal ~= 0 and b then
    n = n + 1
    local after = redis.call('HINCRBY', b, 'bal', istr(a.bal))
    ledger(P, ARGV[2] .. n, ids[j], bid, a.bal, a.currency, '', 'delete', now, 0, after)
  end
  if a.credit > 0 and b then
    n = n + 1
    local after = redis.call('HINCRBY', b, 'credit', istr(a.credit))
    ledger(P, ARGV[2] .. n, ids[j], bid, a.credit, a.currency, '', 'credit_transfer', now, 0, after)
  end
  give_numbers(P, ids[j], pid, now) -- its phone numbers go to the parent ({auth_id})
  redis.call('DEL', P .. 'acct:' .. ids[j], P .. 'kids:' .. ids[j], P .. 'usage:' .. ids[j], P .. 'ledger:' .. ids[j])
end
redis.call('ZREM', KEYS[3], target[1])
if target[2] ~= 'closed' then redis.call('HINCRBY', KEYS[2], 'kids', -1) end
local out = {'OK'}
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
