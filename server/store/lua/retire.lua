--[[
  retire.lua — an ended rollout's evidence keys start to expire (services/retention.ts).
  KEYS: the rollout's evidence keys (store/keys.ts rolloutEvidence), its meta hash first; all in
  the rollout's slot.
  ARGV[1] seconds they are kept
  ARGV[2] now (ms)
  The meta hash is marked retired (field retiredAt), so a report counted from a pins snapshot
  that still had the rollout live is refused (REFUSED.ENDED in ingest.lua and fold.lua) instead of making a
  key that would never expire. EXPIRE NX: a second run (the sweep after a crash) keeps the
  first expiry.
  Returns: the number of keys given an expiry.
]]
redis.call('HSETNX', KEYS[1], 'retiredAt', ARGV[2])
local n = 0
for _, key in ipairs(KEYS) do
  n = n + redis.call('EXPIRE', key, ARGV[1], 'NX')
end
return n
