-- The calling order of whole services, for the live status pages: one read per change for
-- every page watching a ticket of these services (a ticket's place is its index).
-- Own ARGV: service ids. Answers one list of ticket ids per service, first called first, in the
-- order of `ahead` (common.lua): effective time, then place.
local b = boosts()
local out = {}
for i = XA, #ARGV do
  local service = ARGV[i]
  local ids = {}
  if Q[service] then
    for j, t in ipairs(front(service, nil, b)) do ids[j] = t[1] end
  end
  out[#out + 1] = ids
end
return out
