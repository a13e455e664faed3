-- Replace the live rules (boosts, limits) and window offsets. ARGV: prefix, now, reason,
-- rules JSON {name: number}, offsets JSON {window: {service: ms}} (windows not named keep theirs)
local rules, offsets = cjson.decode(ARGV[4]), cjson.decode(ARGV[5])
if next(rules) ~= nil then
  redis.call('DEL', P .. 'rules')
  for name, value in pairs(rules) do redis.call('HSET', P .. 'rules', name, value) end
end
for window, offs in pairs(offsets) do
  redis.call('DEL', P .. 'wsvc:' .. window)
  for service, off in pairs(offs) do redis.call('HSET', P .. 'wsvc:' .. window, service, off) end
end
return {emit('rules', '', '', '', {'reason', ARGV[3]})}
