"""Counters shared by every web process and worker through Redis."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from domain.ports import Hits, Tally

# KEYS[1]: sorted set of events, score = ms timestamp, member = "<seq>:<amount>" (seq makes it unique).
# KEYS[2]: hash {total = sum of the set's amounts, seq = last sequence number}. ARGV: amount, window in ms.
# Time is the server's (TIME), so every process agrees on it; writing after TIME needs Redis >= 5
# (scripts replicated by their effects).
_SLIDE = """
local events, tally = KEYS[1], KEYS[2]
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local horizon = now - window
local gone = redis.call('ZRANGEBYSCORE', events, '-inf', horizon)
if #gone > 0 then
  local sum = 0
  for _, member in ipairs(gone) do
    sum = sum + tonumber(string.match(member, ':(-?%d+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', events, '-inf', horizon)
  redis.call('HINCRBY', tally, 'total', string.format('%d', -sum))
end
if redis.call('ZCARD', events) == 0 then
  redis.call('DEL', tally)  -- nothing left in the window: the tally starts over
end
local seq = redis.call('HINCRBY', tally, 'seq', 1)
redis.call('ZADD', events, now, seq .. ':' .. ARGV[1])
local total = redis.call('HINCRBY', tally, 'total', ARGV[1])
redis.call('PEXPIRE', events, window)
redis.call('PEXPIRE', tally, window)
return {redis.call('ZCARD', events), total}
"""


class RedisCounters:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:counter:"
        self._sliding_prefix = f"{namespace}:sliding:"
        self._slide = redis.register_script(_SLIDE)

    async def add(self, key: str, amount: int, window: timedelta) -> Hits:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as tx:  # MULTI/EXEC: one atomic step
            tx.set(name, 0, px=int(window.total_seconds() * 1000), nx=True)
            tx.incrby(name, amount)
            tx.pttl(name)
            _, count, ttl_ms = await tx.execute()
        return Hits(int(count), timedelta(milliseconds=max(int(ttl_ms), 0)))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def slide(self, key: str, amount: int, window: timedelta) -> Tally:
        """One Lua script, so atomic across processes; "now" is the Redis server's clock, not this host's."""
        window_ms = window // timedelta(milliseconds=1)
        if window_ms < 1:
            raise ValueError("a sliding window must be at least a millisecond")
        # The {hash tag} keeps both keys in one cluster slot, as a script's keys must be.
        base = f"{self._sliding_prefix}{{{key}}}"
        count, total = await self._slide(keys=[f"{base}:events", f"{base}:tally"], args=[amount, window_ms])
        return Tally(int(count), int(total))
