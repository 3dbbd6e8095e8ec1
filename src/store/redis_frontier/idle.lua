-- What is left in a bucket: hosts with work now or soon (a URL due, a lease, a gap
-- being waited out, a page settling), links waiting to be routed to other buckets,
-- the bucket's write count, and, when no host has work soon, the URLs queued for
-- later (retries not yet due, in a one-shot crawl).
-- Hosts are read earliest first and the count stops at the first with work soon:
-- the answer "not done" costs one host.
-- KEYS[1]: the bucket's ready set; KEYS[2]: its link stream.
-- ARGV: prefix. Returns: {hosts with work soon (0 or 1), links waiting, writes, URLs
-- due later, hosts in the ready set}.
local prefix = ARGV[1]
local now = now_ms()
local busy, later = 0, 0
local ranked = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #ranked, 2 do
  local host, at = ranked[i], tonumber(ranked[i + 1])
  local _, due = head(prefix, host, now)
  local waits_for_due = at > now and due ~= nil and due > now
    and redis.call('HEXISTS', prefix .. 'host:' .. host, 'owner') == 0
    and redis.call('HLEN', prefix .. 'settling:' .. host) == 0
  if not waits_for_due then
    busy = 1
    later = 0
    break
  end
  later = later + redis.call('ZCARD', prefix .. 'q:' .. host)
end
return {
  busy,
  redis.call('XLEN', KEYS[2]),
  tonumber(redis.call('GET', prefix .. 'ops') or '0'),
  later,
  #ranked / 2,
}
