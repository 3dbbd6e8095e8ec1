-- Hands a host on as soon as its server has answered: the lease's page is still to
-- be processed and committed, but the host's next request may start after its gap,
-- whoever makes it. The lease ends here (its epoch can no longer claim or complete
-- the host), and its URL leaves the queue for the host's settling set, where it
-- waits for its commit (`complete.lua` with the settle flag and the lease's epoch).
-- If the commit has not come `settle_ms` from now, the next look at the host queues
-- the URL again.
-- KEYS[1]: the bucket's ready set.
-- ARGV: prefix, host, epoch, url, gap_ms (from now to the host's next allowed start),
--   delay_ms, pace, settle_ms.
-- Returns {1, now, when the host may next be claimed (-1: not before more work comes)},
-- or {0} when the lease had been lost (nothing changed).
local ready, prefix, host, epoch, url = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local hk = prefix .. 'host:' .. host
if redis.call('HGET', hk, 'epoch') ~= epoch then return {0} end
local now = now_ms()
redis.call('HSET', hk, 'next', now + tonumber(ARGV[5]), 'delay', ARGV[6], 'pace', ARGV[7])
redis.call('HDEL', hk, 'owner', 'deadline')
redis.call('HINCRBY', hk, 'epoch', 1)
redis.call('ZREM', prefix .. 'q:' .. host, url)
redis.call('HSET', prefix .. 'settling:' .. host, url, epoch .. ' ' .. (now + tonumber(ARGV[8])))
reschedule(ready, prefix, host, now)
touch(prefix)
return {1, now, tonumber(redis.call('ZSCORE', ready, host) or '-1')}
