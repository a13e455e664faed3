-- A ticket holder's own action. Own ARGV: ticket id, secret, action ('cancel' | 'rejoin').
local tid, secret, action = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2]
local t = tload(tid)
if not t then return fail('unknown_ticket', 'no such ticket') end
if t.secret ~= secret then return fail('bad_secret', 'the ticket secret does not match') end
if not today(tid) then return fail('ticket_expired', 'the ticket is from an earlier day') end
if action == 'cancel' then
  if t.state ~= 'waiting' and t.state ~= 'transferred' then
    return fail('illegal_transition', 'a ' .. t.state .. ' ticket cannot be cancelled')
  end
  redis.call('ZREM', Q[t.service][t.class], tid)
  t.state, t.reason = 'cancelled', 'citizen'
  tsave(tid, t)
  return answer({emit('cancel', tid, '', t.service), -1, cjson.encode(t)})
end
-- rejoin: at the back of the queue, within the configured time after the miss
if t.state ~= 'missed' then return fail('illegal_transition', 'a ' .. t.state .. ' ticket cannot rejoin') end
if NOW - t.missed_at > rule('rejoin_ms', 0) then
  return fail('rejoin_expired', 'the time to rejoin after a missed call has passed')
end
local base = next_place()
t.state, t.base, t.recalls, t.near, t.round = 'waiting', int(base), 0, nil, (t.round or 0) + 1
tsave(tid, t)
redis.call('ZADD', Q[t.service][t.class], int(base), tid)
touch_day(Q[t.service][t.class])
local seq = emit('rejoin', tid, '', t.service)
return answer({seq, ahead(t.service, tid, base, t.class, boosts()), cjson.encode(t)})
