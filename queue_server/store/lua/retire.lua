-- Remove a drained outbox (no common prelude): only if both streams are empty and the caller
-- holds its lease, so an entry written meanwhile is never lost. KEYS: calls stream, notify
-- stream, state, lease, the hall's relay set. ARGV: relay id, holder. Returns 1 if removed.
if redis.call('XLEN', KEYS[1]) > 0 or redis.call('XLEN', KEYS[2]) > 0 then return 0 end
if redis.call('GET', KEYS[4]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('SREM', KEYS[5], ARGV[1])
return 1
