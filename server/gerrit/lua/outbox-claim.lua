--[[
  outbox-claim.lua — takes the oldest due outbox item under a lease, atomically.
  KEYS[1] <prefix>:outbox:items   hash id -> item JSON (written by the rollout store)
  KEYS[2] <prefix>:outbox:due     zset id -> due time (ms)
  KEYS[3] <prefix>:outbox:claims  hash id -> claim token
  ARGV[1] now (ms)
  ARGV[2] lease (ms): the item is due again after this, should the claimant die
  ARGV[3] claim token (unique per attempt)
  Returns: nil when nothing is due; {id, item JSON} otherwise. An id whose item is gone is
  dropped from the due set and reported as {id, false}.
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #ids == 0 then return nil end
local id = ids[1]
local json = redis.call('HGET', KEYS[1], id)
if not json then
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  return {id, false}
end
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[2]), id)
redis.call('HSET', KEYS[3], id, ARGV[3])
return {id, json}
