-- Shared by every script of the Redis frontier. Every key a script touches carries
-- the hash tag of one bucket (`<ns>:{<bucket>}:`, the `prefix` argument), so a script
-- runs on one Redis Cluster slot. Times are the Redis server's clock, in Unix ms.

-- A found URL's score is its due time plus FOUND; a settled listing page queued again
-- for its revisit scores its due time alone, so a host's due revisits come first
-- (`store::Priority`). FOUND is `redis_frontier::FOUND` (a test compares them): 2^50
-- ms, beyond any due time, and exact in a double with a due time added. Scores
-- written before the classes existed read as revisits, the order they had.
local FOUND = 1125899906842624
local FOUND_ARG = '1125899906842624'

-- The URL `host`'s queue serves next and when it is due: its first revisit if that is
-- due by `now` or not later than its first found URL, else its first found URL; nil
-- for an empty queue.
local function head(prefix, host, now)
  local q = prefix .. 'q:' .. host
  local r = redis.call('ZRANGEBYSCORE', q, '-inf', '(' .. FOUND_ARG, 'WITHSCORES', 'LIMIT', 0, 1)
  local f = redis.call('ZRANGEBYSCORE', q, FOUND_ARG, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  local revisit_due = r[2] and tonumber(r[2])
  local found_due = f[2] and tonumber(f[2]) - FOUND
  if revisit_due and (revisit_due <= now or not found_due or revisit_due <= found_due) then
    return r[1], revisit_due
  end
  if found_due then return f[1], found_due end
  return nil, nil
end

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

-- Queues the URLs of one host that it never saw (`items`: {fingerprint, url, entry,
-- change} with change '1' for a URL whose discovery counts as a change of the page
-- that found it; the same URL twice counts once), due at `due` in the class `class`
-- adds to the score (FOUND, or 0 for what a revisit found), within the host's
-- budget of URLs (`budget` 0: none). Returns how many were queued, how many were over
-- the budget, whether a queued one counts as a change, and whether one that would
-- have counted was known already. The caller wakes the host. Works in chunks, with one call per command and
-- chunk, so that a sitemap's thousands of URLs cost a few calls, not thousands.
local function enqueue_host(prefix, host, items, due, budget, class)
  local seen = prefix .. 'seen:' .. host
  local hk = prefix .. 'host:' .. host
  local found = 0
  if budget > 0 then found = tonumber(redis.call('HGET', hk, 'found') or '0') end
  local queued, over, changed, known_change, in_batch = 0, 0, false, false, {}
  for start = 1, #items, 500 do
    local stop = math.min(start + 499, #items)
    local fps = {}
    for i = start, stop do fps[#fps + 1] = items[i][1] end
    local known = redis.call('SMISMEMBER', seen, unpack(fps))
    local new_fps, scores, entries = {}, {}, {}
    for k = 1, #known do
      local item = items[start + k - 1]
      if known[k] == 1 and item[4] == '1' then known_change = true end
      if known[k] == 0 and not in_batch[item[1]] then
        in_batch[item[1]] = true
        if budget > 0 and found + queued >= budget then
          over = over + 1
        else
          queued = queued + 1
          if item[4] == '1' then changed = true end
          new_fps[#new_fps + 1] = item[1]
          scores[#scores + 1] = due + class
          scores[#scores + 1] = item[2]
          entries[#entries + 1] = item[2]
          entries[#entries + 1] = item[3]
        end
      end
    end
    if #new_fps > 0 then
      redis.call('SADD', seen, unpack(new_fps))
      redis.call('ZADD', prefix .. 'q:' .. host, unpack(scores))
      redis.call('HSET', prefix .. 'e:' .. host, unpack(entries))
    end
  end
  if budget > 0 and queued > 0 then redis.call('HINCRBY', hk, 'found', queued) end
  return queued, over, changed, known_change
end

-- Groups (host, fingerprint, url, entry, change) tuples of ARGV from `first` on,
-- `count` of them, by host; returns the groups and the hosts in order of first
-- appearance.
local function by_host(first, count)
  local groups, order = {}, {}
  for k = 0, count - 1 do
    local i = first + 5 * k
    local host = ARGV[i]
    if not groups[host] then
      groups[host] = {}
      order[#order + 1] = host
    end
    local g = groups[host]
    g[#g + 1] = {ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]}
  end
  return groups, order
end

-- Counts writes to the bucket, so that a scan of all buckets can tell that none
-- changed while it ran (see `idle.lua`).
local function touch(prefix)
  redis.call('INCR', prefix .. 'ops')
end

-- Puts back in `host`'s queue, due now among the URLs found, the URLs whose settling
-- ran out: their worker
-- handed the host on when the answer came (`hand_on.lua`), then died or stalled
-- before committing the page. Returns the earliest deadline of those still settling,
-- or nil when none is.
local function requeue_unsettled(prefix, host, now)
  local key = prefix .. 'settling:' .. host
  if redis.call('HLEN', key) == 0 then return nil end
  local flat = redis.call('HGETALL', key)
  local earliest = nil
  for k = 1, #flat, 2 do
    local url = flat[k]
    local deadline = tonumber(string.match(flat[k + 1], ' (%d+)$'))
    if deadline <= now then
      redis.call('HDEL', key, url)
      redis.call('ZADD', prefix .. 'q:' .. host, now + FOUND, url)
    elseif earliest == nil or deadline < earliest then
      earliest = deadline
    end
  end
  return earliest
end

-- Sets when `host` may next be claimed, unless a lease holds it (the lease's score
-- stands) or it is parked: its next allowed start or its first URL's due time, whichever is later,
-- but no later than the earliest deadline of a page still settling, so that a page
-- its worker abandoned is queued again in time. A host with neither leaves the ready
-- set.
local function reschedule(ready, prefix, host, now)
  local hk = prefix .. 'host:' .. host
  if redis.call('HEXISTS', hk, 'owner') == 1 then return end
  if redis.call('SISMEMBER', prefix .. 'parked', host) == 1 then return end
  local settling = requeue_unsettled(prefix, host, now)
  local _, due = head(prefix, host, now)
  local at = nil
  if due then
    at = math.max(tonumber(redis.call('HGET', hk, 'next') or '0'), due)
  end
  if settling and (at == nil or settling < at) then at = settling end
  if at then
    redis.call('ZADD', ready, at, host)
  else
    redis.call('ZREM', ready, host)
  end
end
