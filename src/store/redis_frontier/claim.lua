-- Claims up to `max` hosts of this bucket whose next allowed start comes within
-- `ahead_ms` and that no live lease holds, each with its next URL (`head`) due by then (or with
-- no URL when its robots.txt must be fetched first), and the time its request may
-- start: the host's next allowed start, or the URL's due time if later. Claiming a
-- little ahead takes the claim's round trip out of the host's gap; the worker waits
-- for the start.
-- A claimed host is scored at `deadline + delay` in the ready set: if the lease
-- expires, its request counts as one that ended at the deadline.
-- KEYS[1]: the bucket's ready set.
-- ARGV: prefix, worker, max, lease_ms, default_delay_ms, ahead_ms.
-- Returns: {now, earliest, then per claim: host, epoch, deadline, start, url, entry,
-- state, robots, revisit schedule, pace}; `earliest` is when the next host not
-- claimed here becomes claimable (-1: the bucket has no other work).
local ready, prefix, worker = KEYS[1], ARGV[1], ARGV[2]
local max, lease, default_delay = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local horizon = now + tonumber(ARGV[6])
local out = {tostring(now), '0'}
local claimed = 0
local candidates = redis.call('ZRANGEBYSCORE', ready, '-inf', horizon, 'LIMIT', 0, max * 2 + 8)
for _, host in ipairs(candidates) do
  if claimed >= max then break end
  local hk = prefix .. 'host:' .. host
  local clock = redis.call('HMGET', hk, 'deadline', 'next', 'delay', 'robots_until')
  local held, next_ms = tonumber(clock[1] or '0'), tonumber(clock[2] or '0')
  local delay = tonumber(clock[3] or default_delay)
  if held > now then
    -- A live lease (its claim scores the host past its deadline, so this is not
    -- expected): it stands.
    redis.call('ZADD', ready, held + delay, host)
  else
    if held > 0 then
      -- A lease whose time has come (its claim scored the host past the deadline)
      -- is over: its request counts as one that ended at the deadline.
      next_ms = math.max(next_ms, held + delay)
      redis.call('HSET', hk, 'next', next_ms)
      redis.call('HDEL', hk, 'owner', 'deadline')
    end
    requeue_unsettled(prefix, host, now)
    -- The URL due when the request may start first: a revisit due by then goes
    -- before the host's found URLs.
    local first, due = head(prefix, host, math.max(now, next_ms))
    local need_robots = tonumber(clock[4] or '0') <= now
    local start = next_ms
    if first and not need_robots then start = math.max(start, due) end
    if first and start <= horizon then
      local epoch = redis.call('HINCRBY', hk, 'epoch', 1)
      local deadline = now + lease
      redis.call('HSET', hk, 'owner', worker, 'deadline', deadline)
      redis.call('ZADD', ready, deadline + delay, host)
      claimed = claimed + 1
      local pace = redis.call('HGET', hk, 'pace') or ''
      table.insert(out, host)
      table.insert(out, tostring(epoch))
      table.insert(out, tostring(deadline))
      table.insert(out, tostring(start))
      if need_robots then
        for _ = 1, 5 do table.insert(out, '') end
      else
        local url = first
        table.insert(out, url)
        table.insert(out, redis.call('HGET', prefix .. 'e:' .. host, url) or '')
        table.insert(out, redis.call('HGET', prefix .. 'state:' .. host, url) or '')
        table.insert(out, redis.call('HGET', hk, 'robots') or '')
        table.insert(out, redis.call('HGET', prefix .. 'revisit:' .. host, url) or '')
      end
      table.insert(out, pace)
    else
      reschedule(ready, prefix, host, now)
    end
  end
end
-- Hosts claimed here are scored past their lease's deadline, so the first one
-- left is the earliest other.
local earliest = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
if #earliest > 0 then out[2] = earliest[2] else out[2] = '-1' end
if claimed > 0 then touch(prefix) end
return out
