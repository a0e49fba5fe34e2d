"""Counters on Redis (shared by every process) and in memory: windows, atomicity under a race."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from adapters.clock import SystemClock
from adapters.counters.memory import MemoryCounters
from adapters.counters.redis import RedisCounters
from domain.ports import Tally
from domain.services.auth import SignIn
from domain.staff import InvalidCredentials, LoginThrottled
from domain.throttle import LoginThrottle
from tests.unit.fakes import FakeDatabase, FakePasswords, FixedClock


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


async def test_events_leave_a_sliding_window_one_by_one(counters):
    window = timedelta(milliseconds=500)
    assert await counters.slide("ip:1", 1, window) == Tally(1, 1)  # t = 0
    await asyncio.sleep(0.3)
    assert await counters.slide("ip:1", 10, window) == Tally(2, 11)  # t = 300 ms
    await asyncio.sleep(0.25)
    # t = 550 ms: a fixed window would have started over; here only the event of t = 0 has left.
    assert await counters.slide("ip:1", 100, window) == Tally(2, 110)
    await asyncio.sleep(0.55)
    assert await counters.slide("ip:1", 1000, window) == Tally(1, 1000)


async def test_sliding_keys_are_independent(counters):
    window = timedelta(minutes=1)
    await counters.slide("device:a", 300, window)
    assert await counters.slide("device:a", 200, window) == Tally(2, 500)
    assert await counters.slide("device:b", 7, window) == Tally(1, 7)
    assert await counters.slide("contact:a", 0, window) == Tally(1, 0)


async def test_racing_slides_each_see_a_distinct_count_and_the_total_adds_up(counters):
    window = timedelta(minutes=1)
    tallies = await asyncio.gather(*(counters.slide("race", n, window) for n in range(1, 201)))
    assert sorted(t.count for t in tallies) == list(range(1, 201))
    assert max(tallies, key=lambda t: t.count).total == sum(range(1, 201))
    assert await counters.slide("race", 0, window) == Tally(201, sum(range(1, 201)))


async def test_slides_from_separate_redis_clients_each_see_a_distinct_count(redis_namespace):
    url, namespace = redis_namespace
    clients = [Redis.from_url(url) for _ in range(4)]
    try:
        per_client = [RedisCounters(client, namespace) for client in clients]
        window = timedelta(minutes=1)
        tallies = await asyncio.gather(*(c.slide("reseller:9", 2, window) for c in per_client for _ in range(50)))
        assert sorted(t.count for t in tallies) == list(range(1, 201))
        assert await per_client[0].slide("reseller:9", 0, window) == Tally(201, 400)
    finally:
        for client in clients:
            await client.aclose()


async def test_sliding_keys_on_redis_expire_with_their_window(redis_namespace):
    url, namespace = redis_namespace
    client = Redis.from_url(url)
    try:
        await RedisCounters(client, namespace).slide("product:X", 5, timedelta(seconds=30))
        names = [name async for name in client.scan_iter(match=f"{namespace}:*")]
        assert len(names) == 2
        assert all(0 < ttl <= 30_000 for ttl in [await client.pttl(name) for name in names])
    finally:
        await client.aclose()


async def test_memory_sliding_window_is_half_open_and_exact():
    clock = FixedClock()
    counters = MemoryCounters(clock)
    window = timedelta(milliseconds=400)
    await counters.slide("k", 1, window)
    clock.advance(timedelta(milliseconds=250))
    await counters.slide("k", 2, window)
    clock.advance(timedelta(milliseconds=149))
    assert await counters.slide("k", 4, window) == Tally(3, 7)  # t = 399 ms: all three in
    clock.advance(timedelta(milliseconds=1))
    assert await counters.slide("k", 8, window) == Tally(3, 14)  # t = 400 ms: the event of t = 0 is out


async def test_memory_forgets_keys_whose_events_have_all_left_their_window():
    class SmallCounters(MemoryCounters):
        PRUNE_AT = 4

    clock = FixedClock()
    counters = SmallCounters(clock)
    await counters.slide("kept", 1, timedelta(hours=1))
    for n in range(3):
        await counters.slide(f"old:{n}", 1, timedelta(minutes=1))
    clock.advance(timedelta(minutes=2))
    await counters.slide("new", 1, timedelta(minutes=1))  # the fifth key: a prune
    assert set(counters._sliding) == {"kept", "new"}
    assert await counters.slide("kept", 1, timedelta(hours=1)) == Tally(2, 2)
    assert await counters.slide("old:0", 1, timedelta(minutes=1)) == Tally(1, 1)


async def test_a_sliding_window_must_be_at_least_a_millisecond(counters):
    with pytest.raises(ValueError, match="at least a millisecond"):
        await counters.slide("k", 1, timedelta(0))
