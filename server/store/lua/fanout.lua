--[[
  fanout.lua — the notifier's step over the audit feed: the webhook deliveries of a range of
  feed entries are enqueued and the feed cursor moves past the range, atomically, only if the
  cursor is still where the caller read it (another process may have done the same range).
  KEYS[1] the feed cursor, KEYS[2] the webhook outbox's items, KEYS[3] its due set
  (control slot, store/keys.ts)
  ARGV[1] cursor the caller read ("" when none was stored)
  ARGV[2] new cursor (the last feed entry id of the range)
  ARGV[3] now (ms): when the deliveries are due
  ARGV[4..] pairs: delivery id, delivery JSON (HSETNX: an id already there is kept)
  Returns: the number of deliveries enqueued; REFUSED.CONFLICT when the cursor moved meanwhile.
]]
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return REFUSED.CONFLICT end
local n = 0
for i = 4, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[3], ARGV[3], ARGV[i])
    n = n + 1
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return n
