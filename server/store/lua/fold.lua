--[[
  fold.lua — writes what one fold of a rollout's logged report parts counted
  (TelemetryStore.fold), if nobody folded them first. A fold reads the log and the evidence
  it needs, counts in the process (store/rollout-fold.ts), and writes here: the log's position
  is the fence, so each logged part is counted exactly once, whoever folds it.
  KEYS (the rollout's slot, store/keys.ts): KEYS[1] rolloutMeta, KEYS[2] rolloutLog, then the
  keys the writes name (by their index in KEYS, 1-based).
  ARGV[1] the meta's `folded` as the fold read it (parts of the log counted before it)
  ARGV[2] the number of parts it counted: the log's first ARGV[2] entries
  ARGV[3] the writes, one JSON array of ops, each [op, key index, ...]:
    ["Z", k, m, n, ...]      ZINCRBY key n m for each pair (first: the only keys the fold has
                             not read, so a key of another type fails before anything is written)
    ["I", k, f, n, ...]      HINCRBY key f n for each pair (after Z, before anything else: the
                             fold has not read these fields either; never a key it deletes)
    ["D", k]                 DEL (before any write to the key)
    ["H", k, f, v, ...]      HSET
    ["X", k, f, ...]         HDEL
    ["S", k, m, ...]         SADD
  Returns: 1 written (meta `folded` + ARGV[2], the log trimmed of those entries);
  REFUSED.CONFLICT another fold wrote first (nothing written: read again);
  REFUSED.ENDED the rollout's evidence is retired: the parts are not counted, only added to meta
  `afterEnd`, and passed over in the log.
]]
local meta, log = KEYS[1], KEYS[2]
if tonumber(redis.call('HGET', meta, 'folded') or '0') ~= tonumber(ARGV[1]) then return REFUSED.CONFLICT end
local n = tonumber(ARGV[2])
if redis.call('HEXISTS', meta, 'retiredAt') == 1 then
  -- logged before the rollout ended, folded after: not counted, but accounted for (meta afterEnd)
  redis.call('HINCRBY', meta, 'afterEnd', n)
  redis.call('HSET', meta, 'folded', tonumber(ARGV[1]) + n)
  redis.call('LTRIM', log, n, -1)
  return REFUSED.ENDED
end
local CMD = { Z = 'ZINCRBY', H = 'HSET', X = 'HDEL', S = 'SADD' }
-- Runs `cmd key <args from i>` in chunks of at most 1000 arguments (ZINCRBY: one pair a call).
local function apply(op)
  local key = KEYS[op[2]]
  if op[1] == 'D' then
    redis.call('DEL', key)
  elseif op[1] == 'Z' then
    for i = 3, #op, 2 do redis.call('ZINCRBY', key, op[i + 1], op[i]) end
  elseif op[1] == 'I' then
    for i = 3, #op, 2 do redis.call('HINCRBY', key, op[i], op[i + 1]) end
  else
    for i = 3, #op, 1000 do
      redis.call(CMD[op[1]], key, unpack(op, i, math.min(i + 999, #op)))
    end
  end
end
for _, op in ipairs(cjson.decode(ARGV[3])) do apply(op) end
redis.call('HSET', meta, 'folded', tonumber(ARGV[1]) + n)
redis.call('LTRIM', log, n, -1)
return 1
