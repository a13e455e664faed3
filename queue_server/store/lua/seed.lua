-- Seed rules and offsets from the config file unless Redis holds them for this same file
-- (live changes by managers survive restarts; a changed file wins). ARGV: prefix, now,
-- fingerprint, rules JSON, offsets JSON, handling-time priors JSON {service: ms}
-- The config's average handling times are only a prior: learned ones are never overwritten.
for service, ms in pairs(cjson.decode(ARGV[6])) do
  redis.call('HSETNX', P .. 'handle', service, ms)
end
if redis.call('HGET', P .. 'meta', 'config') == ARGV[3] then return 0 end
local rules, offsets = cjson.decode(ARGV[4]), cjson.decode(ARGV[5])
local version = tonumber(redis.call('HGET', P .. 'rules', 'version') or '0')
redis.call('DEL', P .. 'rules')
for name, value in pairs(rules) do redis.call('HSET', P .. 'rules', name, value) end
redis.call('HSET', P .. 'rules', 'version', version + 1)
for window, offs in pairs(offsets) do
  redis.call('DEL', P .. 'wsvc:' .. window)
  for service, off in pairs(offs) do redis.call('HSET', P .. 'wsvc:' .. window, service, off) end
end
redis.call('HSET', P .. 'meta', 'config', ARGV[3])
emit('seed', '', '', '', {'config', ARGV[3]})
return 1
