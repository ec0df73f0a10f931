--[[
  lease.lua — acquire or renew a named lease with a fencing token.
  ARGV[1] prefix
  ARGV[2] lease name
  ARGV[3] owner id (random per process)
  ARGV[4] ttl (ms)
  ARGV[5] "release" to give the lease up, else "" 
  The lease value is "<owner>|<fence>"; the fence grows by one each time the lease
  changes hands, so a write carrying an old fence can be refused (see transition.lua).
  Returns: the fence (> 0) when the caller holds the lease; 0 when someone else does.
]]
local key = ARGV[1] .. ':lease:' .. ARGV[2]
local cur = redis.call('GET', key)
local owner, fence = nil, nil
if cur then
  local sep = string.find(cur, '|', 1, true)
  owner, fence = string.sub(cur, 1, sep - 1), string.sub(cur, sep + 1)
end
if ARGV[5] == 'release' then
  if owner == ARGV[3] then redis.call('DEL', key) end
  return 0
end
if owner == ARGV[3] then
  redis.call('PEXPIRE', key, ARGV[4])
  return tonumber(fence)
end
if cur then return 0 end
local f = redis.call('INCR', key .. ':fence')
redis.call('SET', key, ARGV[3] .. '|' .. f, 'PX', ARGV[4])
return f
