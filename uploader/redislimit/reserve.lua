-- Reserve the earliest moment at which one more call fits the shared logs,
-- after every moment reserved before it was asked for (first come, first
-- served). Times are microseconds on Redis's own clock (TIME).
--
-- KEYS[1] log of calls (sorted set: member = id, score = when it stops counting)
-- KEYS[2] log of users (member = id:users, score as above)
-- KEYS[3] state (hash: run_id, pause, last, seq)
-- ARGV    users, call limit, user limit, hold, warm-up, run_id
-- Returns {wait, id}: the moment is wait from now; its entries are named id.
local now = clock()
local n = tonumber(ARGV[1])
local climit, ulimit = tonumber(ARGV[2]), tonumber(ARGV[3])
local hold, warmup = tonumber(ARGV[4]), tonumber(ARGV[5])


-- A Redis that is not the one that kept the state (new, restarted, or a
-- replica promoted: the caller read its run_id when it connected) cannot
-- know every moment the other gave out: wait until none of them counts.
if redis.call('HGET', KEYS[3], 'run_id') ~= ARGV[6] then
  local p = tonumber(redis.call('HGET', KEYS[3], 'pause') or '0')
  redis.call('HSET', KEYS[3], 'run_id', ARGV[6], 'pause', int(math.max(p, now + warmup)))
end
local st = redis.call('HMGET', KEYS[3], 'pause', 'last')
-- First come, first served: no earlier than the latest moment reserved.
local at = math.max(now, tonumber(st[1] or '0'), tonumber(st[2] or '0'))

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', int(now))

-- free is the earliest moment from 'from' at which k more fit a log: every
-- entry scored after a moment counts at it, including those reserved for
-- later moments.
local function free(key, k, limit, from, weighted)
  local e = redis.call('ZRANGEBYSCORE', key, '(' .. int(from), '+inf', 'WITHSCORES')
  local sizes, total = {}, 0
  for i = 1, #e, 2 do
    local size = 1
    if weighted then size = tonumber(string.match(e[i], ':(%d+)$')) end
    sizes[#sizes + 1] = size
    total = total + size
  end
  local need = total + k - limit
  if need <= 0 then return from end
  for i = 1, #sizes do
    need = need - sizes[i]
    if need <= 0 then return tonumber(e[2 * i]) end
  end
  return from -- k alone is over the limit: refused by the caller before
end

at = math.max(free(KEYS[1], 1, climit, at, false), free(KEYS[2], n, ulimit, at, true))

local id = redis.call('HINCRBY', KEYS[3], 'seq', 1)
local ends = int(at + hold)
redis.call('ZADD', KEYS[1], ends, id)
redis.call('ZADD', KEYS[2], ends, id .. ':' .. n)
redis.call('HSET', KEYS[3], 'last', int(at))
keep(KEYS[1], now)
keep(KEYS[2], now)
return {at - now, id}
