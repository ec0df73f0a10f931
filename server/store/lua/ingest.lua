--[[
  ingest.lua — count one test-run report exactly once, for every rollout it concerns.
  ARGV[1]  prefix
  ARGV[2]  report id
  ARGV[3]  dedupe TTL (s)
  ARGV[4]  report JSON (as received, plus receivedAt)
  ARGV[5]  machine id
  ARGV[6]  UTC day of finishedAt (YYYY-MM-DD)
  ARGV[7]  outcome: pass | fail | error
  ARGV[8]  now (ms)
  ARGV[9]  number of failing test ids T, then T ids
  then, per rollout, three values: rollout id, arm (candidate | control | mismatch), stage index
  Returns: 1 counted; 0 duplicate (already counted, nothing written).
  Besides the per-rollout keys, every counted report (whatever rollouts it concerns, also
  when none) adds to the fleet history read for a new rollout's q0 (keys.ts fleetMachineDays):
    <prefix>:fleet:md:<day>  hash, field <machine> = "runs,failures,errors" on that UTC day
                             (the same format as :ro:<id>:md:<arm>); EXPIRE 10 days
]]
local p = ARGV[1]
if redis.call('SET', p .. ':report:' .. ARGV[2], '1', 'NX', 'EX', ARGV[3]) == false then
  return 0
end
local machine, day, outcome, now = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local failed = outcome ~= 'pass'
-- Adds this run to a "runs,failures,errors" machine-day field; true when the field is new.
local function bump(key, field)
  local cur = redis.call('HGET', key, field)
  local n, f, e = 0, 0, 0
  if cur then
    local a, b, c = string.match(cur, '(%d+),(%d+),(%d+)')
    n, f, e = tonumber(a), tonumber(b), tonumber(c)
  end
  n = n + 1
  if outcome == 'fail' then f = f + 1 end
  if outcome == 'error' then e = e + 1 end
  redis.call('HSET', key, field, n .. ',' .. f .. ',' .. e)
  return cur == false
end
local mr = p .. ':machine-reports:' .. machine
redis.call('LPUSH', mr, ARGV[4])
redis.call('LTRIM', mr, 0, 49)
redis.call('EXPIRE', mr, 2592000)
redis.call('HINCRBY', p .. ':ingest', 'reports', 1)
local fleet = p .. ':fleet:md:' .. day
-- the TTL is (re)set with each new machine-day, which keeps it 10 days past the day's last one
if bump(fleet, machine) then redis.call('EXPIRE', fleet, 864000) end
local nt = tonumber(ARGV[9])
local i = 10 + nt
while i + 2 <= #ARGV do
  local id, arm, stage = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local ro = p .. ':ro:' .. id
  local meta = ro .. ':meta'
  if arm == 'mismatch' then
    redis.call('HINCRBY', meta, 'mismatched', 1)
  else
    redis.call('HINCRBY', meta, 'counted', 1)
    redis.call('HSET', meta, 'lastReportAt', now)
    for _, st in ipairs({stage, 'all'}) do
      local c = ro .. ':c:' .. st .. ':' .. arm
      redis.call('HINCRBY', c, 'runs', 1)
      if outcome == 'fail' then redis.call('HINCRBY', c, 'failures', 1) end
      if outcome == 'error' then redis.call('HINCRBY', c, 'errors', 1) end
      if redis.call('SADD', c .. ':m', machine) == 1 then redis.call('HINCRBY', c, 'machines', 1) end
      if failed and redis.call('SADD', c .. ':fm', machine) == 1 then
        redis.call('HINCRBY', c, 'failingMachines', 1)
      end
    end
    bump(ro .. ':md:' .. arm, machine .. '|' .. day)
    for t = 1, nt do
      local tid = ARGV[9 + t]
      if redis.call('SADD', ro .. ':ftm:' .. arm, tid .. '\t' .. machine) == 1 then
        redis.call('ZINCRBY', ro .. ':ft:' .. arm, 1, tid)
      end
    end
  end
  i = i + 3
end
return 1
