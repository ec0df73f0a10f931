--[[
  transition.lua — compare-and-set of one rollout's state, with its side effects, atomically.
  KEYS (control slot, store/keys.ts):
  KEYS[1] the rollout's hash                 KEYS[6]  Gerrit outbox items
  KEYS[2] active                             KEYS[7]  Gerrit outbox due set
  KEYS[3] the controller lease               KEYS[8]  the rollout's events
  KEYS[4] the branch's base overrides        KEYS[9]  the feed
  KEYS[5] the branch's emergency pins        KEYS[10] version
                                             KEYS[11] ending: rollouts whose evidence waits to expire
  ARGV[1]  rollout id
  ARGV[2]  expected revision
  ARGV[3]  next rollout JSON
  ARGV[4]  next revision
  ARGV[5]  audit event JSON
  ARGV[6]  field of the rollout in active: "<branch>|<library key>"
  ARGV[7]  "1" when the rollout ends (terminal state): it leaves the active set and joins ending
  ARGV[8]  base override JSON ("" for none): promotion puts C's lines on the branch's base
  ARGV[9]  outbox id ("" for none)
  ARGV[10] outbox item JSON
  ARGV[11] now (ms)
  ARGV[12] fencing token ("" when the caller is a person, not the controller)
  ARGV[13] library key (PEP 503): the field of the branch's overrides and emergency pins
  ARGV[14] emergency pin JSON ("" for none): a rollback whose base pinned C pins S for everyone
  ARGV[15] second outbox id ("" for none): the separate exclusion change of a rollback
  ARGV[16] second outbox item JSON
  ARGV[17] the pub/sub channel told of the change
  Returns: the new revision; REFUSED.NOT_FOUND no such rollout; REFUSED.CONFLICT the revision
  changed; REFUSED.FENCE_LOST the caller's lease fence is no longer current.
  Every audit event is also added to the feed (MAXLEN ~ 100000), the notifier's feed of all
  rollouts' events (server/notify/notifier.ts).
]]
local rev = redis.call('HGET', KEYS[1], 'rev')
if not rev then return REFUSED.NOT_FOUND end
if rev ~= ARGV[2] then return REFUSED.CONFLICT end
if ARGV[12] ~= '' then
  local lease = redis.call('GET', KEYS[3])
  if not lease then return REFUSED.FENCE_LOST end
  local sep = string.find(lease, '|', 1, true)
  if not sep or string.sub(lease, sep + 1) ~= ARGV[12] then return REFUSED.FENCE_LOST end
end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'rev', ARGV[4])
if ARGV[7] == '1' then
  if redis.call('HGET', KEYS[2], ARGV[6]) == ARGV[1] then
    redis.call('HDEL', KEYS[2], ARGV[6])
  end
  redis.call('SADD', KEYS[11], ARGV[1])
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[13], ARGV[8])
end
if ARGV[14] ~= '' then
  redis.call('HSET', KEYS[5], ARGV[13], ARGV[14])
end
for _, o in ipairs({ { ARGV[9], ARGV[10] }, { ARGV[15], ARGV[16] } }) do
  if o[1] ~= '' then
    if redis.call('HSETNX', KEYS[6], o[1], o[2]) == 1 then
      redis.call('ZADD', KEYS[7], ARGV[11], o[1])
    end
  end
end
redis.call('XADD', KEYS[8], '*', 'json', ARGV[5])
redis.call('XADD', KEYS[9], 'MAXLEN', '~', '100000', '*', 'json', ARGV[5])
local v = redis.call('INCR', KEYS[10])
redis.call('PUBLISH', ARGV[17], v)
return tonumber(ARGV[4])
