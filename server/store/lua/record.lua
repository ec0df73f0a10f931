--[[
  record.lua — the controller's record of one evaluation, written only while its lease
  fence is current (the same check as transition.lua), so a process that lost the lease
  cannot overwrite the latest explanation or freeze q0.
  KEYS (control slot, store/keys.ts):
  KEYS[1] the rollout's hash      KEYS[4] the rollout's events
  KEYS[2] the controller lease    KEYS[5] the feed
  KEYS[3] the rollout's decision series
  ARGV[1] fencing token
  ARGV[2] decision JSON
  ARGV[3] q0 to freeze ("" for none; HSETNX: the first value stays)
  ARGV[4] series point JSON ("" for none)
  ARGV[5] audit event JSON ("" for none)
  Returns: 1 written; REFUSED.NOT_FOUND no such rollout; REFUSED.FENCE_LOST the fence is no
  longer current.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return REFUSED.NOT_FOUND end
local lease = redis.call('GET', KEYS[2])
if not lease then return REFUSED.FENCE_LOST end
local sep = string.find(lease, '|', 1, true)
if not sep or string.sub(lease, sep + 1) ~= ARGV[1] then return REFUSED.FENCE_LOST end
redis.call('HSET', KEYS[1], 'decision', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSETNX', KEYS[1], 'q0', ARGV[3]) end
if ARGV[4] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[4])
  redis.call('LTRIM', KEYS[3], -1000, -1)
end
if ARGV[5] ~= '' then
  redis.call('XADD', KEYS[4], '*', 'json', ARGV[5])
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', '100000', '*', 'json', ARGV[5])
end
return 1
