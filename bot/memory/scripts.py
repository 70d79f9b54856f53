"""Lua scripts of the store; each touches one key, so it runs on any Redis Cluster node."""

# Raise the generation and last_active only (a replica that fell back to generation 1 during
# a Redis outage must not rewind a conversation at generation 5; a turn written back late
# from the outbox must not rewind the idle clock).
TOUCH_SESSION = """
local current = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'generation', ARGV[1]) end
local active = tonumber(redis.call('HGET', KEYS[1], 'last_active') or '0')
if tonumber(ARGV[2]) > active then redis.call('HSET', KEYS[1], 'last_active', ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# Record a vote; past the cap, forget the oldest one (values are "<vote>:<unix time>").
RECORD_VOTE = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[4]) then
  local all = redis.call('HGETALL', KEYS[1])
  local oldest, when = nil, nil
  for i = 1, #all, 2 do
    local t = tonumber(string.match(all[i + 1], ':(%d+)$') or '0')
    if when == nil or t < when then oldest, when = all[i], t end
  end
  redis.call('HDEL', KEYS[1], oldest)
end
return 1
"""
