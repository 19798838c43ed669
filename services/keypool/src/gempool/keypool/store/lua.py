"""Lua scripts that make the Redis store's decisions atomic across replicas."""

# How every lease script starts: KEYS[1] the ring list, KEYS[4] the exhausted hash, ARGV[2] its
# field, KEYS[5] the rings' revision (the generation marker SYNC_RINGS writes). Returns early while
# the exhausted hint (every key cooling) still holds, or when the ring is empty: {-1, 0, 0} when the
# marker is missing too (Redis lost the rings: restarted, flushed), so noticing a lost state costs
# no round trip of its own. Leaves `now` (ms) and `n` (ring length) for the rest.
LEASE_START = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local hint = tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0')
if hint > now then return {0, hint - now, 1} end
local n = redis.call('LLEN', KEYS[1])
if n == 0 then
  if redis.call('EXISTS', KEYS[5]) == 0 then return {-1, 0, 0} end
  return {0, 0, 0}
end
"""

# KEYS: ring list, rotation counter (first attempts' or retries'), retired hash, exhausted hash,
# rings revision
# ARGV: cooldown name prefix (key_id appended), exhausted field, outcome hash prefix (key_id
# appended; empty for a first attempt), model, proven window ms, lookahead, excluded key_ids...
# A retry takes the first proven key (last outcome for the model: a success within the window),
# looking at most `lookahead` keys past the first eligible one, which it takes when none is.
# Returns {1, key_id} or {0, ms until the earliest cooldown ends, keys cooling}.
LEASE = (
    LEASE_START
    + """
local start = tonumber(redis.call('GET', KEYS[2]) or '0') % n
local retry, since, lookahead = ARGV[3] ~= '', now - tonumber(ARGV[5]), tonumber(ARGV[6])
local skip = {}
for i = 7, #ARGV do skip[ARGV[i]] = true end
local function proven(id)
  local last = redis.call('HGET', ARGV[3] .. id, ARGV[4])
  local at = last and tonumber(string.match(last, '^s|(%d+)$'))
  return at and at >= since
end
local function take(pos, id)
  redis.call('SET', KEYS[2], (pos + 1) % n)
  return {1, id}
end
local fallback, fallback_id, candidate, candidate_id, soonest, cooling = -1, nil, -1, nil, -1, 0
local CHUNK = 32
local limit, step = n, 0
while step < limit do
  local first = (start + step) % n
  local ids = redis.call('LRANGE', KEYS[1], first, math.min(first + CHUNK, n) - 1)
  for j = 1, #ids do
    local id, pos = ids[j], first + j - 1
    step = step + 1
    if redis.call('HEXISTS', KEYS[3], id) == 0 then
      local ttl = redis.call('PTTL', ARGV[1] .. id)
      if ttl > 0 then
        cooling = cooling + 1
        if soonest < 0 or ttl < soonest then soonest = ttl end
      elseif skip[id] then
        if fallback < 0 then fallback, fallback_id = pos, id end
      elseif not retry or proven(id) then
        return take(pos, id)
      elseif candidate < 0 then
        candidate, candidate_id, limit = pos, id, math.min(n, step + lookahead)
      end
    end
    if step >= limit then break end
  end
end
if candidate >= 0 then return take(candidate, candidate_id) end
if fallback >= 0 then return take(fallback, fallback_id) end
if cooling > 0 then
  redis.call('HSET', KEYS[4], ARGV[2], now + soonest)
  return {0, soonest, cooling}
end
return {0, 0, 0}
"""
)

# First attempts only, several at once (leases that arrived together, one round trip for all).
# KEYS: ring list, rotation counter, retired hash, exhausted hash, rings revision
# ARGV: cooldown name prefix (key_id appended), exhausted field, how many leases.
# Each lease is the next eligible key in rotation order, exactly as that many LEASE calls in a
# row would pick (a ring with fewer eligible keys than leases wraps around and repeats them).
# Returns {1, key_id...} or {0, ms until the earliest cooldown ends, keys cooling}.
LEASE_MANY = (
    LEASE_START
    + """
local want = tonumber(ARGV[3])
local pos = tonumber(redis.call('GET', KEYS[2]) or '0') % n
local out, eligible = {1}, {}
local soonest, cooling, misses = -1, 0, 0
local CHUNK = 32
local ids, first = {}, -1
while #out <= want and misses < n do
  if first < 0 or pos < first or pos >= first + #ids then
    first = pos
    ids = redis.call('LRANGE', KEYS[1], pos, math.min(pos + CHUNK, n) - 1)
  end
  local id = ids[pos - first + 1]
  local ok = eligible[id]
  if ok == nil then
    ok = redis.call('HEXISTS', KEYS[3], id) == 0
    if ok then
      local ttl = redis.call('PTTL', ARGV[1] .. id)
      if ttl > 0 then
        ok = false
        cooling = cooling + 1
        if soonest < 0 or ttl < soonest then soonest = ttl end
      end
    end
    eligible[id] = ok
  end
  if ok then
    out[#out + 1] = id
    misses = 0
  else
    misses = misses + 1
  end
  pos = (pos + 1) % n
end
if #out > 1 then
  redis.call('SET', KEYS[2], pos)
  return out
end
if cooling > 0 then
  redis.call('HSET', KEYS[4], ARGV[2], now + soonest)
  return {0, soonest, cooling}
end
return {0, 0, 0}
"""
)

# KEYS: revision, set of ring names, exhausted hash, ring lists...
# ARGV: revision, then for each ring in KEYS order its size, then every key_id in order.
SYNC_RINGS = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) < current then return 0 end
local wanted = {}
for i = 4, #KEYS do wanted[KEYS[i]] = true end
for _, old in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not wanted[old] then redis.call('DEL', old) end
end
redis.call('DEL', KEYS[2], KEYS[3])
local at = 2 + (#KEYS - 3)
for i = 4, #KEYS do
  local size = tonumber(ARGV[i - 2])
  redis.call('DEL', KEYS[i])
  local j = 0
  while j < size do
    local upto = math.min(j + 1000, size)
    redis.call('RPUSH', KEYS[i], unpack(ARGV, at + j, at + upto - 1))
    j = upto
  end
  at = at + size
  redis.call('SADD', KEYS[2], KEYS[i])
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""

# KEYS: cooldown key, cooldowns hash, outcome hash. ARGV: ms, reason, model, backoff cap ms (0:
# none), outcome ttl s. A longer running cooldown is kept. With a cap, a key cooled again on
# probation (within one cooldown length after its last cooldown ended, no success since) cools
# max(ms, min(2 * last length, cap)). Returns the ms the key now cools.
COOL = """
local ms = tonumber(ARGV[1])
local running = redis.call('PTTL', KEYS[1])
if running >= ms then return running end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local cap = tonumber(ARGV[4])
local last = redis.call('HGET', KEYS[3], ARGV[3])
if running <= 0 and cap > 0 and last then
  local length, till = string.match(last, '^c|(%d+)|(%d+)$')
  if length and tonumber(till) <= now and now < tonumber(till) + tonumber(length) then
    ms = math.max(ms, math.min(2 * tonumber(length), cap))
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ms)
redis.call('HSET', KEYS[2], ARGV[3], (now + ms) .. '|' .. ARGV[2])
if redis.call('PTTL', KEYS[2]) < ms then redis.call('PEXPIRE', KEYS[2], ms) end
redis.call('HSET', KEYS[3], ARGV[3], 'c|' .. (cap > 0 and ms or 0) .. '|' .. (now + ms))
redis.call('EXPIRE', KEYS[3], ARGV[5])
return ms
"""

# KEYS: lock. ARGV: interval ms. Returns 1 (and records now) unless claimed less than interval ago.
CLAIM = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
local interval = tonumber(ARGV[1])
if last >= 0 and now - last < interval then return 0 end
redis.call('SET', KEYS[1], now, 'PX', interval)
return 1
"""

# KEYS: failures hash, minute uses hash, hour uses hash, then the outcome hash of each report.
# ARGV: minute ttl s, hour ttl s, outcome ttl s, then key_id and model of each report in order.
# Per report: failures reset, one use counted, the key proven for the model unless it cools for
# it (a success that began before the 429 leaves the cooldown and its backoff alone).
SUCCESS = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for i = 4, #KEYS do
  local id, model = ARGV[2 * i - 4], ARGV[2 * i - 3]
  redis.call('HDEL', KEYS[1], id)
  redis.call('HINCRBY', KEYS[2], id, 1)
  redis.call('HINCRBY', KEYS[3], id, 1)
  local last = redis.call('HGET', KEYS[i], model)
  local till = last and tonumber(string.match(last, '^c|%d+|(%d+)$'))
  if not till or till <= now then
    redis.call('HSET', KEYS[i], model, 's|' .. now)
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  end
end
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return #KEYS - 3
"""

# KEYS: outbox hash, sequence counter. ARGV: key_id, status, reason.
# Keeps one pending status change per key (the latest wins); returns its sequence number.
KEEP_STATUS = """
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], seq .. '|' .. ARGV[2] .. '|' .. ARGV[3])
return seq
"""

# KEYS: outbox hash. ARGV: key_id, sequence number. Drops the change unless a later one replaced it.
DROP_STATUS = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.match(held, '^(%d+)|') == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""
