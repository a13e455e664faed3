-- Cancel a booking: the slot is free again. Own KEYS: 1 the booking, 2 the date's slot
-- counts, 3 the date's booked IDs, 4 the phone's codes of the date, 5 reminders due, 6
-- check-ins due. Own ARGV: code, secret. Refusals: unknown_booking, bad_secret, booking_closed.
local KB, KCOUNT, KIDS, KPHONE = KEYS[XK], KEYS[XK + 1], KEYS[XK + 2], KEYS[XK + 3]
local KREMIND, KDUE = KEYS[XK + 4], KEYS[XK + 5]
local code, secret = ARGV[XA], ARGV[XA + 1]

local raw = redis.call('GET', KB)
if not raw then return fail('unknown_booking', 'no booking ' .. code) end
local b = cjson.decode(raw)
if b.secret ~= secret then return fail('bad_secret', 'the booking secret does not match') end
if b.state ~= 'booked' or b.claim then
  return fail('booking_closed', 'the booking is ' .. b.state .. ' and cannot be cancelled')
end
b.state, b.cancelled = 'cancelled', NOW
redis.call('SET', KB, cjson.encode(b), 'KEEPTTL')
redis.call('HINCRBY', KCOUNT, b.service .. '|' .. b.slot, -1)
if tonumber(redis.call('HGET', KCOUNT, b.service .. '|out') or '0') > 0 then
  redis.call('HINCRBY', KCOUNT, b.service .. '|out', -1)  -- its held place back to walk-ins
end
redis.call('HDEL', KIDS, b.service .. '|' .. b.id)
redis.call('SREM', KPHONE, code)
redis.call('ZREM', KREMIND, code)
redis.call('ZREM', KDUE, code)
return answer({cjson.encode(b)})
