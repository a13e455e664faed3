-- A ticket's fields and, while queued, how many tickets are ahead of it.
-- ARGV: prefix, now, ticket id, day_start
local tid, day_start = ARGV[3], tonumber(ARGV[4])
local t = P .. 't:' .. tid
local fields = redis.call('HGETALL', t)
if #fields == 0 then return {} end
local st = redis.call('HGET', t, 'state')
local a = -1
if st == 'waiting' or st == 'transferred' then
  local b = boosts()
  a = ahead(redis.call('HGET', t, 'service'), tid, redis.call('HGET', t, 'class'), b, day_start)
end
return {fields, a}
