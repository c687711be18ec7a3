-- Prepended to every script of this package (see redislimit.go).
-- A script that writes after reading TIME needs its effects replicated,
-- not the script, on a Redis before 5.0.
if redis.replicate_commands then pcall(redis.replicate_commands) end

-- clock is Redis's own time, in microseconds.
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function int(x) return string.format('%.0f', x) end

-- keep expires a log once its last entry has stopped counting, and not
-- before: a TTL from one entry would drop the others with it.
local function keep(key, now)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIRE', key, math.ceil((tonumber(top[2]) - now) / 1000) + 1000) end
end

