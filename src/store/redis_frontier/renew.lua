-- Extends the settling deadline of pages their worker is still processing: a page
-- handed on and not yet committed is queued again when its worker stops renewing it
-- (it died or stalled), not because its processing took long on a busy machine.
-- ARGV: prefix, settle_ms, then host, url, epoch per page.
-- Returns how many were renewed (one that ran out already is not: it was queued again).
local prefix = ARGV[1]
local deadline = now_ms() + tonumber(ARGV[2])
local renewed = 0
for i = 3, #ARGV, 3 do
  local key = prefix .. 'settling:' .. ARGV[i]
  local held = redis.call('HGET', key, ARGV[i + 1])
  if held and string.match(held, '^(%d+) ') == ARGV[i + 2] then
    redis.call('HSET', key, ARGV[i + 1], ARGV[i + 2] .. ' ' .. deadline)
    renewed = renewed + 1
  end
end
return renewed
