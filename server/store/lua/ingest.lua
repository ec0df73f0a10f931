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
  The arm aggregate (what the decision rule reads, O(days) per evaluation): where a counted
  run joins its machine-day it also joins the arm's aggregate, by the steps of ArmAccumulator.add
  (server/domain/decision/accumulator.ts) with the rollout's cap per machine and day; key names
  as keys.ts armAggregate*, read by server/domain/decision/stored-aggregate.ts:
    <prefix>:ro:<id>:arm:<arm>       hash: cap, the sums of SUMS below (17 significant digits);
                                     partial = why it misses runs (machine-days older than
                                     it, or runs with another cap): the reader reads machine-days
    <prefix>:ro:<id>:arm:<arm>:m     hash: machine -> "N_m,F_m,runs,failed runs,last day,source"
    <prefix>:ro:<id>:arm:<arm>:c     hash: source -> "N_c,F_c,failing machines,all-failing machines"
    <prefix>:ro:<id>:arm:<arm>:days  hash: UTC day -> machines whose last day it is
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
-- Adds this run to a "runs,failures,errors[,source]" machine-day field whose value was `cur`
-- (false: none); true when the field is new.
local function bump(key, field, cur)
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
-- Numbers as stored: 17 significant digits read back as the same double (integers stay exact).
local function num(x) return string.format('%.17g', x) end
-- The arm aggregate's sums, in the order of STORED_SUMS (server/domain/decision/stored-aggregate.ts).
local SUMS = { 'N', 'F', 'G', 'sumFF', 'sumFN', 'sumNN', 'runs', 'failures', 'errors', 'allFailing', 'clusters', 'failingSources', 'allFailingSources' }
-- Adds this run to the arm aggregate `a` (see the header) before it joins the machine-day
-- mdField of mdKey, whose value was `cur`: the steps of ArmAccumulator.add
-- (server/domain/decision/accumulator.ts), with the machine-day read from the store.
local function aggregate(a, mdKey, cur, mcap)
  local v = redis.call('HMGET', a, 'cap', 'partial', unpack(SUMS))
  if v[2] then return end
  if not v[1] then
    if redis.call('EXISTS', mdKey) == 1 then
      -- machine-days from before aggregates were kept: the reader keeps reading those
      redis.call('HSET', a, 'partial', 'older machine-days')
      return
    end
  elseif tonumber(v[1]) ~= mcap then
    redis.call('HSET', a, 'partial', 'cap ' .. mcap)
    redis.call('DEL', a .. ':m', a .. ':c', a .. ':days')
    return
  end
  local S, S0 = {}, {}
  for x, name in ipairs(SUMS) do
    S[name] = tonumber(v[x + 2] or '0')
    S0[name] = S[name]
  end
  -- the day's weight w = min(n, cap) and share f·w/n, before and after this run
  local n0, b0 = 0, 0
  if cur then
    local r, fl, er = string.match(cur, '^(%d+),(%d+),(%d+)')
    n0, b0 = tonumber(r), math.min(tonumber(fl) + tonumber(er), tonumber(r))
  end
  local bad = 0
  if failed then bad = 1 end
  local w0 = math.min(n0, mcap)
  local c0 = 0
  if n0 > 0 then c0 = b0 * w0 / n0 end
  local w1 = math.min(n0 + 1, mcap)
  local c1 = (b0 + bad) * w1 / (n0 + 1)
  local dN, dF = w1 - w0, c1 - c0
  -- the machine: "N_m,F_m,runs,failed runs,last day,source" (its source for good: its first run's)
  local mKey, days = a .. ':m', a .. ':days'
  local mv = redis.call('HGET', mKey, machine)
  local mN, mF, raw, mb, last, src
  if mv then
    local x1, x2, x3, x4, x5, x6 = string.match(mv, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),(.*)$')
    mN, mF, raw, mb, last, src = tonumber(x1), tonumber(x2), tonumber(x3), tonumber(x4), x5, x6
    if day > last then
      if redis.call('HINCRBY', days, last, -1) <= 0 then redis.call('HDEL', days, last) end
      redis.call('HINCRBY', days, day, 1)
      last = day
    end
  else
    mN, mF, raw, mb, last, src = 0, 0, 0, 0, day, source
    S.G = S.G + 1
    redis.call('HINCRBY', days, day, 1)
    if src == '' then S.clusters = S.clusters + 1 end
  end
  local wasFailing, wasAll = mb > 0, raw > 0 and mb >= raw
  raw, mb = raw + 1, mb + bad
  local isFailing, isAll = mb > 0, mb >= raw
  if isAll ~= wasAll then
    if isAll then S.allFailing = S.allFailing + 1 else S.allFailing = S.allFailing - 1 end
  end
  -- the cluster: the source's "N_c,F_c,failing machines,all-failing machines"; without a source the machine
  local gN, gF, cf, ca = mN, mF, 0, 0
  local cKey = a .. ':c'
  if src ~= '' then
    local cv = redis.call('HGET', cKey, src)
    if cv then
      local y1, y2, y3, y4 = string.match(cv, '^([^,]*),([^,]*),([^,]*),([^,]*)$')
      gN, gF, cf, ca = tonumber(y1), tonumber(y2), tonumber(y3), tonumber(y4)
    else
      gN, gF = 0, 0
      S.clusters = S.clusters + 1
    end
  end
  local N0, F0 = gN, gF
  gN, gF = N0 + dN, F0 + dF
  mN, mF = mN + dN, mF + dF
  S.sumNN = S.sumNN + dN * (N0 + gN)
  S.sumFF = S.sumFF + dF * (F0 + gF)
  S.sumFN = S.sumFN + (dF * gN + F0 * dN)
  S.N, S.F = S.N + dN, S.F + dF
  if src ~= '' then
    if isFailing and not wasFailing then
      cf = cf + 1
      if cf == 1 then S.failingSources = S.failingSources + 1 end
    end
    if isAll ~= wasAll then
      local before = ca
      if isAll then ca = ca + 1 else ca = ca - 1 end
      if before == 0 then S.allFailingSources = S.allFailingSources + 1
      elseif ca == 0 then S.allFailingSources = S.allFailingSources - 1 end
    end
    redis.call('HSET', cKey, src, num(gN) .. ',' .. num(gF) .. ',' .. num(cf) .. ',' .. num(ca))
  else
    if isFailing and not wasFailing then S.failingSources = S.failingSources + 1 end
    if isAll ~= wasAll then
      if isAll then S.allFailingSources = S.allFailingSources + 1 else S.allFailingSources = S.allFailingSources - 1 end
    end
  end
  S.runs = S.runs + 1
  if outcome == 'fail' then S.failures = S.failures + 1 end
  if outcome == 'error' then S.errors = S.errors + 1 end
  redis.call('HSET', mKey, machine, num(mN) .. ',' .. num(mF) .. ',' .. num(raw) .. ',' .. num(mb) .. ',' .. last .. ',' .. src)
  -- only the sums this run moved (a new aggregate writes its cap)
  local out = {}
  if not v[1] then out = { 'cap', num(mcap) } end
  for _, name in ipairs(SUMS) do
    if S[name] ~= S0[name] then
      out[#out + 1] = name
      out[#out + 1] = num(S[name])
    end
  end
  redis.call('HSET', a, unpack(out))
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
if fleetOk and bump(fleet, machine, redis.call('HGET', fleet, machine)) then redis.call('EXPIRE', fleet, 864000) end
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
    local mdKey, mdField = ro .. ':md:' .. arm, machine .. '|' .. day
    local cur = redis.call('HGET', mdKey, mdField)
    aggregate(ro .. ':arm:' .. arm, mdKey, cur, mcap)
    bump(mdKey, mdField, cur)
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
