-- Call the window's current ticket again; past the recall limit it is a no-show.
-- ARGV: prefix, now, window
local window = ARGV[3]
local cur, err = current_in(window, {called = true})
if err then return err end
local t = P .. 't:' .. cur
local recalls = tonumber(redis.call('HGET', t, 'recalls') or '0') + 1
if recalls > rule('recall_limit', 2) then
  local seq = miss(cur, window, 'no_show')
  return {'missed', cur, seq, '', 0, recalls - 1,
          redis.call('HMGET', t, 'number', 'service', 'class', 'phone')}
end
redis.call('HSET', t, 'recalls', recalls)
local callseq = redis.call('INCR', P .. 'callseq')
local service = redis.call('HGET', t, 'service')
local seq, eid = emit('recall', cur, window, service, {'callseq', callseq, 'recalls', recalls})
remember_call(cur, window, 'recall', service, eid, callseq)
return {'recalled', cur, seq, eid, callseq, recalls,
        redis.call('HMGET', t, 'number', 'service', 'class', 'phone')}
