-- Check-in of a booking at the kiosk, in two steps around issuing its ticket (issue.lua):
-- 'claim' marks the booking as being checked in (a second press meanwhile is refused, a claim
-- left by a crashed process lapses after `stale` ms), 'done' records its ticket, 'release'
-- drops the claim when issuing was refused. A booking checked in answers its ticket again.
-- Own KEYS: 1 the booking, 2 check-ins due, 3 reminders due. Own ARGV: mode, code, then for
-- claim: stale (ms); for done: ticket, ticket secret, late ('1' or '').
local KB, KDUE, KREMIND = KEYS[XK], KEYS[XK + 1], KEYS[XK + 2]
local mode, code = ARGV[XA], ARGV[XA + 1]

local raw = redis.call('GET', KB)
if not raw then return fail('unknown_booking', 'no booking ' .. code) end
local b = cjson.decode(raw)
if mode == 'claim' then
  if b.state == 'checked_in' then return answer({'done', cjson.encode(b)}) end
  if b.state ~= 'booked' then
    return fail('booking_closed', 'the booking is ' .. b.state)
  end
  if b.claim and NOW - tonumber(b.claim) < tonumber(ARGV[XA + 2]) then
    return fail('checkin_pending', 'this booking is being checked in')
  end
  b.claim = NOW
elseif mode == 'done' then
  b.state, b.ticket, b.ticket_secret, b.checked_in, b.claim = 'checked_in', ARGV[XA + 2],
    ARGV[XA + 3], NOW, nil
  if ARGV[XA + 4] == '1' then b.late = 1 end
  redis.call('ZREM', KDUE, code)
  redis.call('ZREM', KREMIND, code)
else  -- release
  b.claim = nil
end
redis.call('SET', KB, cjson.encode(b), 'KEEPTTL')
return answer({mode, cjson.encode(b)})
