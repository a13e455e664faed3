-- Issue a ticket. Own KEYS: the Idempotency-Key's claim (only when ARGV claim print is not
-- ''), then the day's quota counters (store/quota.py), the first being the service's number
-- counter. Own ARGV: service, class, channel, the ticket's secret (only with a booking, which
-- keeps it; '' else), appointment slot start in µs ('' if none), number prefix, number width,
-- the record's members the server knows (JSON from hall_store.record_part: service, class,
-- channel, secret, language, and the phone, the steps of a ticket of several steps and the ID
-- number's digest when given), the claim's request print ('' if no key) and its TTL (s), the
-- booking checked in by this ticket ('' if none) and whether it is late ('1' or ''), whether
-- bookings hold places back ('1' or ''), the fixed part of the ticket_taken entry (with a
-- phone: its JSON members after the ones the script knows, from hall_store.taken_note; ''
-- without), then each counter's cap (a whole number >= 0). Every argument is a Lua string
-- made on each call: what the record and the entry carry already is not passed again. A
-- refusal answers 'quota q<i>', i the counter's index (the server knows each one's code and
-- message: passing them on every call cost more than the rare refusal). With a booking, own
-- KEYS hold after the claim: the booking, check-ins due, reminders due, its date's booking
-- counts; without one, when bookings hold places back: this day's booking counts.
-- Answers one flat list: {ticket, number, ahead, seq, now (ms), the ticket_taken entry's id
-- ('' without a phone)}, or {'replay', ticket}. Redis converts each table of a reply with a
-- dozen Lua calls (is it an error? a status? a map?…), and the server knows the entry's
-- fields: the window scripts' form, {body, {{stream, id, 'j', JSON}}}, cost a phone ticket
-- ~15k Redis instructions more (6k without a phone).
local service, cls, channel, secret = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2], ARGV[XA + 3]
local slot, prefix, width, rec = ARGV[XA + 4], ARGV[XA + 5], ARGV[XA + 6], ARGV[XA + 7]
local rprint, claim_ttl = ARGV[XA + 8], ARGV[XA + 9]
local code, late, reserve = ARGV[XA + 10], ARGV[XA + 11], ARGV[XA + 12]
local note = ARGV[XA + 13]
local QA, QK = XA + 14, XK
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
-- other request with it is refused. (A window action's stored reply is JSON: never a match.)
local function replay(prev)
  if string.sub(prev, 1, #rprint + 1) ~= rprint .. ' ' then
    return fail('idempotency_mismatch', 'this Idempotency-Key was used for another request in the last 10 min')
  end
  return {'replay', string.sub(prev, #rprint + 2)}
end
-- A check-in (rare) reads the claim first, before the booking; a walk-in claims it with its
-- number below, in one command.
if KC and KB then
  local prev = redis.call('GET', KC)
  if prev then return replay(prev) end
end

-- 预约签到: the booking still booked is checked in by this very change (claim, issue and
-- record are one step: no state between them for a crash to leave); one checked in before
-- answers its ticket again.
local bk
if KB then
  local raw = redis.call('GET', KB)
  if not raw then return fail('unknown_booking', 'no booking ' .. code) end
  bk = cjson.decode(raw)
  if bk.state == 'checked_in' and bk.ticket then return {'replay', bk.ticket} end
  if bk.state ~= 'booked' then return fail('booking_closed', 'the booking is ' .. bk.state) end
end

-- Count each counter, checking its cap as it goes; a refusal (or a claim found) takes back
-- what this change counted, so it counts nothing (the script is atomic: nobody sees the
-- interim). A day's counter lives two days from its first count. 'q<i>' tells the caller
-- which cap refused.
local made, last = {}, -1  -- whether this change made each counter; the last one counted
local function undo()
  for i = last, 0, -1 do
    if made[i + 1] then redis.call('DEL', KEYS[QK + i]) else redis.call('DECR', KEYS[QK + i]) end
  end
end
local n
for i = 0, NQ - 1 do
  local key = KEYS[QK + i]
  local c = redis.call('INCR', key)
  if c == 1 then redis.call('EXPIRE', key, DAY_TTL) end
  made[i + 1], last = c == 1, i
  local used = c - 1
  if i == 0 then n, used = c, used + math.max(held, 0) end
  -- Caps are whole numbers >= 0: a first count (the phone's, nearly always) passes all but a
  -- cap of 0, seen without tonumber (a strtod, ~1k Redis instructions).
  if (used == 0 and ARGV[QA + i] == '0') or (used > 0 and used >= tonumber(ARGV[QA + i])) then
    undo()
    if KC and not KB then  -- a claim made before answers even when full now
      local prev = redis.call('GET', KC)
      if prev then return replay(prev) end
    end
    return fail('quota', 'q' .. i)
  end
end

local number = prefix .. string.format('%0' .. width .. 'd', n)
local tid = DAY .. '-' .. number
if KC and not KB then
  -- claim the key for this ticket unless it was claimed before (SET NX GET: one command)
  local prev = redis.call('SET', KC, rprint .. ' ' .. tid, 'NX', 'EX', claim_ttl, 'GET')
  if prev then undo(); return replay(prev) end
end
local base, base_s = next_place()
-- An appointment checked in on time takes its slot as its place, never earlier than now.
if slot ~= '' and tonumber(slot) > base then base = tonumber(slot); base_s = int(base) end
local b = boosts()
local a, mine = ahead(service, tid, base, cls, b, true, base_s)
-- A ticket that starts within the notify_ahead distance gets no separate "near" message.
local near = ''
if note ~= '' and a <= rule('notify_ahead', 0) then near = ',"near":1' end
-- The record's JSON as cjson would write the table the other scripts read and save, joined
-- from its parts (the table and cjson.encode cost ~15k Redis instructions, 5% of an issue);
-- compact, as common.lua's plain search for '"phone":"' expects. 一票到底: a ticket of
-- several steps holds them in order (`steps`, the first is `service`) and `step` 1.
redis.call('HSET', K.tickets, tid, '{"number":"' .. number .. '","state":"waiting","base":"'
  .. base_s .. '","issued_at":' .. now_s() .. ',"round":0,' .. rec .. near .. '}')
-- The day's tickets hash is made only by issuing, and first by a service's first number of the
-- day (a refusal or replay takes its count back): it gets its TTL then, and only then needs it.
if n == 1 then touch_day(K.tickets) end
if KC and KB then redis.call('SET', KC, rprint .. ' ' .. tid, 'EX', claim_ttl) end
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
redis.call('ZADD', Q[service][cls], base_s, tid)
-- Every change that makes a queue key gives it its TTL: one with tickets before this one had it.
if mine == 0 then touch_day(Q[service][cls]) end
local seq = emit('issue', tid, '', service, {'class', cls, 'channel', channel})
-- The ticket_taken entry in the notify stream as common.lua would write it (one field `j`, a
-- JSON object of strings), joined from its parts: a table, a loop and cjson.encode cost a
-- phone ticket ~50k Redis instructions, half its extra. The server escaped the fixed part;
-- the number is [A-Z]{1,2} and digits (config.py), and integers print exactly (< 2^53).
local eid = ''
if note ~= '' then
  eid = redis.call('XADD', K.ob_notify, '*', 'j', '{"kind":"ticket_taken","ticket":"' .. tid
    .. '","number":"' .. number .. '","ahead":"' .. int(a) .. '","time":"' .. now_s() .. '",'
    .. note .. '}')
end
return {tid, number, a, seq, NOW, eid}
