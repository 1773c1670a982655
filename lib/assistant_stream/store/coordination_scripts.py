"""The Lua scripts of store/coordination_redis.py: each check-and-change on Redis is one atomic script.

Times come from Redis (``TIME``), so processes with skewed clocks agree. Keys are built from the prefix given
as the first argument (so these scripts do not suit Redis Cluster).
"""

from __future__ import annotations

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

BEGIN = _NOW + """
local p, token, sess, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local lease, maxc, maxs, window = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local skey = p .. 'sess:' .. sess
if sess ~= '' then
  local cur = redis.call('GET', skey)
  if cur then return {'busy', cur} end
end
local rkey = p .. 'run:' .. user
if maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', rkey, '-inf', now)
  local n = redis.call('ZCARD', rkey)
  if n >= maxc then return {'too_many', tostring(n)} end
end
if maxs > 0 then
  local tkey = p .. 'starts:' .. user
  redis.call('ZREMRANGEBYSCORE', tkey, '-inf', now - window)
  local n = redis.call('ZCARD', tkey)
  if n >= maxs then
    local oldest = redis.call('ZRANGE', tkey, 0, 0, 'WITHSCORES')
    return {'rate', tostring(tonumber(oldest[2]) + window - now)}
  end
  redis.call('ZADD', tkey, now, token)
  redis.call('PEXPIRE', tkey, window + 1000)
end
if sess ~= '' then redis.call('SET', skey, token, 'PX', lease) end
if maxc > 0 then
  redis.call('ZADD', rkey, now + lease, token)
  redis.call('PEXPIRE', rkey, lease * 4)
end
return {'ok'}
"""

# ARGV: prefix, node, lease ms, then 5 per generation: key, token, session, user, message id.
RENEW = _NOW + """
local p, node, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local lost = {}
for i = 4, #ARGV, 5 do
  local key, token, sess, user, mid = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local lkey = p .. 'lease:' .. key
  local cur = redis.call('GET', lkey)
  if cur and cur ~= node then
    lost[#lost + 1] = key
  else
    redis.call('SET', lkey, node, 'PX', lease)
    redis.call('ZADD', p .. 'live', now + lease, key)
    redis.call('PEXPIRE', p .. 'live', 86400000)
    if not cur then
      redis.call('HSET', p .. 'gen:' .. key, 'token', token, 'session', sess, 'user', user, 'message', mid,
                 'node', node)
      redis.call('PEXPIRE', p .. 'gen:' .. key, 86400000)
    end
    if sess ~= '' then
      local skey = p .. 'sess:' .. sess
      local held = redis.call('GET', skey)
      if not held or held == token or held == key then redis.call('SET', skey, key, 'PX', lease) end
    end
    redis.call('ZADD', p .. 'run:' .. user, now + lease, token)
    redis.call('PEXPIRE', p .. 'run:' .. user, lease * 4)
  end
end
return lost
"""

# ARGV: prefix, node, key ('' if never bound), token, session, user, uncount ('1': the start never happened)
END = """
local p, node, key, token, sess, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if key ~= '' then
  local lkey = p .. 'lease:' .. key
  if redis.call('GET', lkey) == node then redis.call('DEL', lkey) end
  redis.call('ZREM', p .. 'live', key)
  redis.call('DEL', p .. 'gen:' .. key)
end
if sess ~= '' then
  local skey = p .. 'sess:' .. sess
  local cur = redis.call('GET', skey)
  if cur == token or (key ~= '' and cur == key) then redis.call('DEL', skey) end
end
redis.call('ZREM', p .. 'run:' .. user, token)
if ARGV[7] == '1' then redis.call('ZREM', p .. 'starts:' .. user, token) end
return 1
"""

# ARGV: prefix, node, max: claim answers whose lease expired; each is claimed by exactly one reaper.
REAP = _NOW + """
local p, node = ARGV[1], ARGV[2]
local due = redis.call('ZRANGEBYSCORE', p .. 'live', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, key in ipairs(due) do
  redis.call('ZREM', p .. 'live', key)
  redis.call('SET', p .. 'lease:' .. key, 'reaped:' .. node, 'PX', 600000)
  local info = redis.call('HGETALL', p .. 'gen:' .. key)
  redis.call('DEL', p .. 'gen:' .. key)
  local h = {}
  for i = 1, #info, 2 do h[info[i]] = info[i + 1] end
  local sess, user, token = h['session'] or '', h['user'] or '', h['token'] or ''
  if sess ~= '' and redis.call('GET', p .. 'sess:' .. sess) == key then redis.call('DEL', p .. 'sess:' .. sess) end
  if user ~= '' then redis.call('ZREM', p .. 'run:' .. user, token) end
  out[#out + 1] = key
  out[#out + 1] = h['message'] or ''
  out[#out + 1] = user
  out[#out + 1] = sess
  out[#out + 1] = h['node'] or ''
end
return out
"""
