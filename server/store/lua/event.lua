--[[
  event.lua — an audit event outside the state machine (an emergency pin lifted by hand, a
  vote posted on a bump change, a proposal opened), on the rollout's stream and the feed.
  ARGV[1] prefix
  ARGV[2] rollout id
  ARGV[3] event JSON
  Returns: 1.
]]
local p = ARGV[1]
redis.call('XADD', p .. ':events:' .. ARGV[2], '*', 'json', ARGV[3])
redis.call('XADD', p .. ':feed', 'MAXLEN', '~', '100000', '*', 'json', ARGV[3])
return 1
