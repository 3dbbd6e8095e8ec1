-- Ends a lease: commits what the request produced (URL state, links, records, the
-- robots.txt copy) and the host's next allowed start, in one step. A lease whose
-- epoch is not the host's current one (it expired and the host was claimed again, or
-- it was completed already) commits nothing.
-- With the settle flag (ARGV 22), it commits instead the page of a lease that was
-- handed on when its answer came (`hand_on.lua`): the URL must still be settling
-- under the lease's epoch (else it ran out and was queued again: nothing is
-- committed), and the host's clock, set by the hand-on, is left alone.
-- KEYS[1]: the bucket's ready set; KEYS[2]: the bucket's stream of links to hosts of
-- other buckets.
-- ARGV: 1 prefix, 2 host, 3 epoch, 4 worker, 5 url ('' when no URL was settled),
--   6 state ('' none), 7 '1' to remove the URL from the queue, '0' to keep it queued,
--   8 what a kept URL's score adds to now (its due time, plus FOUND: it waits among the
--   URLs found), 9 ms after now of the host's next allowed
--   start, 10 the host's delay in ms, 11 its pace ("backoff_ms adaptive_ms"), 12 content
--   fingerprint ('' none), 13 robots.txt copy ('' none), 14 ms after now that the copy
--   must be fetched again ('' unchanged), 15 URL budget per host (0: none), 16 '1' to
--   park the host (it keeps its queue but is not claimed until a worker starts),
--   17 the settled URL's queue entry for its revisit ('' no revisit), 18 and 19 what
--   the revisit's score adds to now (its due time, plus FOUND unless it is a listing
--   page) and its schedule ('' none) if the page changed (a new
--   link that is not a listing page was queued), 20 and 21 the same if it did not,
--   22 '1' to settle a handed-on page, 23 what a new link's score adds to its due
--   time (FOUND, or 0 for the links a listing page's revisit found), then: output
--   count, (field, value) per output (field 'r': a record, 'w': a page exchange for
--   the WARC file); local link count, (host, fingerprint, url, entry,
--   change) per link; remote link count, (fingerprint, entry) per link; denied count,
--   (fingerprint, url, state) per denied link of this host; then the page's next page
--   on this host (url, fingerprint, entry; '' '' '' none), queued (again, when it is
--   settled) if every story link of this host was new and none went over the budget.
-- Returns: {accepted, over_budget, denied, changed, now, when the host may next be
-- claimed (-1: not before more work comes; 0: leased), host, new, host, new, ...}.
local ready, links = KEYS[1], KEYS[2]
local prefix, host, epoch, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local hk = prefix .. 'host:' .. host
local url, state = ARGV[5], ARGV[6]
local settles = ARGV[22] == '1'
if settles then
  local key = prefix .. 'settling:' .. host
  local held = redis.call('HGET', key, url)
  if not held or string.match(held, '^(%d+) ') ~= epoch then return {'0'} end
  redis.call('HDEL', key, url)
elseif redis.call('HGET', hk, 'epoch') ~= epoch then
  return {'0'}
end
local now = now_ms()
if url ~= '' then
  if state ~= '' then redis.call('HSET', prefix .. 'state:' .. host, url, state) end
  if ARGV[7] == '1' then
    redis.call('ZREM', prefix .. 'q:' .. host, url)
    redis.call('HDEL', prefix .. 'e:' .. host, url)
  else
    redis.call('ZADD', prefix .. 'q:' .. host, now + tonumber(ARGV[8]), url)
  end
end
if ARGV[12] ~= '' then redis.call('HSETNX', prefix .. 'content', ARGV[12], url) end
if ARGV[13] ~= '' then redis.call('HSET', hk, 'robots', ARGV[13]) end
if ARGV[14] ~= '' then redis.call('HSET', hk, 'robots_until', now + tonumber(ARGV[14])) end
if not settles then
  redis.call('HSET', hk, 'next', now + tonumber(ARGV[9]), 'delay', ARGV[10], 'pace', ARGV[11])
  redis.call('HDEL', hk, 'owner', 'deadline')
  -- This epoch can never commit again.
  redis.call('HINCRBY', hk, 'epoch', 1)
end
local budget = tonumber(ARGV[15])
local link_class = tonumber(ARGV[23])
local i = 24
local n = tonumber(ARGV[i]); i = i + 1
for j = 0, n - 1 do
  redis.call('XADD', prefix .. 'rec:' .. worker, '*', ARGV[i + 2 * j], ARGV[i + 2 * j + 1])
end
i = i + 2 * n
n = tonumber(ARGV[i]); i = i + 1
local groups, order = by_host(i, n)
i = i + 5 * n
local over, changed, stale, new_by_host = 0, false, false, {}
for _, target in ipairs(order) do
  local queued, dropped, change, known_change = enqueue_host(prefix, target, groups[target], now, budget, link_class)
  over = over + dropped
  changed = changed or change
  stale = stale or known_change
  new_by_host[target] = queued
  if queued > 0 and target ~= host then wake(ready, prefix, target, now) end
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('XADD', links, '*', 'f', ARGV[i], 'e', ARGV[i + 1])
  i = i + 2
end
local denied = 0
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  if redis.call('SADD', prefix .. 'seen:' .. host, ARGV[i]) == 1 then
    redis.call('HSET', prefix .. 'state:' .. host, ARGV[i + 1], ARGV[i + 2])
    denied = denied + 1
  end
  i = i + 3
end
local next_url, next_fp, next_entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
if next_url ~= '' and changed and not stale and over == 0 then
  local q = prefix .. 'q:' .. host
  local fresh = redis.call('SADD', prefix .. 'seen:' .. host, next_fp) == 1
  -- Found before: queued again unless it waits, is leased or is settling.
  if fresh or (not redis.call('ZSCORE', q, next_url)
      and redis.call('HEXISTS', prefix .. 'settling:' .. host, next_url) == 0) then
    redis.call('ZADD', q, now, next_url)
    redis.call('HSET', prefix .. 'e:' .. host, next_url, next_entry)
  end
end
if ARGV[17] ~= '' then
  local after, schedule = ARGV[20], ARGV[21]
  if changed then after, schedule = ARGV[18], ARGV[19] end
  redis.call('ZADD', prefix .. 'q:' .. host, now + tonumber(after), url)
  redis.call('HSET', prefix .. 'e:' .. host, url, ARGV[17])
  if schedule ~= '' then redis.call('HSET', prefix .. 'revisit:' .. host, url, schedule) end
end
if ARGV[16] == '1' then
  redis.call('ZREM', ready, host)
  redis.call('SADD', prefix .. 'parked', host)
else
  reschedule(ready, prefix, host, now)
end
touch(prefix)
local next_claim = redis.call('ZSCORE', ready, host) or '-1'
if redis.call('HEXISTS', hk, 'owner') == 1 then next_claim = '0' end
local out = {'1', tostring(over), tostring(denied), changed and '1' or '0', tostring(now), next_claim}
for _, h in ipairs(order) do
  if new_by_host[h] > 0 then
    table.insert(out, h)
    table.insert(out, tostring(new_by_host[h]))
  end
end
return out
