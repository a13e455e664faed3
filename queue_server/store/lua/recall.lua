-- Call the window's current ticket again; past the recall limit it is a no-show.
-- Own KEYS: the window. Own ARGV: window.
local KW = KEYS[XK]
local window = ARGV[XA]
STAFF = redis.call('HGET', KW, 'staff') or ''
local cur, t, err = current_in(KW, {called = true})
if err then return err end
local recalls = (t.recalls or 0) + 1
if recalls > rule('recall_limit', 2) then
  local seq = miss(cur, t, KW, window, 'no_show')
  return answer({'missed', cur, seq, 0, cjson.encode(t)})
end
t.recalls = recalls
tsave(cur, t)
local callseq = redis.call('INCR', K.callseq)
local seq, eid = emit('recall', cur, window, t.service, {'callseq', callseq, 'recalls', recalls})
announce(cur, t, window, 'recall', eid, callseq)
return answer({'recalled', cur, seq, callseq, cjson.encode(t)})
