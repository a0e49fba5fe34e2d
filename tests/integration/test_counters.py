"""Counters on Redis (shared by every process) and in memory: windows, atomicity under a race."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from adapters.clock import SystemClock
from adapters.counters.memory import MemoryCounters
from adapters.counters.redis import RedisCounters
from domain.services.auth import SignIn
from domain.staff import InvalidCredentials, LoginThrottled
from domain.throttle import LoginThrottle
from tests.unit.fakes import FakeDatabase, FakePasswords


@pytest.fixture(params=["memory", "redis"])
async def counters(request):
    if request.param == "memory":
        yield MemoryCounters(SystemClock())
        return
    url, namespace = request.getfixturevalue("redis_namespace")  # only here, so memory runs without Redis
    client = Redis.from_url(url)
    yield RedisCounters(client, namespace)
    await client.aclose()


async def test_a_window_counts_then_starts_over(counters):
    window = timedelta(milliseconds=300)
    assert (await counters.add("k", 1, window)).count == 1
    hits = await counters.add("k", 2, window)
    assert hits.count == 3 and timedelta(0) < hits.resets_in <= window
    await asyncio.sleep(0.35)
    assert (await counters.add("k", 1, window)).count == 1


async def test_reset_and_negative_amounts(counters):
    await counters.add("k", 5, timedelta(minutes=1))
    assert (await counters.add("k", -2, timedelta(minutes=1))).count == 3
    await counters.reset("k")
    assert (await counters.add("k", 1, timedelta(minutes=1))).count == 1


async def test_racing_adds_each_see_a_distinct_count(counters):
    results = await asyncio.gather(*(counters.add("race", 1, timedelta(minutes=1)) for _ in range(200)))
    assert sorted(h.count for h in results) == list(range(1, 201))


async def test_racing_guesses_get_exactly_the_allowed_attempts(redis_namespace):
    """Twenty concurrent wrong passwords against one account on Redis: five are checked, fifteen throttled."""
    url, namespace = redis_namespace
    client = Redis.from_url(url)
    try:
        sign_in = SignIn(
            FakeDatabase(),
            FakePasswords(),
            RedisCounters(client, namespace),
            SystemClock(),
            LoginThrottle(per_account=5, per_ip=1000, window=timedelta(minutes=5)),
            decoy_hash="v2$decoy",
        )
        outcomes = await asyncio.gather(
            *(sign_in.log_in("alice", f"guess {n}", f"10.0.0.{n}") for n in range(20)), return_exceptions=True
        )
    finally:
        await client.aclose()
    assert sum(isinstance(o, InvalidCredentials) for o in outcomes) == 5
    assert sum(isinstance(o, LoginThrottled) for o in outcomes) == 15
