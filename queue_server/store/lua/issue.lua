-- Issue a ticket. Own KEYS: the service's number counter of the day, then (with a phone) the
-- phone's counter of the day. Own ARGV: service, class, channel, phone, max tickets per phone,
-- secret, appointment slot start in µs ('' if none), language.
local KN, KPH = KEYS[XK], KEYS[XK + 1]
local service, cls, channel, phone = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2], ARGV[XA + 3]
local max_per_phone, secret, slot, lang = tonumber(ARGV[XA + 4]), ARGV[XA + 5], ARGV[XA + 6], ARGV[XA + 7]

if phone ~= '' then
  if tonumber(redis.call('GET', KPH) or '0') >= max_per_phone then
    return fail('phone_limit', 'this phone has taken ' .. max_per_phone .. ' tickets today')
  end
  redis.call('INCR', KPH)
  touch_day(KPH)
end

local n = redis.call('INCR', KN)
touch_day(KN)
local number = service .. string.format('%03d', n)
local tid = DAY .. '-' .. number
local base = next_place()
-- An appointment checked in on time takes its slot as its place, never earlier than now.
if slot ~= '' then base = math.max(tonumber(slot), base) end
local t = {number = number, service = service, class = cls, channel = channel, state = 'waiting',
           base = int(base), issued_at = NOW, secret = secret, lang = lang, round = 0}
if phone ~= '' then t.phone = phone end
-- 一票到底: the services of a ticket of several steps, in order (the first is `service`).
-- Always the LAST argument ('' for one step), so other arguments may be added before it.
local steps = ARGV[#ARGV]
if #ARGV > XA + 7 and steps ~= '' then t.steps, t.step = split(steps), 1 end
local b = boosts()
local a = ahead(service, tid, base, cls, b)
-- A ticket that starts within the notice distance gets no separate "near" notice.
if phone ~= '' and a <= rule('notify_ahead', 0) then t.near = 1 end
tsave(tid, t)
touch_day(K.tickets)
redis.call('ZADD', Q[service][cls], int(base), tid)
touch_day(Q[service][cls])
local seq, eid = emit('issue', tid, '', service, {'class', cls, 'channel', channel})
notice('ticket_taken', tid, t, '', a)
return answer({tid, number, a, seq, NOW})
