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
  ARGV[9]  source of the report ('' none; services/sources.ts)
  ARGV[10] the fleet history's cap per machine and day, ARGV[11] its cap per source and day (0 off)
  ARGV[12] number of failing test ids T, then T ids
  then, per rollout: rollout id, arm (candidate | control | mismatch), stage index, its cap
  per machine and day, its cap per source, arm and day (0 off), and the number S of tokens
  of its segment plan that follow (0: none), then those S tokens
  Returns: 1 counted; 0 duplicate (already counted, nothing written).
  A segment plan (server/domain/segments/plan.ts, serialised by telemetry-store.ts) is
  executed here without knowing what it counts: the caps are defined by the domain.
    tokens: 3 family tables (p, y, s: sets), first-occurrence set, cap hash, budget hash,
            refused hash, the arm's aggregate hash (8 key names), the 3 table limits, the
            budget limit, the budget field, the number of groups G, then G groups of:
            number of guards, 3 tokens per guard, number of fields, the fields.
    guards: A <family> <member>  admit: in the table, or added when the table has room and
                                 the budget field is below the budget limit (then +1); else
                                 refused[family] +1 and the group stops
            M <family> <member>  the member is in the table
            C <field> <limit>    HINCRBY the cap field; passes while it is <= limit
            F <member> -         SADD to the first-occurrence set; passes if new
            N <member> -         passes while the member is not in the first-occurrence set
    A group whose guards all pass increments each of its fields by 1 in the aggregate hash.
  Besides the per-rollout keys, every counted report (whatever rollouts it concerns, also
  when none) adds to the fleet history read for a new rollout's q0 (keys.ts fleetMachineDays):
    <prefix>:fleet:md:<day>  hash, field <machine> = "runs,failures,errors[,source]" on that
                             UTC day (the same format as :ro:<id>:md:<arm>); EXPIRE 10 days
  The source cap (docs/trust.md): a run that adds weight (its machine-day has fewer runs
  than the machine cap) takes one from its source's allowance of the arm and day
  (:ro:<id>:srccap, field <arm>|<source>|<day>; the fleet's :fleet:src:<day>, field
  <source>); past the allowance the report does not count there (meta sourceCapped +1).
]]
local p = ARGV[1]
if redis.call('SET', p .. ':report:' .. ARGV[2], '1', 'NX', 'EX', ARGV[3]) == false then
  return 0
end
local machine, day, outcome, now, source = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local failed = outcome ~= 'pass'
local tail = ''
if source ~= '' then tail = ',' .. source end
-- Whether this run may count under the source cap: true when there is no source or no cap, or
-- when the machine-day is past its own cap (the run adds no weight), else while the source's
-- counter for the arm and day stays within the cap.
local function within(mdKey, mdField, mcap, capKey, capField, scap)
  if source == '' or scap <= 0 then return true end
  local cur = redis.call('HGET', mdKey, mdField)
  if cur and tonumber(string.match(cur, '^(%d+)')) >= mcap then return true end
  local n = redis.call('HINCRBY', capKey, capField, 1)
  if n == 1 then return true, true end
  return n <= scap
end
-- Adds this run to a "runs,failures,errors[,source]" machine-day field; true when the field is new.
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
  redis.call('HSET', key, field, n .. ',' .. f .. ',' .. e .. tail)
  return cur == false
end
local mr = p .. ':machine-reports:' .. machine
redis.call('LPUSH', mr, ARGV[4])
redis.call('LTRIM', mr, 0, 49)
redis.call('EXPIRE', mr, 2592000)
redis.call('HINCRBY', p .. ':ingest', 'reports', 1)
local fleet = p .. ':fleet:md:' .. day
local fleetCaps = p .. ':fleet:src:' .. day
local fleetOk, fleetNew = within(fleet, machine, tonumber(ARGV[10]), fleetCaps, source, tonumber(ARGV[11]))
if fleetNew then redis.call('EXPIRE', fleetCaps, 864000) end
-- the TTL is (re)set with each new machine-day, which keeps it 10 days past the day's last one
if fleetOk and bump(fleet, machine) then redis.call('EXPIRE', fleet, 864000) end
-- Executes one rollout's segment plan starting at ARGV[j] (see the header).
local function segments(j)
  local tables = { p = ARGV[j], y = ARGV[j + 1], s = ARGV[j + 2] }
  local first, caps, budget, refused, agg = ARGV[j + 3], ARGV[j + 4], ARGV[j + 5], ARGV[j + 6], ARGV[j + 7]
  local limit = { p = tonumber(ARGV[j + 8]), y = tonumber(ARGV[j + 9]), s = tonumber(ARGV[j + 10]) }
  local budgetMax, budgetField = tonumber(ARGV[j + 11]), ARGV[j + 12]
  local k = j + 14
  for _ = 1, tonumber(ARGV[j + 13]) do
    local ok = true
    for _ = 1, tonumber(ARGV[k]) do
      local op, a, b = ARGV[k + 1], ARGV[k + 2], ARGV[k + 3]
      if ok then
        if op == 'A' then
          local set = tables[a]
          if redis.call('SISMEMBER', set, b) == 0 then
            if redis.call('SCARD', set) < limit[a] and tonumber(redis.call('HGET', budget, budgetField) or '0') < budgetMax then
              redis.call('SADD', set, b)
              redis.call('HINCRBY', budget, budgetField, 1)
            else
              redis.call('HINCRBY', refused, a, 1)
              ok = false
            end
          end
        elseif op == 'M' then
          ok = redis.call('SISMEMBER', tables[a], b) == 1
        elseif op == 'C' then
          ok = redis.call('HINCRBY', caps, a, 1) <= tonumber(b)
        elseif op == 'F' then
          ok = redis.call('SADD', first, a) == 1
        elseif op == 'N' then
          ok = redis.call('SISMEMBER', first, a) == 0
        else
          ok = false -- unknown guard (never written by telemetry-store.ts): count nothing
        end
      end
      k = k + 3
    end
    local n = tonumber(ARGV[k + 1])
    if ok then
      for f = 1, n do redis.call('HINCRBY', agg, ARGV[k + 1 + f], 1) end
    end
    k = k + 2 + n
  end
end
local nt = tonumber(ARGV[12])
local i = 13 + nt
while i + 5 <= #ARGV do
  local id, arm, stage, mcap, scap, nseg = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])
  local ro = p .. ':ro:' .. id
  local meta = ro .. ':meta'
  if arm == 'mismatch' then
    redis.call('HINCRBY', meta, 'mismatched', 1)
  elseif not within(ro .. ':md:' .. arm, machine .. '|' .. day, mcap, ro .. ':srccap', arm .. '|' .. source .. '|' .. day, scap) then
    redis.call('HINCRBY', meta, 'sourceCapped', 1)
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
      local tid = ARGV[12 + t]
      if redis.call('SADD', ro .. ':ftm:' .. arm, tid .. '\t' .. machine) == 1 then
        redis.call('ZINCRBY', ro .. ':ft:' .. arm, 1, tid)
      end
    end
    if nseg > 0 then segments(i + 6) end
  end
  i = i + 6 + nseg
end
return 1
