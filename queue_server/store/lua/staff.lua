-- Sign a staff member in at a window, or out: the window's `staff` field, which every event of
-- the window then carries. One staff member is signed in at one window at a time: the hall's
-- staff -> window map refuses a second sign-in until the first signs out. Own KEYS: the window,
-- that map. Own ARGV: window, 'signin' | 'signout', staff id.
local KW, KSA = KEYS[XK], KEYS[XK + 1]
local window, action, staff = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2]
local before = redis.call('HGET', KW, 'staff') or ''
if action == 'signin' then
  local at = redis.call('HGET', KSA, staff)
  if at and at ~= window then
    return fail('already_signed_in', 'staff ' .. staff .. ' is signed in at window ' .. at .. '; sign out there first')
  end
  if before ~= '' and before ~= staff and redis.call('HGET', KSA, before) == window then
    redis.call('HDEL', KSA, before)  -- replaced here: free to sign in elsewhere
  end
  redis.call('HSET', KW, 'staff', staff, 'staff_at', NOW)
  redis.call('HSET', KSA, staff, window)
  STAFF = staff
  local extra = nil
  if before ~= '' and before ~= staff then extra = {'replaced', before} end
  local seq = emit('signin', '', window, '', extra)
  return answer({seq, before})
end
if before == '' then return fail('not_signed_in', 'nobody is signed in at this window') end
redis.call('HDEL', KW, 'staff', 'staff_at')
if redis.call('HGET', KSA, before) == window then redis.call('HDEL', KSA, before) end
STAFF = before
local seq = emit('signout', '', window, '')
return answer({seq, before})
