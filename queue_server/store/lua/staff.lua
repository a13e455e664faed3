-- Sign a staff member in at a window, or out: the window's `staff` field, which every event of
-- the window then carries. Own KEYS: the window. Own ARGV: window, 'signin' | 'signout', staff id.
local KW = KEYS[XK]
local window, action, staff = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2]
local before = redis.call('HGET', KW, 'staff') or ''
if action == 'signin' then
  redis.call('HSET', KW, 'staff', staff, 'staff_at', NOW)
  STAFF = staff
  local extra = nil
  if before ~= '' and before ~= staff then extra = {'replaced', before} end
  local seq = emit('signin', '', window, '', extra)
  return answer({seq, before})
end
if before == '' then return fail('not_signed_in', 'nobody is signed in at this window') end
redis.call('HDEL', KW, 'staff', 'staff_at')
STAFF = before
local seq = emit('signout', '', window, '')
return answer({seq, before})
