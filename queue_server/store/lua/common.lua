-- Shared by every script (prepended by scripts.py). Key names come from store/keys.py, passed in
-- KEYS; this file only names them.
-- KEYS: 1 seq, 2 callseq, 3 place, 4 rules, 5 handle, 6 recent, 7 events, 8 the day's tickets,
--   9 outbox calls, 10 outbox notify, then one queue per (service, class) of the day,
--   service-major; then the script's own keys from KEYS[XK].
-- ARGV: 1 now in µs ('' = the Redis server's clock), 2 day (YYYYMMDD), 3 services and 4 classes
--   (comma-separated), then the script's own arguments from ARGV[XA]. The services are the
--   hall's, or for the issue script its ticket's service only (Q then holds that one: each
--   queue key costs every call, and a hall may have dozens).
-- From `local function fail` on, each helper is one block between blank lines (no blank line
-- inside a block), naming what it defines at column 0: scripts.py gives each script only the
-- blocks it uses.
local K = {seq = KEYS[1], callseq = KEYS[2], place = KEYS[3], rules = KEYS[4], handle = KEYS[5],
           recent = KEYS[6], events = KEYS[7], tickets = KEYS[8], ob_calls = KEYS[9],
           ob_notify = KEYS[10]}
local STREAM_MAX = '__STREAM_MAX__'  -- strings: passed to redis.call, never counted with
local RECENT_MAX = __RECENT_MAX__
local DAY_TTL = '__DAY_TTL__'
-- handling-time learning: the constants of queue_server/domain/eta.py
local ALPHA_MIN, PRIOR_WEIGHT, PRIOR_CV = __ALPHA_MIN__, __PRIOR_WEIGHT__, __PRIOR_CV__
local CAP, DROP = __CAP__, __DROP__

local function split(s)
  local out = {}
  for x in string.gmatch(s, '[^,]+') do out[#out + 1] = x end
  return out
end

-- Integers as exact decimal strings: tostring() and redis.call() would print µs times with 14
-- significant digits and lose the last ones. A whole number as '%d' (a C long here): '%.0f'
-- (and '%.14g', which redis.call and `..` use for a number) go through glibc's multi-precision
-- float printing, ~3k Redis instructions a number, 5% of an issue.
local function int(x)
  if x % 1 == 0 then return string.format('%d', x) end
  return string.format('%.0f', x)
end

local NOW_US
if ARGV[1] == '' then
  local t = redis.call('TIME')
  NOW_US = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  NOW_US = tonumber(ARGV[1])
end
local NOW = math.floor(NOW_US / 1000)  -- ms: the unit of every time but queue places
local DAY = ARGV[2]
local SERVICES, CLASSES = split(ARGV[3]), split(ARGV[4])
local Q = {}
local XK = 11
for i = 1, #SERVICES do  -- numeric loops: every Lua instruction counts on each call
  local qs = {}
  for j = 1, #CLASSES do qs[CLASSES[j]] = KEYS[XK]; XK = XK + 1 end
  Q[SERVICES[i]] = qs
end
local XA = 5
local STAFF = ''  -- the signed-in staff member of the acting window, set by window scripts
local OUT = {}    -- outbox entries written by this change, returned for the fast path

local function fail(code, message)
  return redis.error_reply(code .. ' ' .. message)
end

-- A day's key lives two days from the first write of the day.
local function touch_day(key)
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, DAY_TTL) end
end

local function tload(tid)
  local raw = redis.call('HGET', K.tickets, tid)
  if not raw then return nil end
  return cjson.decode(raw)
end

-- Returns the record's JSON, for an answer that carries it.
local function tsave(tid, t)
  local raw = cjson.encode(t)
  redis.call('HSET', K.tickets, tid, raw)
  return raw
end

-- Tickets of an earlier day are void for every action: a number is called once a day.
local function today(tid)
  return string.sub(tid, 1, #DAY + 1) == DAY .. '-'
end

-- The live rules, read once per change (`next` wants the boosts and notify_ahead; no script
-- reads them back after writing them).
local RULES = nil
local function rules()
  if not RULES then
    RULES = {}
    local r = redis.call('HGETALL', K.rules)
    for i = 1, #r, 2 do RULES[r[i]] = r[i + 1] end
  end
  return RULES
end

local function rule(name, default)
  local v = rules()[name]
  if v then return tonumber(v) end
  return default
end

-- class -> boost (ms), from the live rules
local function boosts()
  local b = {}
  for name, v in pairs(rules()) do
    if string.sub(name, 1, 6) == 'boost:' then b[string.sub(name, 7)] = tonumber(v) end
  end
  return b
end

-- The next queue place: the time (µs), strictly after every place given before, so tickets
-- taken in one microsecond, or on servers with skewed clocks, keep the order they were taken.
-- One command in the usual case (the last place is below now); a second one only for a place
-- taken in the same µs or ahead of this clock.
-- Answers the place and its decimal text (each int() is a sprintf, ~2k Redis instructions).
local function next_place()
  local s = int(NOW_US)
  local last = tonumber(redis.call('SET', K.place, s, 'GET') or '0')
  if last < NOW_US then return NOW_US, s end
  s = int(last + 1)
  redis.call('SET', K.place, s)
  return last + 1, s
end

-- NOW's decimal text, made once per change by the first that needs it.
local NOW_S
local function now_s()
  if not NOW_S then NOW_S = int(NOW) end
  return NOW_S
end

-- Append an event to the hall's bounded stream; every change bumps the hall's seq.
local function emit(etype, tid, window, service, extra)
  local seq = redis.call('INCR', K.seq)
  local f = {'type', etype, 'ticket', tid or '', 'window', window or '', 'service', service or '',
             't', now_s(), 'seq', int(seq)}
  if STAFF ~= '' then f[#f + 1] = 'staff'; f[#f + 1] = STAFF end
  if extra then for i = 1, #extra do f[#f + 1] = extra[i] end end
  local id = redis.call('XADD', K.events, 'MAXLEN', '~', STREAM_MAX, '*', unpack(f))
  return seq, id
end

-- Write a message into this process's outbox in the same atomic change (transactional outbox),
-- as one field `j`: a JSON object of strings (numbers as exact decimals, as a field per value
-- gave them), so the XADD and the answer stay small and JSON stays text for every client
-- (hall_store.entry_fields reads the earlier forms too). Calls carry their own gapless seq.
-- `j`: the JSON made already (the issue script's ticket_taken entry), instead of `fields`.
local function outbox(stream, fields, j)
  local key = stream == 'calls' and K.ob_calls or K.ob_notify
  if not j then
    local m = {}
    for i = 1, #fields, 2 do
      local v = fields[i + 1]
      if type(v) == 'number' then v = int(v) end
      m[fields[i]] = v
    end
    j = cjson.encode(m)
  end
  local id = redis.call('XADD', key, '*', 'j', j)
  OUT[#OUT + 1] = {stream, id, 'j', j}
end

-- How many steps a ticket has (0: a ticket of one service, the usual).
local function step_count(t)
  return type(t.steps) == 'table' and #t.steps or 0
end

local function notice(kind, tid, t, window, ahead)
  if not t.phone or t.phone == '' then return end
  local f = {'kind', kind, 'ticket', tid, 'number', t.number, 'service', t.service,
             'window', window or '', 'ahead', ahead or 0, 'phone', t.phone,
             'lang', t.lang or '', 'round', t.round or 0, 'time', NOW,
             'step', t.step or 0, 'steps', step_count(t)}
  -- the rating link opens the ticket's status page, which needs its secret (notify only)
  if kind == 'finished' and t.secret then f[#f + 1] = 'secret'; f[#f + 1] = t.secret end
  outbox('notify', f)
end

-- Effective time of a queued ticket (µs): its place, minus its class's boost.
local function effective(base, cls, b)
  return base - (b[cls] or 0) * 1000
end

-- Number of queued tickets of `service` called before ticket `tid` (place `base`, class `own`),
-- in the calling order (effective time, then place); and how many of its own class's queue
-- are before it. `fresh`: the ticket is not queued yet (a new one), so it has no rank to ask;
-- `base_s`: its place's text, when the caller has it.
local function ahead(service, tid, base, own, b, fresh, base_s)
  local n, mine = 0, 0
  local eff = effective(base, own, b)
  for _, cls in ipairs(CLASSES) do
    local q = Q[service][cls]
    if cls == own then
      mine = (not fresh and redis.call('ZRANK', q, tid))
        or redis.call('ZCOUNT', q, '-inf', '(' .. (base_s or int(base)))
      n = n + mine
    else
      -- before it: a lower effective time, or an equal one with an earlier place (which a
      -- smaller boost means)
      local bo = b[cls] or 0
      local hi = eff + bo * 1000
      n = n + redis.call('ZCOUNT', q, '-inf', (bo < (b[own] or 0)) and int(hi) or ('(' .. int(hi)))
    end
  end
  return n, mine
end

-- The first `count` (nil: all) queued tickets of `service` in calling order, as
-- {tid, eff, base}.
local function front(service, count, b)
  local all = {}
  for _, cls in ipairs(CLASSES) do
    local r = redis.call('ZRANGE', Q[service][cls], 0, count and count - 1 or -1, 'WITHSCORES')
    for i = 1, #r, 2 do
      local base = tonumber(r[i + 1])
      all[#all + 1] = {r[i], effective(base, cls, b), base}
    end
  end
  table.sort(all, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    return x[3] < y[3]
  end)
  local out = {}
  for i = 1, math.min(count or #all, #all) do out[i] = all[i] end
  return out
end

-- "Your turn is near": a notice for every ticket with a phone among the first N+1 of a service,
-- once per ticket and round.
local function near_notices(service, b)
  local n = rule('notify_ahead', 0)
  if n <= 0 then return end
  local f = front(service, n + 1, b)
  if #f == 0 then return end
  local ids = {}
  for i = 1, #f do ids[i] = f[i][1] end
  local raws = redis.call('HMGET', K.tickets, unpack(ids))
  for i = 1, #f do
    -- most records have no phone, or were told already: skip them undecoded (a key and its
    -- quotes appear unescaped only as a key in the JSON)
    local raw = raws[i]
    local t = raw and string.find(raw, '"phone":"', 1, true)
      and not string.find(raw, '"phone":""', 1, true)
      and not string.find(raw, '"near":', 1, true)
      and cjson.decode(raw)
    if t and t.phone and t.phone ~= '' and not t.near then
      t.near = 1
      tsave(f[i][1], t)
      notice('near', f[i][1], t, '', i - 1)
    end
  end
end

-- Today's figures of a window live in its hash beside the day they count (reset when the
-- day changes): served, no_shows, handle_ms (summed handling time of the served).
-- Arguments: field, by, [field, by].
local function tally(KW, ...)
  if redis.call('HGET', KW, 'day') ~= DAY then
    redis.call('HSET', KW, 'day', DAY, 'served', 0, 'no_shows', 0, 'handle_ms', 0)
  end
  local f = {...}
  for i = 1, #f, 2 do redis.call('HINCRBY', KW, f[i], f[i + 1]) end
end

-- 一票到底: finishing a step of a ticket of several queues it for the next service at its
-- original place (`base`, as a transfer keeps it), with the same number. The overtaking bound
-- holds: the ticket is ordered by the time it first joined, never by a later one. Returns the
-- next service, or nil after the last step.
local function advance(tid, t)
  local steps = t.steps
  if type(steps) ~= 'table' or not t.step or t.step >= #steps then return nil end
  local nxt = steps[t.step + 1]
  if not Q[nxt] then return nil end  -- a service gone from the hall file: it ends here
  t.step, t.service, t.state, t.window = t.step + 1, nxt, 'waiting', nil
  t.called_at, t.started_at, t.recalls, t.near = nil, nil, 0, nil
  tsave(tid, t)
  redis.call('ZADD', Q[nxt][t.class], t.base, tid)
  touch_day(Q[nxt][t.class])
  return nxt
end

-- Finish the window's current ticket (if any) and free the window; returns its id or ''.
-- A ticket left at the window from an earlier day is dropped without a word.
local function close_current(KW, window, auto)
  local cur = redis.call('HGET', KW, 'current')
  if not cur or cur == '' then return '' end
  redis.call('HDEL', KW, 'current')
  if not today(cur) then return '' end
  local t = tload(cur)
  if t and (t.state == 'called' or t.state == 'serving') then
    local from = t.started_at or t.called_at
    local served = t.service
    local nxt = advance(cur, t)
    if not nxt then
      t.state, t.done_at = 'done', NOW
      if STAFF ~= '' then t.staff = STAFF end  -- who served: a rating goes to them
      tsave(cur, t)
      -- the window's rating pad offers a rating for this ticket (after its last step)
      redis.call('HSET', KW, 'done', cur, 'done_number', t.number, 'done_at', NOW)
    end
    if from then tally(KW, 'served', 1, 'handle_ms', NOW - from) else tally(KW, 'served', 1) end
    if from then
      -- Learn the handling time as eta.learn_stats does: running mean and mean square, the
      -- newest weighing max(1/(n+1), ALPHA_MIN); counted up to CAP x the mean (long services
      -- are real), ignored beyond DROP x the mean (a ticket left open).
      local d, s = NOW - from, served
      local h = redis.call('HMGET', K.handle, s, s .. ':sq', s .. ':n')
      local mean, sq, n = tonumber(h[1] or ''), tonumber(h[2] or ''), tonumber(h[3] or '')
      local first = not mean or mean <= 0  -- no prior: the first time is the prior
      if first then mean, sq, n = d, nil, nil end
      if not sq or sq <= 0 then sq = mean * mean * (1 + PRIOR_CV * PRIOR_CV) end
      n = n or PRIOR_WEIGHT
      if not first and d >= 0 and d <= DROP * mean then
        local x = math.min(d, CAP * mean)
        local w = math.max(1 / (n + 1), ALPHA_MIN)
        mean, sq, n = mean + w * (x - mean), sq + w * (x * x - sq), n + 1
      end
      redis.call('HSET', K.handle, s, string.format('%.3f', mean),
                 s .. ':sq', string.format('%.0f', sq), s .. ':n', n)
    end
    if nxt then
      emit('finish', cur, window, served, {'auto', auto, 'next', nxt, 'step', t.step - 1})
      near_notices(nxt, boosts())
    else
      emit('finish', cur, window, served, {'auto', auto})
      notice('finished', cur, t, window, 0)
    end
  end
  return cur
end

-- Keep a call or recall for the board's list of recent calls, and put it in the outbox.
local function announce(tid, t, window, kind, eid, callseq)
  local call = {event = eid, ticket = tid, number = t.number, service = t.service,
                window = window, kind = kind, class = t.class, time = NOW, seq = callseq,
                step = t.step or 0, steps = step_count(t)}
  redis.call('LPUSH', K.recent, cjson.encode(call))
  redis.call('LTRIM', K.recent, 0, RECENT_MAX - 1)
  outbox('calls', {'kind', kind, 'event', eid, 'ticket', tid, 'number', t.number,
                   'service', t.service, 'window', window, 'class', t.class, 'time', NOW,
                   'seq', callseq, 'step', t.step or 0, 'steps', step_count(t)})
end

-- Put a queued or parked ticket at the window and announce it; its seq, call seq and record.
local function call_ticket(tid, t, KW, window, kind)
  t.state, t.window, t.called_at, t.recalls, t.started_at = 'called', window, NOW, 0, nil
  t.to_window = nil
  local raw = tsave(tid, t)
  redis.call('HSET', KW, 'current', tid)
  local callseq = redis.call('INCR', K.callseq)
  local seq, eid = emit(kind, tid, window, t.service, {'callseq', callseq})
  announce(tid, t, window, kind, eid, callseq)
  notice('called', tid, t, window, 0)
  return seq, callseq, raw
end

-- Take a called ticket off the window as a no-show; it may rejoin for a while.
local function miss(tid, t, KW, window, etype)
  t.state, t.missed_at = 'missed', NOW
  tsave(tid, t)
  redis.call('HDEL', KW, 'current')
  tally(KW, 'no_shows', 1)
  local seq = emit(etype, tid, window, t.service)
  notice('missed', tid, t, window, 0)
  return seq
end

-- The window's current ticket (id, record) if it is in one of `states` (a set), else nil and
-- an error reply.
local function current_in(KW, states)
  local cur = redis.call('HGET', KW, 'current')
  if not cur or cur == '' then return nil, nil, fail('no_current', 'the window has no current ticket') end
  if not today(cur) then
    return nil, nil, fail('ticket_expired', 'the ticket at the window is from an earlier day; press next')
  end
  local t = tload(cur)
  if not t then return nil, nil, fail('no_current', 'the window has no current ticket') end
  if not states[t.state] then
    return nil, nil, fail('illegal_transition', 'the current ticket is ' .. tostring(t.state))
  end
  return cur, t, nil
end

-- What a window action answers: the body, then the outbox entries for the fast path.
local function answer(body)
  return {body, OUT}
end
