--[[
  create.lua — create a rollout and make it the active one of its (branch, library),
  superseding the previous active rollout (if any) in the same step.
  ARGV[1]  prefix
  ARGV[2]  new rollout id
  ARGV[3]  new rollout JSON (revision 1)
  ARGV[4]  field in <prefix>:active: "<branch>|<library key (PEP 503)>"
  ARGV[5]  "created" audit event JSON
  ARGV[6]  createdAt (ms), the score in the rollout index
  ARGV[7]  id of the active rollout the caller saw ("" for none)
  ARGV[8]  its expected revision
  ARGV[9]  its next (superseded) JSON
  ARGV[10] its next revision
  ARGV[11] its "superseded" audit event JSON
  Returns: 1 created; -2 the active rollout changed since the caller read it (conflict).
  Every audit event XADDed here is also added to <prefix>:feed (MAXLEN ~ 100000), the
  notifier's feed of all rollouts' events (server/notify/notifier.ts).
]]
local p = ARGV[1]
local nkey = p .. ':rollout:' .. ARGV[2]
if redis.call('EXISTS', nkey) == 1 then return -2 end
local current = redis.call('HGET', p .. ':active', ARGV[4]) or ''
if current ~= ARGV[7] then return -2 end
if ARGV[7] ~= '' then
  local okey = p .. ':rollout:' .. ARGV[7]
  if redis.call('HGET', okey, 'rev') ~= ARGV[8] then return -2 end
  redis.call('HSET', okey, 'json', ARGV[9], 'rev', ARGV[10])
  redis.call('XADD', p .. ':events:' .. ARGV[7], '*', 'json', ARGV[11])
  redis.call('XADD', p .. ':feed', 'MAXLEN', '~', '100000', '*', 'json', ARGV[11])
end
redis.call('HSET', nkey, 'json', ARGV[3], 'rev', '1')
redis.call('ZADD', p .. ':rollouts', ARGV[6], ARGV[2])
redis.call('HSET', p .. ':active', ARGV[4], ARGV[2])
redis.call('XADD', p .. ':events:' .. ARGV[2], '*', 'json', ARGV[5])
redis.call('XADD', p .. ':feed', 'MAXLEN', '~', '100000', '*', 'json', ARGV[5])
local v = redis.call('INCR', p .. ':version')
redis.call('PUBLISH', p .. ':changed', v)
return 1
