-- Confirm a moment reserved ahead, shortly before it comes. It stands
-- while its entry is still in the logs (a Redis that lost its state has
-- lost it) and no pause began since that covers it; otherwise drop it and
-- return {0, 0}: reserve again. If it no longer fits among the calls
-- reserved before it (one of them left or was answered late, and was
-- extended to count longer), it moves to the earliest later moment at
-- which it fits among them, keeping its place in line: the calls reserved
-- after it are confirmed later, and move in turn if need be. Returns
-- {1, wait}, the moment being wait from now.
-- KEYS as for reserve.lua; ARGV id, users, hold, call limit, user limit,
-- run_id of the Redis that reserved it (another Redis, restarted or taking
-- over, numbers its calls anew: the moment does not stand).
if redis.call('HGET', KEYS[3], 'run_id') ~= ARGV[6] then return {0, 0} end
local now = clock()
local id, n, hold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local function drop()
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1] .. ':' .. ARGV[2])
  return {0, 0}
end
if not score then return drop() end
local at = tonumber(score) - hold
local pause = tonumber(redis.call('HGET', KEYS[3], 'pause') or '0')
if pause > at then return drop() end

-- the earliest moment from 'at' at which this call fits among the calls
-- reserved before it, in one log
local function fits(key, weighted, limit)
  local e = redis.call('ZRANGEBYSCORE', key, '(' .. int(at), '+inf', 'WITHSCORES')
  local ends, sizes, total = {}, {}, 0
  for i = 1, #e, 2 do
    local other, size = string.match(e[i], '^(%d+):?(%d*)$')
    if tonumber(other) < id then
      local k = 1
      if weighted then k = tonumber(size) end
      ends[#ends + 1] = tonumber(e[i + 1])
      sizes[#sizes + 1] = k
      total = total + k
    end
  end
  local k = 1
  if weighted then k = n end
  local need = total + k - limit
  if need <= 0 then return at end
  for i = 1, #sizes do
    need = need - sizes[i]
    if need <= 0 then return ends[i] end
  end
  return at
end
local moved = math.max(fits(KEYS[1], false, tonumber(ARGV[4])), fits(KEYS[2], true, tonumber(ARGV[5])))
if moved > at then
  local ends = int(moved + hold)
  redis.call('ZADD', KEYS[1], ends, ARGV[1])
  redis.call('ZADD', KEYS[2], ends, ARGV[1] .. ':' .. ARGV[2])
  local last = tonumber(redis.call('HGET', KEYS[3], 'last') or '0')
  if moved > last then redis.call('HSET', KEYS[3], 'last', int(moved)) end
  keep(KEYS[1], now)
  keep(KEYS[2], now)
end
return {1, math.max(moved - now, 0)}
