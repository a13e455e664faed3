-- Book an appointment slot (预约). Own KEYS: 1 the booking, 2 the date's slot counts, 3 the
-- date's booked IDs, 4 the phone's codes of the date, 5 reminders due, 6 check-ins due, 7 the
-- ID's no-shows, 8 the ID's booking block, 9 the service's number counter of the date. Own
-- ARGV: code, service, date, slot (HHMM), slot start and end (ms), capacity, phone, id digest,
-- secret, lang, reminder due (ms, '' for none), check-in due (ms), expire at (s), the
-- service's tickets of a day (号源).
-- Refusals: booking_blocked, already_booked, slot_full, capacity_full; code_taken (the caller
-- draws again).
local KB, KCOUNT, KIDS, KPHONE = KEYS[XK], KEYS[XK + 1], KEYS[XK + 2], KEYS[XK + 3]
local KREMIND, KDUE, KBLOCK = KEYS[XK + 4], KEYS[XK + 5], KEYS[XK + 7]
local code, service, date, slot = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2], ARGV[XA + 3]
local start_ms, end_ms, capacity = ARGV[XA + 4], ARGV[XA + 5], tonumber(ARGV[XA + 6])
local phone, id, secret, lang = ARGV[XA + 7], ARGV[XA + 8], ARGV[XA + 9], ARGV[XA + 10]
local remind, due, expire = ARGV[XA + 11], ARGV[XA + 12], ARGV[XA + 13]
local KNUM, day_cap = KEYS[XK + 8], tonumber(ARGV[XA + 14])

if redis.call('EXISTS', KB) == 1 then return fail('code_taken', 'draw another code') end
local blocked = redis.call('PTTL', KBLOCK)
if blocked > 0 then
  return fail('booking_blocked', 'too many missed appointments; booking opens again in ' ..
              math.ceil(blocked / 86400000) .. ' days')
end
local once = service .. '|' .. id
if redis.call('HEXISTS', KIDS, once) == 1 then
  return fail('already_booked', 'this ID number has booked this service on that day')
end
local field = service .. '|' .. slot
if tonumber(redis.call('HGET', KCOUNT, field) or '0') >= capacity then
  return fail('slot_full', 'this slot is fully booked')
end

-- The day's 号源: tickets issued that day plus bookings still held stay within it.
local out = service .. '|out'
local held = math.max(tonumber(redis.call('HGET', KCOUNT, out) or '0'), 0)
if tonumber(redis.call('GET', KNUM) or '0') + held >= day_cap then
  return fail('capacity_full', 'all of the day\'s tickets for this service are taken or booked')
end

redis.call('HINCRBY', KCOUNT, field, 1)
redis.call('HINCRBY', KCOUNT, out, 1)
redis.call('HSET', KIDS, once, code)
redis.call('SADD', KPHONE, code)
for _, k in ipairs({KCOUNT, KIDS, KPHONE}) do redis.call('EXPIREAT', k, expire) end
local b = {code = code, service = service, date = date, slot = slot, start = start_ms,
           ['end'] = end_ms, phone = phone, id = id, secret = secret, lang = lang,
           state = 'booked', created = NOW}
redis.call('SET', KB, cjson.encode(b), 'EXAT', expire)
if remind ~= '' then redis.call('ZADD', KREMIND, remind, code) end
redis.call('ZADD', KDUE, due, code)
outbox('notify', {'kind', 'appointment_booked', 'ticket', '', 'number', code, 'service', service,
                  'window', '', 'ahead', 0, 'phone', phone, 'lang', lang, 'round', 0,
                  'time', NOW, 'slot', start_ms, 'code', code})
return answer({code, NOW})
