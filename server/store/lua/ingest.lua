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
  whole groups share calls of about 1,000 parts (telemetry-store.ts). KEYS are the parts' key sets (M 1, F 3, R 3 names), each set once however many parts
  use it. ARGV[1] is the number of parts P, ARGV[2] the number of payloads Q, ARGV[3] the seconds
  a report id is remembered (SEEN), then the Q payloads, strings stored as they are (never
  decoded here; each once however many parts store it: a report's parts in rollouts of the same
  arm and stage are equal), then per part four: its kind (M, F or R), the index in KEYS where its
  key set starts (0-based), its arguments (F: one JSON array, decoded by cjson in one step; M
  and R: the report id as it is), and the number of its payload (1..Q; 0 none). Below, a part's
  KEYS[n] and ARGV[n] are its own (the n-th element of its arguments), and PAYLOAD its payload.
  Returns: the result of each part, in order.

  Reads and writes of the F and R parts go through a write-back cache (below): each hash field,
  set member and counter is read from Redis at most once per call and written once at its end,
  so what N reports of a batch add to one day's or rollout's keys costs one write of each, not
  N. A script runs alone, so the result is that of running the parts one by one. Until the end
  of the call nothing of its F and R parts is written, so a Lua error in a call writes none of them.

  M — KEYS[1] machineReports: list of "<report id>\t<report JSON>", newest first
  ARGV[1] report id, PAYLOAD the report JSON (as received, plus receivedAt)
  Result: 1 added; 0 already among the latest 50 (not added again).

  F — the history every counted report adds to, whatever rollouts it concerns (also none), read
  for a new rollout's q0. KEYS (the day's slot):
  KEYS[1] fleetSeen: report ids counted on that day (set)
  KEYS[2] fleetMachineDays: machine -> "runs,failures,errors[,source]" (the format of a rollout's md)
  KEYS[3] fleetSourceDays: source -> capped runs counted (the source cap)
  ARGV[1] report id, ARGV[2] machine id, ARGV[3] outcome: pass | fail | error
  ARGV[4] source of the report ('' none; services/sources.ts)
  ARGV[5] cap per machine and day, ARGV[6] cap per source and day (0 off); a report id is
  remembered SEEN seconds
  Result: 1 counted; 0 duplicate. A run that adds weight (its machine-day has fewer runs than the
  machine cap) takes one from its source's allowance of the day; past it the run is not added.
  Expiry: 10 days, (re)set with each new machine-day (so 10 days past the day's last).

  R — a report's part in one rollout it concerns: counted once, then logged for the rollout's
  fold (TelemetryStore.fold counts the log into the evidence, store/rollout-fold.ts). KEYS (the
  rollout's slot, store/keys.ts):
  KEYS[1] rolloutSeen: report ids counted for the rollout on the report's UTC day (set)
  KEYS[2] rolloutMeta (logged: parts ever logged; folded: of them counted; retiredAt once ended)
  KEYS[3] rolloutLog: the parts not folded yet, oldest first (list of JSON, store/rollout-fold.ts LoggedPart)
  ARGV[1] report id (a report id is remembered SEEN seconds), PAYLOAD the part's JSON
  Result: its position in the log (meta `logged` once it is in: >= 1), which a fold has counted
  once meta `folded` reaches it; 0 duplicate (already counted, nothing written); REFUSED.ENDED the
  rollout's evidence is retired (nothing written).
]]
-- The write-back cache of one call (the F and R parts; the M part calls Redis itself). Every
-- access of an F or R key goes through it: a hash field or set member is read from Redis once
-- and then kept; writes stay here and are flushed at the end of the call (flush()), each key in
-- one command. Values read are as Redis would return them (false: absent).
local H, HK, S, SK, L, LK, TTL, TK = {}, {}, {}, {}, {}, {}, {}, {}
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
local function newList() return {} end
local function hget(key, field)
  local e = entry(H, HK, key, newHash)
  local x = e.v[field]
  if x == nil then
    x = redis.call('HGET', key, field)
    e.v[field] = x
  end
  return x
end
local function hset(key, field, value)
  local e = entry(H, HK, key, newHash)
  e.v[field] = value
  if not e.dirty[field] then
    e.dirty[field] = true
    e.order[#e.order + 1] = field
  end
end
local function hincrby(key, field, n)
  local x = tonumber(hget(key, field) or 0) + n
  hset(key, field, x)
  return x
end
-- SADD of one member: 1 added, 0 already there.
local function sadd(key, member)
  local e = entry(S, SK, key, newSet)
  local x = e.m[member]
  if x == nil then x = redis.call('SISMEMBER', key, member) == 1 end
  if x then
    e.m[member] = true
    return 0
  end
  e.m[member] = true
  e.add[#e.add + 1] = member
  return 1
end
local function rpush(key, value)
  local e = entry(L, LK, key, newList)
  e[#e + 1] = value
end
local function expire(key, seconds)
  if TTL[key] == nil then TK[#TK + 1] = key end
  TTL[key] = seconds
end
-- Runs `cmd key <args>` in chunks of at most 1000 arguments.
local function chunked(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end
local function flush()
  for _, key in ipairs(HK) do
    local e, set = H[key], {}
    for _, f in ipairs(e.order) do
      set[#set + 1] = f
      local x = e.v[f]
      if type(x) == 'number' then x = string.format('%d', x) end
      set[#set + 1] = x
    end
    if #set > 0 then chunked('HSET', key, set) end
  end
  for _, key in ipairs(SK) do
    if #S[key].add > 0 then chunked('SADD', key, S[key].add) end
  end
  for _, key in ipairs(LK) do chunked('RPUSH', key, L[key]) end
  for _, key in ipairs(TK) do redis.call('EXPIRE', key, TTL[key]) end
end
-- A machine-day value is "runs,failures,errors[,source]" (the fleet's history, as a rollout's
-- machineDays): `cur` (false: none yet) with one more run of `outcome` from `source`.
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
-- M: a report joins its machine's latest reports once (its KEYS[k + 1], its report id and payload; see the header).
local function machinePart(k, id, payload)
  local head = id .. '\t'
  for _, v in ipairs(redis.call('LRANGE', KEYS[k + 1], 0, 49)) do
    if string.sub(v, 1, #head) == head then return 0 end
  end
  redis.call('LPUSH', KEYS[k + 1], head .. payload)
  redis.call('LTRIM', KEYS[k + 1], 0, 49)
  redis.call('EXPIRE', KEYS[k + 1], 2592000)
  return 1
end
-- Seconds a counted report id is remembered (F and R parts).
local SEEN = ARGV[3]
-- F: a report's run in its day's fleet history (its KEYS[k + 1..3], its A[1..6]; see the header).
local function fleetPart(k, A)
  if sadd(KEYS[k + 1], A[1]) == 0 then return 0 end
  expire(KEYS[k + 1], SEEN)
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
-- R: a report's part in one rollout, counted once and logged (its KEYS[k + 1..3], its report id and payload; see the header).
local function rolloutPart(k, id, payload)
  if hget(KEYS[k + 2], 'retiredAt') then return REFUSED.ENDED end
  if sadd(KEYS[k + 1], id) == 0 then return 0 end
  expire(KEYS[k + 1], SEEN)
  rpush(KEYS[k + 3], payload)
  return hincrby(KEYS[k + 2], 'logged', 1)
end
local P, Q = tonumber(ARGV[1]), tonumber(ARGV[2])
-- Whether the R parts' report ids are counted already: one SMISMEMBER per rollout and day (into
-- the cache, as sadd() would read them one by one), not one SISMEMBER per part.
local ids, seenKeys = {}, {}
for p = 1, P do
  local a = 4 * p + Q
  if ARGV[a] == 'R' then
    local key = KEYS[tonumber(ARGV[a + 1]) + 1]
    local list = ids[key]
    if not list then
      list = {}
      ids[key] = list
      seenKeys[#seenKeys + 1] = key
    end
    list[#list + 1] = ARGV[a + 2]
  end
end
for _, key in ipairs(seenKeys) do
  local e, list = entry(S, SK, key, newSet), ids[key]
  for i = 1, #list, 1000 do
    local chunk = { unpack(list, i, math.min(i + 999, #list)) }
    local found = redis.call('SMISMEMBER', key, unpack(chunk))
    for j, id in ipairs(chunk) do
      if e.m[id] == nil then e.m[id] = found[j] == 1 end
    end
  end
end
-- The parts, in order.
local out = {}
for p = 1, P do
  local a = 4 * p + Q
  local kind, k, n = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 3])
  local payload = ''
  if n > 0 then payload = ARGV[3 + n] end
  if kind == 'R' then out[p] = rolloutPart(k, ARGV[a + 2], payload)
  elseif kind == 'F' then out[p] = fleetPart(k, cjson.decode(ARGV[a + 2]))
  else out[p] = machinePart(k, ARGV[a + 2], payload) end
end
flush()
return out
