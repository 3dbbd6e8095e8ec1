-- What is left in a bucket: hosts with queued URLs or a lease (the ready set), links
-- waiting to be routed to other buckets, and the bucket's write count.
-- KEYS[1]: the bucket's ready set; KEYS[2]: its link stream.
-- ARGV: prefix. Returns: {ready hosts, links waiting, writes}.
return {
  redis.call('ZCARD', KEYS[1]),
  redis.call('XLEN', KEYS[2]),
  tonumber(redis.call('GET', ARGV[1] .. 'ops') or '0'),
}
