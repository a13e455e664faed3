-- A ticket's record and, while it is queued today, how many tickets are ahead of it.
-- Own ARGV: ticket id. (KEYS[8] is the ticket's own day; the queues are today's.)
local tid = ARGV[XA]
local t = tload(tid)
if not t then return {} end
local a = -1
if (t.state == 'waiting' or t.state == 'transferred') and today(tid) then
  -- transferred to a window: at the front of that window's own queue
  a = t.to_window and 0 or ahead(t.service, tid, tonumber(t.base), t.class, boosts())
end
return {cjson.encode(t), a}
