-- Hold back every call for ARGV[1] microseconds from now (Redis's clock):
-- no moment is reserved, nor a moment reserved ahead confirmed, before.
-- KEYS as for reserve.lua.
local now = clock()
local until_ = now + tonumber(ARGV[1])
local p = tonumber(redis.call('HGET', KEYS[3], 'pause') or '0')
if until_ > p then
  redis.call('HSET', KEYS[3], 'pause', int(until_))
end
return 1
