-- Shared by every script of the Redis frontier. Every key a script touches carries
-- the hash tag of one bucket (`<ns>:{<bucket>}:`, the `prefix` argument), so a script
-- runs on one Redis Cluster slot. Times are the Redis server's clock, in Unix ms.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Makes `host` claimable at `at` at the earliest (never before its next allowed
-- start), unless it already waits for an earlier time or is leased.
local function wake(ready, prefix, host, at)
  local hk = prefix .. 'host:' .. host
  local next_ms = tonumber(redis.call('HGET', hk, 'next') or '0')
  if next_ms > at then at = next_ms end
  local current = redis.call('ZSCORE', ready, host)
  if current and (tonumber(current) <= at or redis.call('HEXISTS', hk, 'owner') == 1) then
    return
  end
  redis.call('ZADD', ready, at, host)
end

-- Queues a URL its host never saw: 1 when queued, 0 when seen before, -1 when the
-- host has used up its budget of URLs (`budget` 0: no budget). The caller wakes the
-- host (once for all the URLs it queued there).
local function enqueue(prefix, host, fp, url, entry, due, budget)
  local seen = prefix .. 'seen:' .. host
  if redis.call('SISMEMBER', seen, fp) == 1 then return 0 end
  local hk = prefix .. 'host:' .. host
  if budget > 0 and redis.call('HINCRBY', hk, 'found', 1) > budget then
    redis.call('HINCRBY', hk, 'found', -1)
    return -1
  end
  redis.call('SADD', seen, fp)
  redis.call('ZADD', prefix .. 'q:' .. host, due, url)
  redis.call('HSET', prefix .. 'e:' .. host, url, entry)
  return 1
end

-- Counts writes to the bucket, so that a scan of all buckets can tell that none
-- changed while it ran (see `idle.lua`).
local function touch(prefix)
  redis.call('INCR', prefix .. 'ops')
end
