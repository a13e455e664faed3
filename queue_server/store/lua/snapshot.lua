-- Everything screens and panels show, read atomically, as JSON.
-- ARGV: prefix, now, day_start, recent count, services (comma-separated), then window ids
local day_start, nrecent = tonumber(ARGV[3]), tonumber(ARGV[4])
local b = boosts()
local out = {seq = tonumber(redis.call('GET', P .. 'seq') or '0'),
             call_seq = tonumber(redis.call('GET', P .. 'callseq') or '0'),
             recent = redis.call('LRANGE', P .. 'recent', 0, nrecent - 1),
             handle = redis.call('HGETALL', P .. 'handle'), windows = {}, waiting = {}}
for service in string.gmatch(ARGV[5], '[^,]+') do
  local n = 0
  for cls, _ in pairs(b) do
    n = n + redis.call('ZCOUNT', P .. 'q:' .. service .. ':' .. cls, day_start, '+inf')
  end
  out.waiting[#out.waiting + 1] = {service, n}
end
for i = 6, #ARGV do
  local wid = ARGV[i]
  local wk = P .. 'w:' .. wid
  local w = {id = wid, paused = redis.call('HGET', wk, 'paused') == '1',
             reason = redis.call('HGET', wk, 'reason') or '',
             offsets = redis.call('HGETALL', P .. 'wsvc:' .. wid), parked = {}}
  local cur = redis.call('HGET', wk, 'current')
  -- a record that expired (a ticket left open for days) shows as no ticket
  if cur and cur ~= '' and redis.call('EXISTS', P .. 't:' .. cur) == 1 then
    local t = P .. 't:' .. cur
    local f = redis.call('HMGET', t, 'number', 'service', 'state', 'class', 'called_at', 'recalls')
    w.current = {ticket = cur, number = f[1], service = f[2], state = f[3], class = f[4],
                 called_at = tonumber(f[5] or '0'), recalls = tonumber(f[6] or '0')}
  end
  for _, p in ipairs(redis.call('ZRANGE', P .. 'parked:' .. wid, 0, -1)) do
    local number = redis.call('HGET', P .. 't:' .. p, 'number')
    if number then w.parked[#w.parked + 1] = number end
  end
  out.windows[#out.windows + 1] = w
end
return cjson.encode(out)
