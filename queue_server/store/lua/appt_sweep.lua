-- The periodic appointment work, once per booking whoever runs it: 'remind' sends the day-
-- before reminder of a booking still booked; 'noshow' counts a booking not checked in by the
-- end of its window as a no-show, and blocks the ID's booking at the hall's limit.
-- Own KEYS: 1 the booking, 2 the queue it is due in (reminders or check-ins), then for noshow:
-- 3 the ID's no-shows, 4 the ID's block, 5 the booking date's counts. Own ARGV: mode, code, then for noshow: window (ms),
-- limit, block (ms). Returns 1 if this call did the work.
local KB, KQ = KEYS[XK], KEYS[XK + 1]
local mode, code = ARGV[XA], ARGV[XA + 1]

if redis.call('ZREM', KQ, code) == 0 then return answer({0}) end  -- done by another
local raw = redis.call('GET', KB)
if not raw then return answer({0}) end
local b = cjson.decode(raw)
if b.state ~= 'booked' then return answer({0}) end
if mode == 'remind' then
  outbox('notify', {'kind', 'appointment_reminder', 'ticket', '', 'number', code,
                    'service', b.service, 'window', '', 'ahead', 0, 'phone', b.phone,
                    'lang', b.lang, 'round', 0, 'time', NOW, 'slot', b.start, 'code', code})
  return answer({1})
end
local KNS, KBLOCK = KEYS[XK + 2], KEYS[XK + 3]
local window, limit, block = tonumber(ARGV[XA + 2]), tonumber(ARGV[XA + 3]), ARGV[XA + 4]
b.state = 'no_show'
redis.call('SET', KB, cjson.encode(b), 'KEEPTTL')
local KCOUNT = KEYS[XK + 4]
if tonumber(redis.call('HGET', KCOUNT, b.service .. '|out') or '0') > 0 then
  redis.call('HINCRBY', KCOUNT, b.service .. '|out', -1)  -- its held place back to walk-ins
end
redis.call('ZADD', KNS, int(NOW), code)
redis.call('ZREMRANGEBYSCORE', KNS, '-inf', '(' .. int(NOW - window))
redis.call('PEXPIRE', KNS, int(window))
if redis.call('ZCARD', KNS) >= limit then redis.call('SET', KBLOCK, '1', 'PX', block) end
return answer({1})
