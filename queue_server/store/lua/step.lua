-- A staff action on the window's current ticket. ARGV: prefix, now, window, action, service
-- (transfer target), reason (pause)
local window, action = ARGV[3], ARGV[4]
local at_window = {called = true, serving = true}

if action == 'skip' then
  local cur, err = current_in(window, {called = true})
  if err then return err end
  return {cur, miss(cur, window, 'skip')}
elseif action == 'start' then
  local cur, err = current_in(window, {called = true})
  if err then return err end
  redis.call('HSET', P .. 't:' .. cur, 'state', 'serving', 'started_at', NOW)
  return {cur, emit('start', cur, window, tget(cur, 'service'))}
elseif action == 'finish' then
  local cur, err = current_in(window, at_window)
  if err then return err end
  close_current(window, '0')
  return {cur, redis.call('GET', P .. 'seq')}
elseif action == 'transfer' then
  local cur, err = current_in(window, at_window)
  if err then return err end
  local target = ARGV[5]
  local t = P .. 't:' .. cur
  local from = redis.call('HGET', t, 'service')
  if target == from then return fail('same_service', 'the ticket is already for ' .. from) end
  -- First-window responsibility: the citizen keeps the original place (base time).
  redis.call('HSET', t, 'state', 'transferred', 'service', target, 'from_service', from,
             'from_window', window)
  redis.call('ZADD', P .. 'q:' .. target .. ':' .. redis.call('HGET', t, 'class'),
             redis.call('HGET', t, 'base'), cur)
  redis.call('HDEL', P .. 'w:' .. window, 'current')
  return {cur, emit('transfer', cur, window, target, {'from', from})}
elseif action == 'park' then
  local cur, err = current_in(window, at_window)
  if err then return err end
  redis.call('HSET', P .. 't:' .. cur, 'state', 'parked', 'parked_at', NOW)
  redis.call('ZADD', P .. 'parked:' .. window, NOW, cur)
  redis.call('HDEL', P .. 'w:' .. window, 'current')
  return {cur, emit('park', cur, window, tget(cur, 'service'))}
elseif action == 'pause' or action == 'resume' then
  local w = P .. 'w:' .. window
  local paused = action == 'pause' and '1' or '0'
  if (redis.call('HGET', w, 'paused') or '0') == paused then
    return fail('illegal_transition', 'the window is already ' .. (paused == '1' and 'paused' or 'open'))
  end
  redis.call('HSET', w, 'paused', paused, 'reason', paused == '1' and ARGV[6] or '')
  return {'', emit(action, '', window, '', {'reason', ARGV[6]})}
end
return fail('bad_action', action)
