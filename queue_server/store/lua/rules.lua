-- Replace the live rules (boosts, limits) and window offsets. Own KEYS: the meta hash, then the
-- services key of each window named in ARGV. Own ARGV: mode ('manager' | 'seed'), version read
-- (manager) or the hall file's fingerprint (seed), reason, rules JSON {name: number}, offsets
-- JSON {window: {service: ms}} (windows not named keep theirs), handling-time priors JSON
-- {service: ms} (seed), then the window ids in the order of their keys.
-- A manager's change is refused if the rules changed since they read them. Seeding loads the
-- file's rules unless Redis holds them for this same file: live changes survive restarts, a
-- changed file wins. Handling-time priors never overwrite learned times.
local KM = KEYS[XK]
local mode, tag, reason = ARGV[XA], ARGV[XA + 1], ARGV[XA + 2]
local rules, offsets = cjson.decode(ARGV[XA + 3]), cjson.decode(ARGV[XA + 4])
local version = tonumber(redis.call('HGET', K.rules, 'version') or '0')
if mode == 'seed' then
  for service, ms in pairs(cjson.decode(ARGV[XA + 5])) do
    redis.call('HSETNX', K.handle, service, ms)
  end
  if redis.call('HGET', KM, 'config') == tag then return {0, OUT} end
elseif version ~= tonumber(tag) then
  return fail('rules_conflict', 'the rules changed meanwhile; read them again')
end
redis.call('DEL', K.rules)
for name, value in pairs(rules) do redis.call('HSET', K.rules, name, value) end
redis.call('HSET', K.rules, 'version', version + 1)
for i = XA + 6, #ARGV do
  local offs = offsets[ARGV[i]]
  if offs then
    local KWS = KEYS[XK + 1 + (i - XA - 6)]
    redis.call('DEL', KWS)
    for service, off in pairs(offs) do redis.call('HSET', KWS, service, off) end
  end
end
if mode == 'seed' then redis.call('HSET', KM, 'config', tag) end
local seq = emit(mode == 'seed' and 'seed' or 'rules', '', '', '', {'reason', reason})
return answer({seq})
