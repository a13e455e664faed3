-- Everything screens and panels show, read atomically, as JSON.
-- ARGV: prefix, now, day_start, recent count, then window ids
local day_start, nrecent = tonumber(ARGV[3]), tonumber(ARGV[4])
local b = boosts()
local out = {seq = tonumber(redis.call('GET', P .. 'seq') or '0'),
             call_seq = tonumber(redis.call('GET', P .. 'callseq') or '0'),
             recent = redis.call('LRANGE', P .. 'recent', 0, nrecent - 1),
             handle = redis.call('HGETALL', P .. 'handle'), windows = {}, waiting = {},
             boosts = redis.call('HGETALL', P .. 'rules')}
local counted = {}
for i = 5, #ARGV do
  local wid = ARGV[i]
  local w = {id = wid, paused = redis.call('HGET', P .. 'w:' .. wid, 'paused') == '1',
             reason = redis.call('HGET', P .. 'w:' .. wid, 'reason') or '',
             offsets = redis.call('HGETALL', P .. 'wsvc:' .. wid),
             parked = redis.call('ZRANGE', P .. 'parked:' .. wid, 0, -1)}
  local cur = redis.call('HGET', P .. 'w:' .. wid, 'current')
  if cur and cur ~= '' then
    local t = P .. 't:' .. cur
    w.current = {ticket = cur, number = redis.call('HGET', t, 'number'),
                 service = redis.call('HGET', t, 'service'), state = redis.call('HGET', t, 'state'),
                 class = redis.call('HGET', t, 'class'),
                 called_at = tonumber(redis.call('HGET', t, 'called_at') or '0'),
                 recalls = tonumber(redis.call('HGET', t, 'recalls') or '0')}
  end
  for j = 1, #w.parked do w.parked[j] = redis.call('HGET', P .. 't:' .. w.parked[j], 'number') end
  for j = 1, #w.offsets, 2 do
    local service = w.offsets[j]
    if not counted[service] then
      local n = 0
      for cls, _ in pairs(b) do
        n = n + redis.call('ZCOUNT', P .. 'q:' .. service .. ':' .. cls, day_start, '+inf')
      end
      counted[service] = true
      out.waiting[#out.waiting + 1] = {service, n}
    end
  end
  out.windows[#out.windows + 1] = w
end
return cjson.encode(out)
