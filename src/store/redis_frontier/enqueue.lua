-- Queues URLs of this bucket's hosts that were never seen.
-- KEYS[1]: the bucket's ready set.
-- ARGV: prefix, budget, then (host, fingerprint, url, entry, change) per URL.
-- Returns: {new, over_budget, host, count, host, count, ...} (new URLs by host).
local ready, prefix, budget = KEYS[1], ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local groups, order = by_host(3, (#ARGV - 2) / 5)
local new, over, out = 0, 0, {}
for _, host in ipairs(order) do
  local queued, dropped = enqueue_host(prefix, host, groups[host], now, budget, FOUND)
  new = new + queued
  over = over + dropped
  if queued > 0 then
    wake(ready, prefix, host, now)
    out[#out + 1] = host
    out[#out + 1] = tostring(queued)
  end
end
touch(prefix)
table.insert(out, 1, tostring(over))
table.insert(out, 1, tostring(new))
return out
