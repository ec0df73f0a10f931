--[[
  ingest.lua — count test-run reports exactly once, in parts. A report is counted in parts, each
  in one slot (store/keys.ts) and idempotent by the report id on its own, so a crash between
  parts followed by the client's resend of the same report id counts every part once
  (store/telemetry-store.ts):
    M  its machine's latest reports          (the machine's key)
    F  the fleet history of its UTC day      (the day's slot)
    R  each rollout it concerns              (the rollout's slot)
  A batch's parts are grouped by slot, each group in the reports' order: a machine's M parts,
  a day's F parts, a rollout's R parts. On Redis Cluster a call runs one group; on one Redis
  whole groups share calls of about 100 parts (telemetry-store.ts). KEYS are the parts' key sets (M 1, F 3, R 24 names), each set once however many parts
  use it; ARGV[1] is the number of parts P, then per part three: its kind (M, F or R), the index
  in KEYS where its key set starts (0-based), and its arguments as one JSON array (decoded by
  cjson in one step: far cheaper here than thousands of ARGV). Below, a part's KEYS[n] and
  ARGV[n] are its own (the n-th element of that array).
  Returns: the result of each part, in order.

  Reads and writes of the F and R parts go through a write-back cache (below): each hash field,
  set member and counter is read from Redis at most once per call and written once at its end,
  so what N reports of a batch add to one rollout's sums, counters and sets costs one write of
  each, not N. A script runs alone, so the result is that of running the parts one by one (but
  for a sum that moved and came back within the call: it is left as it was, and a missing sum
  reads as 0). Until the end of the call nothing of its F and R parts is written, but for a
  DEL (which writes what justifies it with it), so a Lua error in a call writes none of them.

  M — KEYS[1] machineReports: list of "<report id>\t<report JSON>", newest first
  ARGV[1] report id, ARGV[2] report JSON (as received, plus receivedAt)
  Result: 1 added; 0 already among the latest 50 (not added again).

  F — the history every counted report adds to, whatever rollouts it concerns (also none), read
  for a new rollout's q0. KEYS (the day's slot):
  KEYS[1] fleetSeen: report ids counted on that day (set)
  KEYS[2] fleetMachineDays: machine -> "runs,failures,errors[,source]" (the format of a rollout's md)
  KEYS[3] fleetSourceDays: source -> capped runs counted (the source cap)
  ARGV[1] report id, ARGV[2] machine id, ARGV[3] outcome: pass | fail | error
  ARGV[4] source of the report ('' none; services/sources.ts)
  ARGV[5] cap per machine and day, ARGV[6] cap per source and day (0 off)
  ARGV[7] seconds a report id is remembered
  Result: 1 counted; 0 duplicate. A run that adds weight (its machine-day has fewer runs than the
  machine cap) takes one from its source's allowance of the day; past it the run is not added.
  Expiry: 10 days, (re)set with each new machine-day (so 10 days past the day's last).

  R — a report's part in one rollout it concerns. KEYS (the rollout's slot, store/keys.ts; <arm> and
  <stage> are the report's):
  KEYS[1]  rolloutSeen: report ids counted for the rollout on the report's UTC day (set)
  KEYS[2]  rolloutMeta (counted, mismatched, sourceCapped, lastReportAt; retiredAt once ended)
  KEYS[3]  machineDays(<arm>): "<machine>|<day>" -> "runs,failures,errors[,source]"
  KEYS[4]  sourceCaps: "<arm>|<source>|<day>" -> capped runs counted
  KEYS[5..7]  counters(<stage>, <arm>), its machines, its failing machines
  KEYS[8..10] counters('all', <arm>), its machines, its failing machines
  KEYS[11] failingTests(<arm>) (zset test -> machines), KEYS[12] failingTestMachines(<arm>)
  KEYS[13..20] segment evidence: the 3 family tables (p, y, s: sets), first-occurrence set,
           cap hash, budget hash, refused hash, the arm's segment aggregate hash (segmentAggregates(<arm>))
  KEYS[21..24] the arm aggregate (armAggregate*(<arm>)): its hash, its machines, its sources, its days
  ARGV[1]  report id
  ARGV[2]  arm: candidate | control | mismatch
  ARGV[3]  machine id
  ARGV[4]  UTC day of finishedAt (YYYY-MM-DD)
  ARGV[5]  outcome: pass | fail | error
  ARGV[6]  now (ms)
  ARGV[7]  source of the report ('' none; services/sources.ts)
  ARGV[8]  the rollout's cap per machine and day, ARGV[9] its cap per source, arm and day (0 off)
  ARGV[10] seconds a report id is remembered
  ARGV[11] number of failing test ids T, then T ids
  then, only when the rollout keeps segment evidence, its plan's tokens as below (none
  otherwise: the part then has 11 + T arguments).
  Result: 1 counted (in an arm, as a mismatch, or over its source's cap); 0 duplicate (already
  counted, nothing written); REFUSED.ENDED the rollout's evidence is retired (nothing written).
  A segment plan (server/domain/segments/plan.ts, serialised by telemetry-store.ts) is
  executed here without knowing what it counts: the caps are defined by the domain.
    tokens: the 3 table limits, the budget limit, the budget field, the number of groups G,
            then G groups of: number of guards, 3 tokens per guard, number of fields, the fields.
    guards: A <family> <member>  admit: in the table, or added when the table has room and
                                 the budget field is below the budget limit (then +1); else
                                 refused[family] +1 and the group stops
            M <family> <member>  the member is in the table
            C <field> <limit>    HINCRBY the cap field; passes while it is <= limit
            F <member> -         SADD to the first-occurrence set; passes if new
            N <member> -         passes while the member is not in the first-occurrence set
    A group whose guards all pass increments each of its fields by 1 in the segment aggregate
    hash (KEYS[20]).
  The source cap (docs/trust.md): a run that adds weight (its machine-day has fewer runs
  than the machine cap) takes one from its source's allowance of the arm and day; past the
  allowance the report does not count there (meta sourceCapped +1).
  The arm aggregate (what the decision rule reads, O(days) per evaluation): where a counted
  run joins its machine-day it also joins the arm's aggregate, by the steps of ArmAccumulator.add
  (server/domain/decision/accumulator.ts) with the rollout's cap per machine and day; read by
  server/domain/decision/stored-aggregate.ts:
    KEYS[21] hash: cap, the sums of SUMS below (17 significant digits); partial = why it misses
             runs (machine-days older than it, or runs with another cap): the reader then reads
             the machine-days
    KEYS[22] hash: machine -> "N_m,F_m,runs,failed runs,last day,source"
    KEYS[23] hash: source -> "N_c,F_c,failing machines,all-failing machines"
    KEYS[24] hash: UTC day -> machines whose last day it is
]]
-- Numbers as stored: 17 significant digits read back as the same double (integers stay exact).
local function num(x) return string.format('%.17g', x) end
-- The arm aggregate's sums, in the order of STORED_SUMS (server/domain/decision/stored-aggregate.ts).
local SUMS = { 'N', 'F', 'G', 'sumFF', 'sumFN', 'sumNN', 'runs', 'failures', 'errors', 'allFailing', 'clusters', 'failingSources', 'allFailingSources' }
-- The write-back cache of one call (the F and R parts; the M part calls Redis itself). Every
-- access of an F or R key goes through it: a hash field, set member or set size is read from
-- Redis once and then kept; writes stay here and are flushed at the end of the call (flush()),
-- each key in one command. Values read are as Redis would return them (false: absent).
local H, HK, S, SK, Z, ZK, TTL, TK = {}, {}, {}, {}, {}, {}, {}, {}
-- The entry of `key` in the cache table `tbl`, made by `new()` when first used; `keys` keeps the
-- keys in the order flush() writes them.
local function entry(tbl, keys, key, new)
  local e = tbl[key]
  if not e then
    e = new()
    tbl[key] = e
    keys[#keys + 1] = key
  end
  return e
end
local function newHash() return { v = {}, dirty = {}, order = {} } end
local function newSet() return { m = {}, add = {} } end
local function newZset() return { d = {}, order = {} } end
local function hent(key) return entry(H, HK, key, newHash) end
local function hget(key, field)
  local e = hent(key)
  local x = e.v[field]
  if x == nil then
    x = redis.call('HGET', key, field)
    e.v[field] = x
  end
  return x
end
local function hset(key, field, value)
  local e = hent(key)
  e.v[field] = value
  if not e.dirty[field] then
    e.dirty[field] = true
    e.order[#e.order + 1] = field
  end
end
local function hdel(key, field) hset(key, field, false) end
local function hincrby(key, field, n)
  local x = tonumber(hget(key, field) or 0) + n
  hset(key, field, x)
  return x
end
-- Whether a hash exists. Only for hashes this call never deletes fields of (a machine-days hash).
local function hexistsKey(key)
  local e = H[key]
  if e then
    for _, f in ipairs(e.order) do
      if e.v[f] then return true end
    end
  end
  return redis.call('EXISTS', key) == 1
end
local function sent(key) return entry(S, SK, key, newSet) end
local function sismember(key, member)
  local e = sent(key)
  local x = e.m[member]
  if x == nil then
    x = redis.call('SISMEMBER', key, member) == 1
    e.m[member] = x
  end
  return x
end
-- SADD of one member: 1 added, 0 already there.
local function sadd(key, member)
  if sismember(key, member) then return 0 end
  local e = S[key]
  e.m[member] = true
  e.add[#e.add + 1] = member
  return 1
end
local function scard(key)
  local e = sent(key)
  if not e.card then e.card = redis.call('SCARD', key) end
  return e.card + #e.add
end
local function zincrby(key, n, member)
  local e = entry(Z, ZK, key, newZset)
  if not e.d[member] then
    e.d[member] = 0
    e.order[#e.order + 1] = member
  end
  e.d[member] = e.d[member] + n
end
local function expire(key, seconds)
  if TTL[key] == nil then TK[#TK + 1] = key end
  TTL[key] = seconds
end
-- DEL now: what the call wrote to those keys before goes with them.
local function del(...)
  for _, key in ipairs({ ... }) do
    redis.call('DEL', key)
    H[key], S[key], Z[key], TTL[key] = nil, nil, nil, nil
  end
end
-- The arm aggregates' sums (SUMS below), read once per call with HMGET and kept as numbers; flush()
-- writes those that moved. Every access of an aggregate's sums goes through sumsOf().
local SUMSOF, SUMS0, SUMK = {}, {}, {}
local function sumsOf(aKey)
  local S = SUMSOF[aKey]
  if not S then
    local v = redis.call('HMGET', aKey, unpack(SUMS))
    S, SUMS0[aKey] = {}, {}
    for x, name in ipairs(SUMS) do
      S[name] = tonumber(v[x] or '0')
      SUMS0[aKey][name] = S[name]
    end
    SUMSOF[aKey] = S
    SUMK[#SUMK + 1] = aKey
  end
  return S
end
-- A cached value as Redis stores it (HINCRBY's are integers).
local function stored(x)
  if type(x) == 'number' then return string.format('%d', x) end
  return x
end
-- Runs `cmd key <args>` in chunks of at most 1000 arguments.
local function chunked(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end
-- The sorted sets first: the only keys written here that the call has not read (a wrong type
-- fails before anything else is written).
local function flush()
  for _, key in ipairs(ZK) do
    local e = Z[key]
    if e then
      for _, m in ipairs(e.order) do redis.call('ZINCRBY', key, e.d[m], m) end
    end
  end
  for _, key in ipairs(HK) do
    local e = H[key]
    if e then
      local set, gone = {}, {}
      for _, f in ipairs(e.order) do
        local x = e.v[f]
        if x then
          set[#set + 1] = f
          set[#set + 1] = stored(x)
        else
          gone[#gone + 1] = f
        end
      end
      if #set > 0 then chunked('HSET', key, set) end
      if #gone > 0 then chunked('HDEL', key, gone) end
    end
  end
  for _, key in ipairs(SK) do
    local e = S[key]
    if e and #e.add > 0 then chunked('SADD', key, e.add) end
  end
  for _, key in ipairs(SUMK) do
    local S, S0, moved = SUMSOF[key], SUMS0[key], {}
    for _, name in ipairs(SUMS) do
      if S[name] ~= S0[name] then
        moved[#moved + 1] = name
        moved[#moved + 1] = num(S[name])
      end
    end
    if #moved > 0 then redis.call('HSET', key, unpack(moved)) end
  end
  for _, key in ipairs(TK) do
    if TTL[key] then redis.call('EXPIRE', key, TTL[key]) end
  end
end
-- A machine-day value is "runs,failures,errors[,source]" (a rollout's machineDays, the fleet's
-- history): `cur` (false: none yet) with one more run of `outcome` from `source`.
local function withRun(cur, outcome, source)
  local n, f, e = 0, 0, 0
  if cur then
    local a, b, c = string.match(cur, '(%d+),(%d+),(%d+)')
    n, f, e = tonumber(a), tonumber(b), tonumber(c)
  end
  n = n + 1
  if outcome == 'fail' then f = f + 1 end
  if outcome == 'error' then e = e + 1 end
  if source ~= '' then return n .. ',' .. f .. ',' .. e .. ',' .. source end
  return n .. ',' .. f .. ',' .. e
end
-- Whether the machine-day value `cur` holds `cap` runs or more (a run then adds no weight).
local function pastCap(cur, cap)
  return cur and tonumber(string.match(cur, '^(%d+)')) >= cap
end
-- M: a report joins its machine's latest reports once (its KEYS[k + 1], its A[1] and A[2]; see the header).
local function machinePart(k, A)
  local head = A[1] .. '\t'
  for _, v in ipairs(redis.call('LRANGE', KEYS[k + 1], 0, 49)) do
    if string.sub(v, 1, #head) == head then return 0 end
  end
  redis.call('LPUSH', KEYS[k + 1], head .. A[2])
  redis.call('LTRIM', KEYS[k + 1], 0, 49)
  redis.call('EXPIRE', KEYS[k + 1], 2592000)
  return 1
end
-- F: a report's run in its day's fleet history (its KEYS[k + 1..3], its A[1..7]; see the header).
local function fleetPart(k, A)
  if sadd(KEYS[k + 1], A[1]) == 0 then return 0 end
  expire(KEYS[k + 1], A[7])
  local machine, outcome, source = A[2], A[3], A[4]
  local mcap, scap = tonumber(A[5]), tonumber(A[6])
  local cur = hget(KEYS[k + 2], machine)
  if source ~= '' and scap > 0 and not pastCap(cur, mcap) then
    local n = hincrby(KEYS[k + 3], source, 1)
    if n == 1 then expire(KEYS[k + 3], 864000) end
    if n > scap then return 1 end
  end
  hset(KEYS[k + 2], machine, withRun(cur, outcome, source))
  if not cur then expire(KEYS[k + 2], 864000) end
  return 1
end
-- R: a report's part in one rollout (its KEYS[k + 1..24], its n arguments A; see the header).
local function rolloutPart(k, A, n)
  if hget(KEYS[k + 2], 'retiredAt') then return REFUSED.ENDED end
  if sadd(KEYS[k + 1], A[1]) == 0 then return 0 end
  expire(KEYS[k + 1], A[10])
  local arm, machine, day, outcome, now, source = A[2], A[3], A[4], A[5], A[6], A[7]
  local mcap, scap = tonumber(A[8]), tonumber(A[9])
  local meta = KEYS[k + 2]
  local failed = outcome ~= 'pass'
  -- Whether this run may count under the source cap: true when there is no source or no cap, or
  -- when the machine-day is past its own cap (the run adds no weight), else while the source's
  -- counter for the arm and day stays within the cap.
  local function within(mdKey, mdField, capKey, capField)
    if source == '' or scap <= 0 then return true end
    if pastCap(hget(mdKey, mdField), mcap) then return true end
    return hincrby(capKey, capField, 1) <= scap
  end
  -- Adds this run to a machine-day field whose value was `cur` (false: none).
  local function bump(key, field, cur)
    hset(key, field, withRun(cur, outcome, source))
  end
  -- Adds this run to the arm aggregate (KEYS[k + 21..24]) before it joins the machine-day
  -- field of mdKey whose value was `cur`: the steps of ArmAccumulator.add
  -- (server/domain/decision/accumulator.ts), with the machine-day read from the store.
  local function aggregate(mdKey, cur)
    local aKey, mKey, cKey, days = KEYS[k + 21], KEYS[k + 22], KEYS[k + 23], KEYS[k + 24]
    if hget(aKey, 'partial') then return end
    local cap = hget(aKey, 'cap')
    if not cap then
      if hexistsKey(mdKey) then
        -- machine-days from before aggregates were kept: the reader keeps reading those
        hset(aKey, 'partial', 'older machine-days')
        return
      end
      hset(aKey, 'cap', num(mcap))
    elseif tonumber(cap) ~= mcap then
      -- written now, with the DEL: a call that failed after it must not leave the aggregate looking whole
      redis.call('HSET', aKey, 'partial', 'cap ' .. mcap)
      hset(aKey, 'partial', 'cap ' .. mcap)
      del(mKey, cKey, days)
      return
    end
    local S = sumsOf(aKey)
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
    local mv = hget(mKey, machine)
    local mN, mF, raw, mb, last, src
    if mv then
      local x1, x2, x3, x4, x5, x6 = string.match(mv, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),(.*)$')
      mN, mF, raw, mb, last, src = tonumber(x1), tonumber(x2), tonumber(x3), tonumber(x4), x5, x6
      if day > last then
        if hincrby(days, last, -1) <= 0 then hdel(days, last) end
        hincrby(days, day, 1)
        last = day
      end
    else
      mN, mF, raw, mb, last, src = 0, 0, 0, 0, day, source
      S.G = S.G + 1
      hincrby(days, day, 1)
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
    if src ~= '' then
      local cv = hget(cKey, src)
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
      hset(cKey, src, num(gN) .. ',' .. num(gF) .. ',' .. num(cf) .. ',' .. num(ca))
    else
      if isFailing and not wasFailing then S.failingSources = S.failingSources + 1 end
      if isAll ~= wasAll then
        if isAll then S.allFailingSources = S.allFailingSources + 1 else S.allFailingSources = S.allFailingSources - 1 end
      end
    end
    S.runs = S.runs + 1
    if outcome == 'fail' then S.failures = S.failures + 1 end
    if outcome == 'error' then S.errors = S.errors + 1 end
    hset(mKey, machine, num(mN) .. ',' .. num(mF) .. ',' .. num(raw) .. ',' .. num(mb) .. ',' .. last .. ',' .. src)
  end
  -- Executes the rollout's segment plan starting at A[j] (see the header).
  local function segments(j)
    local tables = { p = KEYS[k + 13], y = KEYS[k + 14], s = KEYS[k + 15] }
    local first, caps, budget, refused, agg = KEYS[k + 16], KEYS[k + 17], KEYS[k + 18], KEYS[k + 19], KEYS[k + 20]
    local limit = { p = tonumber(A[j]), y = tonumber(A[j + 1]), s = tonumber(A[j + 2]) }
    local budgetMax, budgetField = tonumber(A[j + 3]), A[j + 4]
    local c = j + 6 -- the cursor over the groups' tokens
    for _ = 1, tonumber(A[j + 5]) do
      local ok = true
      for _ = 1, tonumber(A[c]) do
        local op, x, y = A[c + 1], A[c + 2], A[c + 3]
        if ok then
          if op == 'A' then
            local set = tables[x]
            if not sismember(set, y) then
              if scard(set) < limit[x] and tonumber(hget(budget, budgetField) or '0') < budgetMax then
                sadd(set, y)
                hincrby(budget, budgetField, 1)
              else
                hincrby(refused, x, 1)
                ok = false
              end
            end
          elseif op == 'M' then
            ok = sismember(tables[x], y)
          elseif op == 'C' then
            ok = hincrby(caps, x, 1) <= tonumber(y)
          elseif op == 'F' then
            ok = sadd(first, x) == 1
          elseif op == 'N' then
            ok = not sismember(first, x)
          else
            ok = false -- unknown guard (never written by telemetry-store.ts): count nothing
          end
        end
        c = c + 3
      end
      local fields = tonumber(A[c + 1])
      if ok then
        for f = 1, fields do hincrby(agg, A[c + 1 + f], 1) end
      end
      c = c + 2 + fields
    end
  end
  local nt = tonumber(A[11])
  if arm == 'mismatch' then
    hincrby(meta, 'mismatched', 1)
  elseif not within(KEYS[k + 3], machine .. '|' .. day, KEYS[k + 4], arm .. '|' .. source .. '|' .. day) then
    hincrby(meta, 'sourceCapped', 1)
  else
    hincrby(meta, 'counted', 1)
    hset(meta, 'lastReportAt', now)
    for _, c in ipairs({ { KEYS[k + 5], KEYS[k + 6], KEYS[k + 7] }, { KEYS[k + 8], KEYS[k + 9], KEYS[k + 10] } }) do
      hincrby(c[1], 'runs', 1)
      if outcome == 'fail' then hincrby(c[1], 'failures', 1) end
      if outcome == 'error' then hincrby(c[1], 'errors', 1) end
      if sadd(c[2], machine) == 1 then hincrby(c[1], 'machines', 1) end
      if failed and sadd(c[3], machine) == 1 then
        hincrby(c[1], 'failingMachines', 1)
      end
    end
    local mdField = machine .. '|' .. day
    local cur = hget(KEYS[k + 3], mdField)
    aggregate(KEYS[k + 3], cur)
    bump(KEYS[k + 3], mdField, cur)
    for t = 1, nt do
      local tid = A[11 + t]
      if sadd(KEYS[k + 12], tid .. '\t' .. machine) == 1 then
        zincrby(KEYS[k + 11], 1, tid)
      end
    end
    if n > 11 + nt then segments(12 + nt) end
  end
  return 1
end
-- The parts, in order.
local PARTS = { M = machinePart, F = fleetPart, R = rolloutPart }
local out = {}
for p = 1, tonumber(ARGV[1]) do
  local a = 3 * p - 1
  local args = cjson.decode(ARGV[a + 2])
  out[p] = PARTS[ARGV[a]](tonumber(ARGV[a + 1]), args, #args)
end
flush()
return out
