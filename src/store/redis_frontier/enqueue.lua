-- Queues URLs of this bucket's hosts that were never seen.
-- KEYS[1]: the bucket's ready set.
-- ARGV: prefix, budget, then (host, fingerprint, url, entry) per URL.
-- Returns: {new, over_budget, host, count, host, count, ...} (new URLs by host).
local ready, prefix, budget = KEYS[1], ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local new, over, by_host, order = 0, 0, {}, {}
for i = 3, #ARGV, 4 do
  local host = ARGV[i]
  local r = enqueue(prefix, host, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], now, budget)
  if r == 1 then
    new = new + 1
    if not by_host[host] then by_host[host] = 0; table.insert(order, host) end
    by_host[host] = by_host[host] + 1
  elseif r == -1 then
    over = over + 1
  end
end
for _, host in ipairs(order) do wake(ready, prefix, host, now) end
touch(prefix)
local out = {tostring(new), tostring(over)}
for _, host in ipairs(order) do
  table.insert(out, host)
  table.insert(out, tostring(by_host[host]))
end
return out
