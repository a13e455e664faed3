-- 好差评: store a rating of a finished ticket against its ticket, service, window and staff, once,
-- and append a `rated` event. No phone, name or ID goes with it. Own KEYS: the window that
-- finished the ticket, the ratings of the ticket's day. Own ARGV: ticket, window (of the key),
-- the rating pad's window ('' when the holder rates with the ticket secret), the rating time (ms),
-- how long ratings are kept (s), the rating (JSON: level, reasons, scores, comment, version).
local KW, KR = KEYS[XK], KEYS[XK + 1]
local tid, window, pad = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2]
local max_ms, keep = tonumber(ARGV[XA + 3]), tonumber(ARGV[XA + 4])
local t = tload(tid)
if not t then return fail('unknown_ticket', 'no such ticket') end
if t.window ~= window then return fail('not_finished', 'the ticket was not served at a window') end
if pad ~= '' and pad ~= window then
  return fail('wrong_window', 'this ticket was served at another window')
end
if t.state ~= 'done' then return fail('not_finished', 'only a finished service can be rated') end
if t.rated then return fail('already_rated', 'this service was rated already') end
if NOW - (t.done_at or 0) > max_ms then
  return fail('rating_closed', 'the time to rate this service is over')
end
local r = cjson.decode(ARGV[XA + 5])
r.ticket, r.number, r.service, r.window = tid, t.number, t.service, window
r.staff, r.case, r.at, r.channel = t.staff or '', t.case or '', NOW, pad ~= '' and 'pad' or 'ticket'
redis.call('HSET', KR, tid, cjson.encode(r))
if redis.call('TTL', KR) < 0 then redis.call('EXPIRE', KR, keep) end
t.rated = NOW
tsave(tid, t)
redis.call('HSET', KW, 'rated_number', t.number)
STAFF = t.staff or ''  -- the event names who served, not who is signed in now
local seq = emit('rated', tid, window, t.service,
                 {'level', r.level, 'reasons', table.concat(r.reasons or {}, ','), 'case', r.case,
                  'version', r.version})
return answer({seq, NOW})
