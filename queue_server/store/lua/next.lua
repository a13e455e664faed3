-- Call a ticket to a window, finishing the one it had. ARGV: prefix, now, window, mode
-- ('next' | 'call' | 'unpark'), ticket id (call/unpark), day_start
local window, mode, target, day_start = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local w = P .. 'w:' .. window
if redis.call('HGET', w, 'paused') == '1' then
  return fail('window_paused', 'the window is paused; resume it first')
end
local b = boosts()
local tid = nil

if mode == 'next' then
  local offs = redis.call('HGETALL', P .. 'wsvc:' .. window)
  local best = nil
  for i = 1, #offs, 2 do
    local service, off = offs[i], tonumber(offs[i + 1])
    for cls, boost in pairs(b) do
      local q = P .. 'q:' .. service .. ':' .. cls
      -- Tickets left from an earlier day are void: drop them as we meet them (records that
      -- expired already are not recreated).
      for _, s in ipairs(redis.call('ZRANGEBYSCORE', q, '-inf', '(' .. day_start)) do
        redis.call('ZREM', q, s)
        if redis.call('EXISTS', P .. 't:' .. s) == 1 then
          redis.call('HSET', P .. 't:' .. s, 'state', 'cancelled', 'reason', 'expired')
        end
      end
      local top = redis.call('ZRANGEBYSCORE', q, day_start, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      if top[1] then
        local base = tonumber(top[2])
        local key = {base - boost + off, base, top[1], q}
        if best == nil or key[1] < best[1] or (key[1] == best[1] and
            (key[2] < best[2] or (key[2] == best[2] and key[3] < best[3]))) then
          best = key
        end
      end
    end
  end
  if best then
    tid = best[3]
    redis.call('ZREM', best[4], tid)
  end
elseif mode == 'call' then
  local st = tget(target, 'state')
  if not st then return fail('unknown_ticket', 'no such ticket today') end
  if st ~= 'waiting' and st ~= 'transferred' then
    return fail('illegal_transition', 'the ticket is ' .. st .. ', not waiting')
  end
  tid = target
  redis.call('ZREM', P .. 'q:' .. tget(tid, 'service') .. ':' .. tget(tid, 'class'), tid)
else
  if redis.call('ZREM', P .. 'parked:' .. window, target) == 0 then
    return fail('illegal_transition', 'the ticket is not parked at this window')
  end
  tid = target
end

local closed = close_current(window, mode == 'next' and '1' or '0')
if not tid then
  return {'', closed, redis.call('GET', P .. 'seq') or 0}
end
local seq, eid, callseq = call_ticket(tid, window, mode == 'unpark' and 'unpark' or 'call')
local service = tget(tid, 'service')
local notices = near_notices(service, b, day_start)
local flat = {}
for _, x in ipairs(notices) do
  flat[#flat + 1] = x[1]; flat[#flat + 1] = x[2]
  flat[#flat + 1] = tget(x[1], 'number'); flat[#flat + 1] = tget(x[1], 'phone')
end
local t = P .. 't:' .. tid
return {tid, closed, seq, eid, callseq, flat, redis.call('HMGET', t, 'number', 'service', 'class',
        'phone')}
