-- Confirm a moment reserved ahead, shortly before it comes. It stands
-- while its entry is still in the logs (a Redis that lost its state has
-- lost it), no pause began since that covers it, and it still fits among
-- the calls reserved before it (one of them may have left late and been
-- extended); then return {1, wait}, the moment being wait from now.
-- Otherwise drop it and return {0, 0}: reserve again.
-- KEYS as for reserve.lua; ARGV id, users, hold, call limit, user limit.
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local id, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local function drop()
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1] .. ':' .. ARGV[2])
  return {0, 0}
end
if not score then return drop() end
local at = tonumber(score) - tonumber(ARGV[3])
local pause = tonumber(redis.call('HGET', KEYS[3], 'pause') or '0')
if pause > at then return drop() end

-- what the calls reserved before this one count at its moment
local function counted(key, weighted)
  local e = redis.call('ZRANGEBYSCORE', key, '(' .. string.format('%.0f', at), '+inf')
  local total = 0
  for i = 1, #e do
    local other, size = string.match(e[i], '^(%d+):?(%d*)$')
    if tonumber(other) < id then
      if weighted then total = total + tonumber(size) else total = total + 1 end
    end
  end
  return total
end
if counted(KEYS[1], false) + 1 > tonumber(ARGV[4]) or counted(KEYS[2], true) + n > tonumber(ARGV[5]) then
  return drop()
end
return {1, math.max(at - now, 0)}
