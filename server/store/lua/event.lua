--[[
  event.lua — an audit event outside the state machine (an emergency pin lifted by hand, a
  vote posted on a bump change, a proposal opened), on the rollout's stream and the feed.
  KEYS[1] the rollout's events, KEYS[2] the feed (control slot, store/keys.ts)
  ARGV[1] event JSON
  Returns: 1.
]]
redis.call('XADD', KEYS[1], '*', 'json', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '100000', '*', 'json', ARGV[1])
return 1
