-- Makes the hosts parked by an earlier run (robots.txt unavailable) claimable again.
-- KEYS[1]: the bucket's ready set. ARGV: prefix. Returns how many.
local ready, prefix = KEYS[1], ARGV[1]
local hosts = redis.call('SMEMBERS', prefix .. 'parked')
local now = now_ms()
for _, host in ipairs(hosts) do
  redis.call('HSET', prefix .. 'host:' .. host, 'robots_until', 0)
  wake(ready, prefix, host, now)
end
redis.call('DEL', prefix .. 'parked')
if #hosts > 0 then touch(prefix) end
return #hosts
