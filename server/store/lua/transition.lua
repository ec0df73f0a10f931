--[[
  transition.lua — compare-and-set of one rollout's state, with its side effects, atomically.
  Keys are built from the prefix (single-node Redis), mirroring server/store/keys.ts.
  ARGV[1]  prefix
  ARGV[2]  rollout id
  ARGV[3]  expected revision
  ARGV[4]  next rollout JSON
  ARGV[5]  next revision
  ARGV[6]  audit event JSON
  ARGV[7]  field of the rollout in <prefix>:active: "<branch>|<library key>"
  ARGV[8]  "1" when the rollout leaves the active set (terminal state)
  ARGV[9]  base override JSON ("" for none): promotion puts C's lines on the branch's base
  ARGV[10] outbox id ("" for none)
  ARGV[11] outbox item JSON
  ARGV[12] now (ms)
  ARGV[13] fencing token ("" when the caller is a person, not the controller)
  ARGV[14] lease name
  ARGV[15] branch (master, stable/<series>, ...)
  ARGV[16] library key (PEP 503): the field of the branch's overrides and emergency pins
  ARGV[17] emergency pin JSON ("" for none): a rollback whose base pinned C pins S for everyone
  ARGV[18] second outbox id ("" for none): the separate exclusion change of a rollback
  ARGV[19] second outbox item JSON
  Returns: the new revision; -1 rollout not found; -2 revision changed (conflict);
           -3 the caller's lease fence is no longer current.
  Every audit event XADDed here is also added to <prefix>:feed (MAXLEN ~ 100000), the
  notifier's feed of all rollouts' events (server/notify/notifier.ts).
]]
local p = ARGV[1]
local rkey = p .. ':rollout:' .. ARGV[2]
local rev = redis.call('HGET', rkey, 'rev')
if not rev then return -1 end
if rev ~= ARGV[3] then return -2 end
if ARGV[13] ~= '' then
  local lease = redis.call('GET', p .. ':lease:' .. ARGV[14])
  if not lease then return -3 end
  local sep = string.find(lease, '|', 1, true)
  if not sep or string.sub(lease, sep + 1) ~= ARGV[13] then return -3 end
end
redis.call('HSET', rkey, 'json', ARGV[4], 'rev', ARGV[5])
if ARGV[8] == '1' then
  if redis.call('HGET', p .. ':active', ARGV[7]) == ARGV[2] then
    redis.call('HDEL', p .. ':active', ARGV[7])
  end
end
local branch = p .. ':branch:' .. ARGV[15]
if ARGV[9] ~= '' then
  redis.call('HSET', branch .. ':overrides', ARGV[16], ARGV[9])
end
if ARGV[17] ~= '' then
  redis.call('HSET', branch .. ':emergency', ARGV[16], ARGV[17])
end
for _, o in ipairs({ { ARGV[10], ARGV[11] }, { ARGV[18], ARGV[19] } }) do
  if o[1] ~= '' then
    if redis.call('HSETNX', p .. ':outbox:items', o[1], o[2]) == 1 then
      redis.call('ZADD', p .. ':outbox:due', ARGV[12], o[1])
    end
  end
end
redis.call('XADD', p .. ':events:' .. ARGV[2], '*', 'json', ARGV[6])
redis.call('XADD', p .. ':feed', 'MAXLEN', '~', '100000', '*', 'json', ARGV[6])
local v = redis.call('INCR', p .. ':version')
redis.call('PUBLISH', p .. ':changed', v)
return tonumber(ARGV[5])
