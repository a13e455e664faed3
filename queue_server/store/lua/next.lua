-- Call a ticket to a window, finishing the one it had. Own KEYS: the window, its services
-- (service -> offset ms), its parked tickets of the day, its own queue of the day (tickets
-- transferred to it). Own ARGV: window, mode ('next' | 'call' | 'unpark'), ticket id (call,
-- unpark), '1' if the hall calls only from windows someone signed in to.
local KW, KWS, KP, KWQ = KEYS[XK], KEYS[XK + 1], KEYS[XK + 2], KEYS[XK + 3]
local window, mode, target = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2]
local w = redis.call('HMGET', KW, 'paused', 'staff')
STAFF = w[2] or ''
if ARGV[XA + 3] == '1' and STAFF == '' then
  return fail('signin_required', 'sign in at window ' .. window .. ' before calling')
end
if w[1] == '1' then
  return fail('window_paused', 'the window is paused; resume it first')
end
local b = boosts()
local tid, t = nil, nil

-- Tickets transferred to this window come first; one called or cancelled since is dropped.
if mode == 'next' then
  while true do
    local top = redis.call('ZRANGE', KWQ, 0, 0)[1]
    if not top then break end
    redis.call('ZREM', KWQ, top)
    local q = tload(top)
    if q and q.state == 'transferred' and q.to_window == window then
      tid, t = top, q
      break
    end
  end
end

if tid then
  -- the window's own queue gave it
elseif mode == 'next' then
  local offs = redis.call('HGETALL', KWS)
  local best = nil
  for i = 1, #offs, 2 do
    local service, off = offs[i], tonumber(offs[i + 1]) * 1000
    if Q[service] then
      for _, cls in ipairs(CLASSES) do
        local top = redis.call('ZRANGE', Q[service][cls], 0, 0, 'WITHSCORES')
        if top[1] then
          local base = tonumber(top[2])
          local score = effective(base, cls, b) + off
          if best == nil or score < best[1] or (score == best[1] and base < best[2]) then
            best = {score, base, top[1], Q[service][cls]}
          end
        end
      end
    end
  end
  if best then
    tid = best[3]
    redis.call('ZREM', best[4], tid)
    t = tload(tid)
    if not t then tid = nil end  -- a record gone with its day: nothing to call
  end
elseif mode == 'call' then
  if not today(target) then return fail('ticket_expired', 'the ticket is from an earlier day') end
  t = tload(target)
  if not t then return fail('unknown_ticket', 'no such ticket today') end
  if t.state ~= 'waiting' and t.state ~= 'transferred' then
    return fail('illegal_transition', 'the ticket is ' .. t.state .. ', not waiting')
  end
  tid = target
  redis.call('ZREM', Q[t.service][t.class], tid)
  redis.call('ZREM', KWQ, tid)  -- called here from this window's own queue (else a no-op)
else
  if not today(target) then return fail('ticket_expired', 'the ticket is from an earlier day') end
  if redis.call('ZREM', KP, target) == 0 then
    return fail('illegal_transition', 'the ticket is not parked at this window')
  end
  tid = target
  t = tload(tid)
end

local closed = close_current(KW, window, mode == 'next' and '1' or '0')
if not tid then
  return answer({'', closed, redis.call('GET', K.seq) or 0, 0, ''})
end
local seq, callseq, raw = call_ticket(tid, t, KW, window, mode == 'unpark' and 'unpark' or 'call')
near_notices(t.service, b)
return answer({tid, closed, seq, callseq, raw})
