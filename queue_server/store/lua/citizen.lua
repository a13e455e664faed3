-- A ticket holder's own action. ARGV: prefix, now, ticket id, secret, action
-- ('cancel' | 'rejoin'), day_start
local tid, secret, action = ARGV[3], ARGV[4], ARGV[5]
local t = P .. 't:' .. tid
local stored = redis.call('HGET', t, 'secret')
if not stored then return fail('unknown_ticket', 'no such ticket') end
if stored ~= secret then return fail('bad_secret', 'the ticket secret does not match') end
local st = redis.call('HGET', t, 'state')
local service, cls = redis.call('HGET', t, 'service'), redis.call('HGET', t, 'class')
if action == 'cancel' then
  if st ~= 'waiting' and st ~= 'transferred' then
    return fail('illegal_transition', 'a ' .. st .. ' ticket cannot be cancelled')
  end
  redis.call('ZREM', P .. 'q:' .. service .. ':' .. cls, tid)
  redis.call('HSET', t, 'state', 'cancelled', 'reason', 'citizen')
  return {'cancelled', emit('cancel', tid, '', service)}
end
-- rejoin: back of the queue (base = now), within the configured time after the miss
if st ~= 'missed' then return fail('illegal_transition', 'a ' .. st .. ' ticket cannot rejoin') end
local missed_at = tonumber(redis.call('HGET', t, 'missed_at'))
if NOW - missed_at > rule('rejoin_ms', 0) then
  return fail('rejoin_expired', 'the time to rejoin after a missed call has passed')
end
redis.call('ZREM', P .. 'missed', tid)
redis.call('HSET', t, 'state', 'waiting', 'base', NOW, 'recalls', 0)
redis.call('HDEL', t, 'near')
redis.call('ZADD', P .. 'q:' .. service .. ':' .. cls, NOW, tid)
local b = boosts()
local a = ahead(service, tid, cls, b, tonumber(ARGV[6]))
local seq, eid = emit('rejoin', tid, '', service)
return {'waiting', seq, eid, a}
