-- Keep or take a relay's lease (no common prelude). KEYS: the lease. ARGV: holder, ttl (ms),
-- mode: 'renew' keeps a lease this holder has (or that lapsed); 'take' takes a lapsed one.
-- Returns 1 if the holder has the lease now.
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] or (not cur) then
  if ARGV[3] == 'take' and cur then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
