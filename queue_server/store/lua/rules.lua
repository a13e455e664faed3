-- Replace the live rules (boosts, limits) and window offsets, if nobody changed them since the
-- caller read version ARGV[6] (two managers at once must not build on a stale read).
-- ARGV: prefix, now, reason, rules JSON {name: number}, offsets JSON {window: {service: ms}}
-- (windows not named keep theirs), version read
local rules, offsets = cjson.decode(ARGV[4]), cjson.decode(ARGV[5])
local version = tonumber(redis.call('HGET', P .. 'rules', 'version') or '0')
if version ~= tonumber(ARGV[6]) then
  return fail('rules_conflict', 'the rules changed meanwhile; read them again')
end
redis.call('DEL', P .. 'rules')
for name, value in pairs(rules) do redis.call('HSET', P .. 'rules', name, value) end
redis.call('HSET', P .. 'rules', 'version', version + 1)
for window, offs in pairs(offsets) do
  redis.call('DEL', P .. 'wsvc:' .. window)
  for service, off in pairs(offs) do redis.call('HSET', P .. 'wsvc:' .. window, service, off) end
end
return {emit('rules', '', '', '', {'reason', ARGV[3]})}
