--[[
  outbox-complete.lua — records the outcome of a claimed attempt, only if the claim is
  still the caller's (a claimant whose lease ran out cannot overwrite a newer attempt).
  KEYS[1] <prefix>:outbox:items
  KEYS[2] <prefix>:outbox:due
  KEYS[3] <prefix>:outbox:claims
  KEYS[4] <prefix>:outbox:watch   set of ids whose Gerrit change is open (merge watch)
  ARGV[1] id
  ARGV[2] claim token
  ARGV[3] new item JSON
  ARGV[4] next due time (ms), or "" when the item is finished
  ARGV[5] "1" to watch the item's change for merge, "0" otherwise
  Returns: 1 recorded; 0 the claim was lost (nothing written).
]]
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[5] == '1' then
  redis.call('SADD', KEYS[4], ARGV[1])
else
  redis.call('SREM', KEYS[4], ARGV[1])
end
return 1
