-- Hold back every call for ARGV[1] microseconds from now (Redis's clock):
-- no moment is reserved, nor a moment reserved ahead confirmed, before.
-- KEYS as for reserve.lua.
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local p = tonumber(redis.call('HGET', KEYS[3], 'pause') or '0')
if until_ > p then
  redis.call('HSET', KEYS[3], 'pause', string.format('%.0f', until_))
end
return 1
