-- Shared by every script (prepended by scripts.py). Key names mirror store/keys.py.
-- ARGV[1] is the hall's key prefix "hc:{hall}:", ARGV[2] the time in ms; KEYS[1] the hall's seq
-- key, declared so a cluster routes the script to the hall's slot.
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local STREAM_MAX = __STREAM_MAX__
local RECENT_MAX = __RECENT_MAX__
local TICKET_TTL = __TICKET_TTL__
local ALPHA = __EWMA_ALPHA__
local OUTLIER = 4  -- durations over 4x the average are not learned from

local function fail(code, message)
  return redis.error_reply(code .. ' ' .. message)
end

local function rule(name, default)
  local v = redis.call('HGET', P .. 'rules', name)
  if v then return tonumber(v) end
  return default
end

-- class -> boost (ms), from the live rules
local function boosts()
  local r = redis.call('HGETALL', P .. 'rules')
  local b = {}
  for i = 1, #r, 2 do
    if string.sub(r[i], 1, 6) == 'boost:' then b[string.sub(r[i], 7)] = tonumber(r[i + 1]) end
  end
  return b
end

-- Append an event to the hall's bounded stream; every change bumps the hall's seq.
local function emit(etype, tid, window, service, extra)
  local seq = redis.call('INCR', P .. 'seq')
  local f = {'type', etype, 'ticket', tid or '', 'window', window or '', 'service', service or '',
             't', NOW, 'seq', seq}
  if extra then for i = 1, #extra do f[#f + 1] = extra[i] end end
  local id = redis.call('XADD', P .. 'events', 'MAXLEN', '~', STREAM_MAX, '*', unpack(f))
  if tid and tid ~= '' then redis.call('EXPIRE', P .. 't:' .. tid, TICKET_TTL) end
  return seq, id
end

local function tget(tid, field)
  return redis.call('HGET', P .. 't:' .. tid, field)
end

-- Number of queued tickets of `service` called before ticket `tid` of class `own`, in the
-- calling order (effective time, then base time, then id).
local function ahead(service, tid, own, b, day_start)
  local n = 0
  local base = tonumber(redis.call('HGET', P .. 't:' .. tid, 'base'))
  local eff = base - (b[own] or 0)
  for cls, boost in pairs(b) do
    local q = P .. 'q:' .. service .. ':' .. cls
    local rank = cls == own and redis.call('ZRANK', q, tid)
    if rank then
      n = n + rank - redis.call('ZCOUNT', q, '-inf', '(' .. day_start)
    else
      -- equal effective time: a smaller boost means an earlier base, which goes first
      local hi = eff + boost
      n = n + redis.call('ZCOUNT', q, day_start, (boost < (b[own] or 0)) and hi or ('(' .. hi))
    end
  end
  return n
end

-- The first `count` queued tickets of `service` in calling order, as {tid, eff} pairs.
local function front(service, count, b, day_start)
  local all = {}
  for cls, boost in pairs(b) do
    local r = redis.call('ZRANGEBYSCORE', P .. 'q:' .. service .. ':' .. cls, day_start, '+inf',
                         'WITHSCORES', 'LIMIT', 0, count)
    for i = 1, #r, 2 do
      local base = tonumber(r[i + 1])
      all[#all + 1] = {r[i], base - boost, base}
    end
  end
  table.sort(all, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    if x[3] ~= y[3] then return x[3] < y[3] end
    return x[1] < y[1]
  end)
  local out = {}
  for i = 1, math.min(count, #all) do out[i] = all[i] end
  return out
end

-- "Your turn is near" notices: every ticket with a phone among the first N+1 of a service,
-- once per ticket. Returns a list of {tid, ahead}.
local function near_notices(service, b, day_start)
  local n = rule('notify_ahead', 0)
  local out = {}
  if n <= 0 then return out end
  local f = front(service, n + 1, b, day_start)
  for i = 1, #f do
    local t = P .. 't:' .. f[i][1]
    local phone = redis.call('HGET', t, 'phone')
    if phone and phone ~= '' and redis.call('HSETNX', t, 'near', '1') == 1 then
      out[#out + 1] = {f[i][1], i - 1}
    end
  end
  return out
end

-- Finish the window's current ticket (if any) and free the window; returns its id or ''.
local function close_current(window, auto)
  local w = P .. 'w:' .. window
  local cur = redis.call('HGET', w, 'current')
  if not cur or cur == '' then return '' end
  local t = P .. 't:' .. cur
  local st = redis.call('HGET', t, 'state')
  if st == 'called' or st == 'serving' then
    local from = tonumber(redis.call('HGET', t, 'started_at') or redis.call('HGET', t, 'called_at'))
    local service = redis.call('HGET', t, 'service')
    redis.call('HSET', t, 'state', 'done', 'done_at', NOW)
    if from then
      local d = NOW - from
      local h = tonumber(redis.call('HGET', P .. 'handle', service) or '')
      -- A ticket left open overnight or far beyond the norm says nothing about handling
      -- times: learn only from plausible durations.
      if not h then
        h = d
      elseif d <= OUTLIER * h then
        h = h + ALPHA * (d - h)
      end
      redis.call('HSET', P .. 'handle', service, math.floor(h))
    end
    emit('finish', cur, window, service, {'auto', auto})
  end
  redis.call('HDEL', w, 'current')
  return cur
end

-- Keep a call or recall for the board's list of recent calls.
local function remember_call(tid, window, kind, service, eid, callseq)
  local t = P .. 't:' .. tid
  redis.call('LPUSH', P .. 'recent', cjson.encode({
    event = eid, ticket = tid, number = redis.call('HGET', t, 'number'), service = service,
    window = window, kind = kind, class = redis.call('HGET', t, 'class'),
    time = NOW, seq = callseq}))
  redis.call('LTRIM', P .. 'recent', 0, RECENT_MAX - 1)
end

-- Put a queued or parked ticket at the window and announce it.
local function call_ticket(tid, window, kind)
  local t = P .. 't:' .. tid
  redis.call('HSET', t, 'state', 'called', 'window', window, 'called_at', NOW, 'recalls', 0)
  redis.call('HDEL', t, 'started_at')
  redis.call('HSET', P .. 'w:' .. window, 'current', tid)
  local callseq = redis.call('INCR', P .. 'callseq')
  local service = redis.call('HGET', t, 'service')
  local seq, eid = emit(kind, tid, window, service, {'callseq', callseq})
  remember_call(tid, window, kind, service, eid, callseq)
  return seq, eid, callseq
end

-- Take a called ticket off the window as a no-show; it may rejoin for a while.
local function miss(tid, window, etype)
  local t = P .. 't:' .. tid
  redis.call('HSET', t, 'state', 'missed', 'missed_at', NOW)
  redis.call('HDEL', P .. 'w:' .. window, 'current')
  redis.call('ZADD', P .. 'missed', NOW, tid)
  redis.call('ZREMRANGEBYSCORE', P .. 'missed', '-inf', NOW - 86400000)
  return emit(etype, tid, window, redis.call('HGET', t, 'service'))
end

-- The window's current ticket if it is in one of `states` (a set), else an error reply.
local function current_in(window, states)
  local cur = redis.call('HGET', P .. 'w:' .. window, 'current')
  if not cur or cur == '' then return nil, fail('no_current', 'the window has no current ticket') end
  local st = tget(cur, 'state')
  if not st then  -- its record expired while it sat at the window (left open for days)
    redis.call('HDEL', P .. 'w:' .. window, 'current')
    return nil, fail('no_current', 'the window has no current ticket')
  end
  if not states[st] then
    return nil, fail('illegal_transition', 'the current ticket is ' .. tostring(st))
  end
  return cur, nil
end
