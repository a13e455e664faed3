-- The calling order of whole services, for the live status pages: one read per change for
-- every page watching a ticket of these services (a ticket's place is its index).
-- Own ARGV: service ids. Answers one list of ticket ids per service, first called first, in the
-- order of `ahead` (common.lua): effective time, then place.
local b = boosts()
local out = {}
for i = XA, #ARGV do
  local service = ARGV[i]
  local all = {}
  if Q[service] then
    for _, cls in ipairs(CLASSES) do
      local r = redis.call('ZRANGE', Q[service][cls], 0, -1, 'WITHSCORES')
      for j = 1, #r, 2 do
        local base = tonumber(r[j + 1])
        all[#all + 1] = {r[j], effective(base, cls, b), base}
      end
    end
    table.sort(all, function(x, y)
      if x[2] ~= y[2] then return x[2] < y[2] end
      return x[3] < y[3]
    end)
  end
  local ids = {}
  for j = 1, #all do ids[j] = all[j][1] end
  out[#out + 1] = ids
end
return out
