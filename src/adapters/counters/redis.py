"""Counters shared by every web process and worker through Redis."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from domain.ports import Hits


class RedisCounters:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:counter:"

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
