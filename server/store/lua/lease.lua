--[[
  lease.lua — acquire or renew a named lease with a fencing token.
  KEYS[1] the lease, KEYS[2] its fence counter (control slot, store/keys.ts)
  ARGV[1] owner id (random per process)
  ARGV[2] ttl (ms)
  ARGV[3] "release" to give the lease up, else ""
  The lease value is "<owner>|<fence>"; the fence grows by one each time the lease
  changes hands, so a write carrying an old fence can be refused (see transition.lua).
  Returns: {fence, ms}: the fence (> 0) and the lease's remaining time when the caller holds
  it; {0, ms until the other holder's lease lapses} when someone else does; {0, 0} released.
]]
local cur = redis.call('GET', KEYS[1])
local owner, fence = nil, nil
if cur then
  local sep = string.find(cur, '|', 1, true)
  owner, fence = string.sub(cur, 1, sep - 1), string.sub(cur, sep + 1)
end
if ARGV[3] == 'release' then
  if owner == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return { 0, 0 }
end
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { tonumber(fence), tonumber(ARGV[2]) }
end
if cur then return { 0, redis.call('PTTL', KEYS[1]) } end
local f = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. f, 'PX', ARGV[2])
return { f, tonumber(ARGV[2]) }
