--[[
  fanout.lua — the notifier's step over the audit feed: the webhook deliveries of a range of
  feed entries are enqueued and the feed cursor moves past the range, atomically, only if the
  cursor is still where the caller read it (another process may have done the same range).
  Keys mirror server/store/keys.ts: <prefix>:feed:cursor, <prefix>:outbox:webhooks:items,
  <prefix>:outbox:webhooks:due.
  ARGV[1] prefix
  ARGV[2] cursor the caller read ("" when none was stored)
  ARGV[3] new cursor (the last feed entry id of the range)
  ARGV[4] now (ms): when the deliveries are due
  ARGV[5..] pairs: delivery id, delivery JSON (HSETNX: an id already there is kept)
  Returns: the number of deliveries enqueued; -2 when the cursor moved meanwhile.
]]
local p = ARGV[1]
local ckey = p .. ':feed:cursor'
local cur = redis.call('GET', ckey) or ''
if cur ~= ARGV[2] then return -2 end
local n = 0
for i = 5, #ARGV, 2 do
  if redis.call('HSETNX', p .. ':outbox:webhooks:items', ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', p .. ':outbox:webhooks:due', ARGV[4], ARGV[i])
    n = n + 1
  end
end
redis.call('SET', ckey, ARGV[3])
return n
