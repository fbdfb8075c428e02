"""Lua scripts: each one is a single atomic step on the Redis server.

SEND is the heart of ordering: the limit checks, the nonce, the stream
append and the publish happen in one script, so the stream's order is the
order every node sees on pub/sub, and a refused send leaves no trace.
"""

SEND = r"""
-- KEYS: 1 stream, 2 nonce key ('' = none), 3 rate bucket, 4 slow-mode marker,
--       5 mute key, 6 room settings hash, 7 (optional) sender's message index
-- ARGV: 1 body, 2 maxlen, 3 retention ms, 4 nonce ttl s, 5 rate/s, 6 burst,
--       7 mode ('' = publish, 'check' = checks only, for held messages),
--       8 is_staff ('1'/'0'), 9 channel, 10 enforce limits ('1'/'0'),
--       11 room slug, 12 index length cap (with KEYS[7]), 13 slow-mode floor s
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local enforce = ARGV[10] == '1'
local staff = ARGV[8] == '1'
local slow = 0
if enforce then
  local mute_ttl = redis.call('PTTL', KEYS[5])
  if mute_ttl == -1 or mute_ttl > 0 then return {'muted', tostring(mute_ttl)} end
  local settings = redis.call('HMGET', KEYS[6], 'locked', 'slowmode')
  if settings[1] == '1' and not staff then return {'locked', '0'} end
  slow = tonumber(settings[2] or '0') or 0
  local floor = tonumber(ARGV[13] or '0') or 0
  if floor > slow then slow = floor end
end
if KEYS[2] ~= '' then
  local prev = redis.call('GET', KEYS[2])
  if prev then return {'dup', prev} end
end
if enforce and not staff then
  if slow > 0 then
    local pttl = redis.call('PTTL', KEYS[4])
    if pttl > 0 then return {'slow', tostring(pttl)} end
  end
  local rate = tonumber(ARGV[5])
  local burst = tonumber(ARGV[6])
  local b = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
  local tokens = tonumber(b[1]) or burst
  local ts = tonumber(b[2]) or now_ms
  if now_ms > ts then tokens = math.min(burst, tokens + (now_ms - ts) * rate / 1000) end
  if tokens < 1 then
    return {'rate', tostring(math.ceil((1 - tokens) * 1000 / rate))}
  end
  redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - 1), 'ts', tostring(now_ms))
  redis.call('PEXPIRE', KEYS[3], math.ceil(burst / rate * 1000) + 1000)
  if slow > 0 then redis.call('SET', KEYS[4], '1', 'PX', math.floor(slow * 1000)) end
end
if ARGV[7] == 'check' then return {'allowed', ''} end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
redis.call('XTRIM', KEYS[1], 'MINID', '~', tostring(now_ms - tonumber(ARGV[3])))
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], id, 'EX', ARGV[4]) end
if KEYS[7] and KEYS[7] ~= '' then
  -- "room id" per message, so deleting an account can find and retract them
  redis.call('RPUSH', KEYS[7], ARGV[11] .. ' ' .. id)
  redis.call('LTRIM', KEYS[7], -tonumber(ARGV[12]), -1)
  redis.call('PEXPIRE', KEYS[7], tonumber(ARGV[3]))
end
redis.call('PUBLISH', ARGV[9], cmsgpack.pack({1, 'msg', id, ARGV[1]}))
return {'ok', id}
"""

PRESENCE = r"""
-- KEYS: 1 presence hash. ARGV: 1 node id, 2 local count, 3 node-alive key prefix
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[3] .. all[i]) == 1 then
    total = total + tonumber(all[i + 1])
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return total
"""

HIDE = r"""
-- KEYS: 1 stream. ARGV: 1 id, 2 channel, 3 retract payload (msgpack)
local n = redis.call('XDEL', KEYS[1], ARGV[1])
if n == 1 then redis.call('PUBLISH', ARGV[2], cmsgpack.pack({1, 'retract', ARGV[1], ARGV[3]})) end
return n
"""

THROTTLE_CHECK = r"""
-- KEYS: failure counters. ARGV: 1 limit. Returns the longest PTTL of a counter
-- at or over the limit (ms), or 0 when none is.
local worst = 0
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n >= tonumber(ARGV[1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl > worst then worst = ttl end
    if ttl < 0 then worst = math.max(worst, 1000) end
  end
end
return worst
"""

THROTTLE_FAIL = r"""
-- KEYS: failure counters. ARGV: 1 window s. A window starts at the first failure.
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
return 1
"""

CREATE_USER = r"""
-- KEYS: 1 handle index (lower-cased), 2 user hash, 3 set of user ids.
-- ARGV: 1 user id, then field, value pairs. 0 when the handle is taken.
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return 0 end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

RESOLVE_SESSION = r"""
-- KEYS: 1 session key. ARGV: 1 ttl s, 2 user-key prefix, 3 sessions-set prefix.
-- Slides the expiry and returns the user's hash as a flat list ({} = no session).
local uid = redis.call('GET', KEYS[1])
if not uid then return {} end
local user = redis.call('HGETALL', ARGV[2] .. uid)
if #user == 0 then
  redis.call('DEL', KEYS[1])
  return {}
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', ARGV[3] .. uid, ARGV[1])
user[#user + 1] = 'id'
user[#user + 1] = uid
return user
"""
