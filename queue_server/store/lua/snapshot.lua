-- Everything screens and panels show, read atomically, as JSON. Own KEYS: per window its key,
-- its services, its parked tickets and its transfers of the day; then per service its number
-- counter of the day; then, in a hall that takes bookings, the day's booking counts. Own ARGV:
-- recent calls wanted, window ids.
local nrecent = tonumber(ARGV[XA])
local UPCOMING = 3
local out = {seq = tonumber(redis.call('GET', K.seq) or '0'),
             call_seq = tonumber(redis.call('GET', K.callseq) or '0'),
             recent = redis.call('LRANGE', K.recent, 0, nrecent - 1),
             handle = redis.call('HGETALL', K.handle), rejoin_ms = rule('rejoin_ms', 0),
             recall_limit = rule('recall_limit', -1),
             windows = {}, waiting = {}}
for _, service in ipairs(SERVICES) do
  local n = 0
  for _, cls in ipairs(CLASSES) do n = n + redis.call('ZCARD', Q[service][cls]) end
  out.waiting[#out.waiting + 1] = {service, n}
end
for i = XA + 1, #ARGV do
  local j = XK + (i - XA - 1) * 4
  local KW, KWS, KP, KWQ = KEYS[j], KEYS[j + 1], KEYS[j + 2], KEYS[j + 3]
  local w = {id = ARGV[i], paused = redis.call('HGET', KW, 'paused') == '1',
             reason = redis.call('HGET', KW, 'reason') or '',
             staff = redis.call('HGET', KW, 'staff') or '',
             offsets = redis.call('HGETALL', KWS), parked = {}}
  -- today's figures, the last ticket finished (for the rating pad) and the last one rated
  local f = redis.call('HMGET', KW, 'day', 'served', 'no_shows', 'handle_ms', 'done',
                       'done_number', 'done_at', 'rated_number')
  if f[1] == DAY then
    w.today = {served = tonumber(f[2] or '0'), no_shows = tonumber(f[3] or '0'),
               handle_ms = tonumber(f[4] or '0')}
  end
  if f[5] and today(f[5]) then
    w.done = {ticket = f[5], number = f[6], at = tonumber(f[7] or '0')}
    w.rated = f[8] or ''
  end
  local cur = redis.call('HGET', KW, 'current')
  -- a ticket left from an earlier day shows as none; the next call clears it
  if cur and cur ~= '' and today(cur) then
    local t = tload(cur)
    if t then
      w.current = {ticket = cur, number = t.number, service = t.service, state = t.state,
                   class = t.class, called_at = t.called_at or 0, recalls = t.recalls or 0,
                   step = t.step or 0, steps = step_count(t)}
    end
  end
  for _, p in ipairs(redis.call('ZRANGE', KP, 0, -1)) do
    local t = tload(p)
    if t then w.parked[#w.parked + 1] = t.number end
  end
  -- tickets transferred to this window (its own queue, called first), still waiting for it
  w.queued = {}
  for _, q in ipairs(redis.call('ZRANGE', KWQ, 0, -1)) do
    local t = tload(q)
    if t and t.state == 'transferred' and t.to_window == w.id then
      w.queued[#w.queued + 1] = t.number
    end
  end
  -- the next few numbers this window would call, in its calling order (as next.lua picks)
  local b, offs, cand = boosts(), w.offsets, {}
  for k = 1, #offs, 2 do
    if Q[offs[k]] then
      for _, f in ipairs(front(offs[k], UPCOMING, b)) do
        cand[#cand + 1] = {f[2] + tonumber(offs[k + 1]) * 1000, f[3], f[1]}
      end
    end
  end
  table.sort(cand, function(x, y)
    if x[1] ~= y[1] then return x[1] < y[1] end
    return x[2] < y[2]
  end)
  w.upcoming = {}
  for k = 1, math.min(UPCOMING, #w.queued) do w.upcoming[k] = w.queued[k] end
  for k = 1, math.min(UPCOMING - #w.upcoming, #cand) do
    local t = tload(cand[k][3])
    if t then w.upcoming[#w.upcoming + 1] = t.number end
  end
  out.windows[#out.windows + 1] = w
end
-- 号源: the day's numbers given per service, and the places bookings hold among them
out.issued = {}
local KI = XK + 4 * (#ARGV - XA)
local KS = KEYS[KI + #SERVICES]
for i, service in ipairs(SERVICES) do
  local held = KS and tonumber(redis.call('HGET', KS, service .. '|out') or '0') or 0
  out.issued[i] = {service, tonumber(redis.call('GET', KEYS[KI + i - 1]) or '0'), math.max(held, 0)}
end
return cjson.encode(out)
