-- Issue a ticket. ARGV: prefix, now, day, day_start, service, class, channel, base, phone,
-- phone_digest, max_per_phone, secret
local day, day_start, service, cls = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local channel, base, phone, digest = ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local max_per_phone, secret = tonumber(ARGV[11]), ARGV[12]

if phone ~= '' then
  local pk = P .. 'phone:' .. day .. ':' .. digest
  local n = redis.call('INCR', pk)
  if n == 1 then redis.call('EXPIRE', pk, 172800) end
  if n > max_per_phone then
    redis.call('DECR', pk)
    return fail('phone_limit', 'this phone has taken ' .. max_per_phone .. ' tickets today')
  end
end

local nk = P .. 'num:' .. service .. ':' .. day
local n = redis.call('INCR', nk)
if n == 1 then redis.call('EXPIRE', nk, 172800) end
local number = service .. string.format('%03d', n)
local tid = day .. '-' .. number
local t = P .. 't:' .. tid
redis.call('HSET', t, 'number', number, 'service', service, 'class', cls, 'channel', channel,
           'state', 'waiting', 'base', base, 'issued_at', NOW, 'secret', secret, 'day', day)
if phone ~= '' then redis.call('HSET', t, 'phone', phone) end
redis.call('EXPIRE', t, TICKET_TTL)
redis.call('ZADD', P .. 'q:' .. service .. ':' .. cls, base, tid)

local b = boosts()
local a = ahead(service, tid, cls, b, day_start)
-- A ticket that starts within the notice distance gets no separate "near" notice.
if phone ~= '' and a <= rule('notify_ahead', 0) then redis.call('HSET', t, 'near', '1') end
local seq, eid = emit('issue', tid, '', service, {'class', cls, 'channel', channel})
return {tid, number, a, seq, eid}
