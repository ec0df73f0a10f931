--[[
  record.lua — the controller's record of one evaluation, written only while its lease
  fence is current (the same check as transition.lua), so a process that lost the lease
  cannot overwrite the latest explanation or freeze q0.
  ARGV[1] prefix
  ARGV[2] rollout id
  ARGV[3] lease name
  ARGV[4] fencing token
  ARGV[5] decision JSON
  ARGV[6] q0 to freeze ("" for none; HSETNX: the first value stays)
  ARGV[7] series point JSON ("" for none)
  ARGV[8] audit event JSON ("" for none)
  Returns: 1 written; -1 rollout not found; -3 the fence is no longer current.
  Every audit event XADDed here is also added to <prefix>:feed (MAXLEN ~ 100000), the
  notifier's feed of all rollouts' events (server/notify/notifier.ts).
]]
local p = ARGV[1]
local rkey = p .. ':rollout:' .. ARGV[2]
if redis.call('EXISTS', rkey) == 0 then return -1 end
local lease = redis.call('GET', p .. ':lease:' .. ARGV[3])
if not lease then return -3 end
local sep = string.find(lease, '|', 1, true)
if not sep or string.sub(lease, sep + 1) ~= ARGV[4] then return -3 end
redis.call('HSET', rkey, 'decision', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSETNX', rkey, 'q0', ARGV[6]) end
if ARGV[7] ~= '' then
  local skey = p .. ':ro:' .. ARGV[2] .. ':series'
  redis.call('RPUSH', skey, ARGV[7])
  redis.call('LTRIM', skey, -1000, -1)
end
if ARGV[8] ~= '' then
  redis.call('XADD', p .. ':events:' .. ARGV[2], '*', 'json', ARGV[8])
  redis.call('XADD', p .. ':feed', 'MAXLEN', '~', '100000', '*', 'json', ARGV[8])
end
return 1
