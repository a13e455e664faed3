-- Issue a ticket. Own KEYS: the Idempotency-Key's claim (only when ARGV claim print is not
-- ''), then the day's quota counters (store/quota.py), the first being the service's number
-- counter. Own ARGV: service, class, channel, phone, secret, appointment slot start in µs ('' if
-- none), language, number prefix, number width, the steps of a ticket of several steps ('' for
-- one), the ID number's digest ('' if none; never the number), the claim's request print ('' if
-- no key) and its TTL (s), the booking checked in by this ticket ('' if none) and whether it
-- is late ('1' or ''), whether bookings hold places back ('1' or ''), then for each counter
-- its cap, refusal code and message. With a booking, own KEYS hold after the claim: the
-- booking, check-ins due, reminders due, its date's booking counts; without one, when bookings
-- hold places back: today's booking counts.
local service, cls, channel, phone = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2], ARGV[XA + 3]
local secret, slot, lang = ARGV[XA + 4], ARGV[XA + 5], ARGV[XA + 6]
local prefix, width, steps = ARGV[XA + 7], ARGV[XA + 8], ARGV[XA + 9]
local id_key, rprint, claim_ttl = ARGV[XA + 10], ARGV[XA + 11], ARGV[XA + 12]
local code, late, reserve = ARGV[XA + 13], ARGV[XA + 14], ARGV[XA + 15]
local QA, QK = XA + 16, XK
local KC, KB, KDUE, KREMIND, KOUT
if rprint ~= '' then KC, QK = KEYS[XK], XK + 1 end
if code ~= '' then
  KB, KDUE, KREMIND, KOUT, QK = KEYS[QK], KEYS[QK + 1], KEYS[QK + 2], KEYS[QK + 3], QK + 4
elseif reserve == '1' then
  KOUT, QK = KEYS[QK], QK + 1
end
-- 号源 held for bookings: "{service}|out" counts a date's bookings not yet checked in. Walk-ins
-- count them against the service's numbers; a check-in uses its own held place.
local held = 0
if KOUT and not KB then held = tonumber(redis.call('HGET', KOUT, service .. '|out') or '0') end
local NQ = #KEYS - QK + 1

-- The key claimed before: the same request answers its ticket again and changes nothing; any
-- other request with it is refused. (A window action's stored answer is JSON: never a match.)
if KC then
  local held = redis.call('GET', KC)
  if held then
    if string.sub(held, 1, #rprint + 1) ~= rprint .. ' ' then
      return fail('idempotency_mismatch', 'this Idempotency-Key was used for another request in the last 10 min')
    end
    return answer({'replay', string.sub(held, #rprint + 2)})
  end
end

-- 预约签到: the booking still booked is checked in by this very change (claim, issue and
-- record are one step: no state between them for a crash to leave); one checked in before
-- answers its ticket again.
local bk
if KB then
  local raw = redis.call('GET', KB)
  if not raw then return fail('unknown_booking', 'no booking ' .. code) end
  bk = cjson.decode(raw)
  if bk.state == 'checked_in' and bk.ticket then return answer({'replay', bk.ticket}) end
  if bk.state ~= 'booked' then return fail('booking_closed', 'the booking is ' .. bk.state) end
end

-- Every cap first, so a refusal counts nothing (nor claims the key); 'q<i>' tells the caller
-- which one refused.
for i = 0, NQ - 1 do
  local used = tonumber(redis.call('GET', KEYS[QK + i]) or '0')
  if i == 0 then used = used + math.max(held, 0) end
  if used >= tonumber(ARGV[QA + 3 * i]) then
    return fail(ARGV[QA + 3 * i + 1], 'q' .. i .. ' ' .. ARGV[QA + 3 * i + 2])
  end
end
local n
for i = 0, NQ - 1 do
  local c = redis.call('INCR', KEYS[QK + i])
  touch_day(KEYS[QK + i])
  if i == 0 then n = c end
end

local number = prefix .. string.format('%0' .. width .. 'd', n)
local tid = DAY .. '-' .. number
local base = next_place()
-- An appointment checked in on time takes its slot as its place, never earlier than now.
if slot ~= '' then base = math.max(tonumber(slot), base) end
local t = {number = number, service = service, class = cls, channel = channel, state = 'waiting',
           base = int(base), issued_at = NOW, secret = secret, lang = lang, round = 0}
if phone ~= '' then t.phone = phone end
-- 一票到底: the services of a ticket of several steps, in order (the first is `service`).
if steps ~= '' then t.steps, t.step = split(steps), 1 end
if id_key ~= '' then t.id_key = id_key end  -- the manager's list of who took several
local b = boosts()
local a = ahead(service, tid, base, cls, b)
-- A ticket that starts within the notice distance gets no separate "near" notice.
if phone ~= '' and a <= rule('notify_ahead', 0) then t.near = 1 end
tsave(tid, t)
touch_day(K.tickets)
if KC then redis.call('SET', KC, rprint .. ' ' .. tid, 'EX', claim_ttl) end
if bk then
  bk.state, bk.ticket, bk.ticket_secret, bk.checked_in, bk.claim = 'checked_in', tid, secret, NOW, nil
  if late == '1' then bk.late = 1 end
  redis.call('SET', KB, cjson.encode(bk), 'KEEPTTL')
  if tonumber(redis.call('HGET', KOUT, bk.service .. '|out') or '0') > 0 then
    redis.call('HINCRBY', KOUT, bk.service .. '|out', -1)
  end
  redis.call('ZREM', KDUE, code)
  redis.call('ZREM', KREMIND, code)
end
redis.call('ZADD', Q[service][cls], int(base), tid)
touch_day(Q[service][cls])
local seq, eid = emit('issue', tid, '', service, {'class', cls, 'channel', channel})
notice('ticket_taken', tid, t, '', a)
return answer({tid, number, a, seq, NOW})
