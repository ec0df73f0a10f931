--[[
  create.lua — create a rollout and make it the active one of its (branch, library),
  superseding the previous active rollout (if any) in the same step.
  KEYS (store/keys.ts; all in the control slot):
  KEYS[1] the new rollout's hash          KEYS[5] the feed of all rollouts' events
  KEYS[2] active                          KEYS[6] version
  KEYS[3] the rollout index               KEYS[7] the superseded rollout's hash (any control key when none)
  KEYS[4] the new rollout's events        KEYS[8] the superseded rollout's events (likewise)
                                          KEYS[9] ending: rollouts whose evidence waits to expire
  ARGV[1]  new rollout id
  ARGV[2]  new rollout JSON (revision 1)
  ARGV[3]  field in active: "<branch>|<library key (PEP 503)>"
  ARGV[4]  "created" audit event JSON
  ARGV[5]  createdAt (ms), the score in the rollout index
  ARGV[6]  id of the active rollout the caller saw ("" for none)
  ARGV[7]  its expected revision
  ARGV[8]  its next (superseded) JSON
  ARGV[9]  its next revision
  ARGV[10] its "superseded" audit event JSON
  ARGV[11] the pub/sub channel told of the change
  Returns: 1 created; REFUSED.CONFLICT the active rollout changed since the caller read it.
  Every audit event is also added to the feed (MAXLEN ~ 100000), the notifier's feed of all
  rollouts' events (server/notify/notifier.ts).
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return REFUSED.CONFLICT end
local current = redis.call('HGET', KEYS[2], ARGV[3]) or ''
if current ~= ARGV[6] then return REFUSED.CONFLICT end
if ARGV[6] ~= '' then
  if redis.call('HGET', KEYS[7], 'rev') ~= ARGV[7] then return REFUSED.CONFLICT end
  redis.call('HSET', KEYS[7], 'json', ARGV[8], 'rev', ARGV[9])
  redis.call('XADD', KEYS[8], '*', 'json', ARGV[10])
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100000', '*', 'json', ARGV[10])
  redis.call('SADD', KEYS[9], ARGV[6])
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'rev', '1')
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
redis.call('XADD', KEYS[4], '*', 'json', ARGV[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100000', '*', 'json', ARGV[4])
local v = redis.call('INCR', KEYS[6])
redis.call('PUBLISH', ARGV[11], v)
return 1
