-- A call leaves later than its moment: it counts for ARGV[3] microseconds
-- from now (Redis's clock), if that is longer than it was to count.
-- KEYS as for reserve.lua; ARGV id, users, duration, run_id of the Redis
-- that reserved it.

-- A call reserved by another Redis (this one restarted, or took over) is
-- not this one's to change: its numbers start anew.
if redis.call('HGET', KEYS[3], 'run_id') ~= ARGV[4] then return 0 end
local now = clock()
local ends = now + tonumber(ARGV[3])
local members = {{KEYS[1], ARGV[1]}, {KEYS[2], ARGV[1] .. ':' .. ARGV[2]}}
for _, m in ipairs(members) do
  local old = tonumber(redis.call('ZSCORE', m[1], m[2]) or '0')
  if ends > old then
    redis.call('ZADD', m[1], int(ends), m[2])
    keep(m[1], now)
  end
end
return 1
