-- A staff action on the window's current ticket, or on the window. Own KEYS: the window, its
-- parked tickets of the day, the own queue of the window a transfer goes to. Own ARGV: window,
-- action, service (transfer target), reason (pause), case number (finish; 办件编号, kept for
-- the rating), window (transfer target, '' for a service).
local KW, KP, KTQ = KEYS[XK], KEYS[XK + 1], KEYS[XK + 2]
local window, action, target, reason = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2], ARGV[XA + 3]
local case = ARGV[XA + 4] or ''
local to_window = ARGV[XA + 5] or ''
local at_window = {called = true, serving = true}
STAFF = redis.call('HGET', KW, 'staff') or ''

if action == 'pause' or action == 'resume' then
  local paused = action == 'pause' and '1' or '0'
  if (redis.call('HGET', KW, 'paused') or '0') == paused then
    return fail('illegal_transition', 'the window is already ' .. (paused == '1' and 'paused' or 'open'))
  end
  redis.call('HSET', KW, 'paused', paused, 'reason', paused == '1' and reason or '')
  return answer({'', emit(action, '', window, '', {'reason', reason}), ''})
end

local states = (action == 'skip' or action == 'start') and {called = true} or at_window
local cur, t, err = current_in(KW, states)
if err then return err end
local seq
if action == 'skip' then
  seq = miss(cur, t, KW, window, 'skip')
elseif action == 'start' then
  t.state, t.started_at = 'serving', NOW
  tsave(cur, t)
  seq = emit('start', cur, window, t.service)
elseif action == 'finish' then
  if case ~= '' then
    t.case = case
    tsave(cur, t)
  end
  close_current(KW, window, '0')
  t = tload(cur)
  seq = redis.call('GET', K.seq)
elseif action == 'transfer' and to_window ~= '' then
  -- To a window: the front of that window's own queue, which its next call serves first
  -- (ordered by the tickets' original places among themselves).
  if to_window == window then return fail('same_window', 'the ticket is already at window ' .. window) end
  t.state, t.to_window, t.from_window = 'transferred', to_window, window
  tsave(cur, t)
  redis.call('ZADD', KTQ, t.base, cur)
  touch_day(KTQ)
  redis.call('HDEL', KW, 'current')
  seq = emit('transfer', cur, window, t.service, {'to_window', to_window})
elseif action == 'transfer' then
  local from = t.service
  if target == from then return fail('same_service', 'the ticket is already for ' .. from) end
  if not Q[target] then return fail('unknown_service', 'no service ' .. target) end
  -- First-window responsibility: the citizen keeps the original place.
  t.state, t.service, t.from_service, t.from_window = 'transferred', target, from, window
  if type(t.steps) == 'table' and t.step then t.steps[t.step] = target end  -- the step moves
  t.to_window = nil
  tsave(cur, t)
  redis.call('ZADD', Q[target][t.class], t.base, cur)
  touch_day(Q[target][t.class])
  redis.call('HDEL', KW, 'current')
  seq = emit('transfer', cur, window, target, {'from', from})
elseif action == 'park' then
  t.state, t.parked_at = 'parked', NOW
  tsave(cur, t)
  redis.call('ZADD', KP, NOW, cur)
  touch_day(KP)
  redis.call('HDEL', KW, 'current')
  seq = emit('park', cur, window, t.service)
else
  return fail('bad_action', action)
end
return answer({cur, seq, cjson.encode(t)})
