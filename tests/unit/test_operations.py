from __future__ import annotations

from datetime import timedelta

from domain.operations import STALE_AFTER, WorkerBeat, WorkerHealth, worker_health
from tests.unit.fakes import FixedClock

NOW = FixedClock().now()


def test_worker_health_is_judged_by_the_latest_beat():
    assert worker_health([], NOW) is WorkerHealth.NEVER_SEEN
    fresh = WorkerBeat("a:1", NOW - STALE_AFTER, timedelta(0))
    old = WorkerBeat("b:2", NOW - STALE_AFTER - timedelta(seconds=1), timedelta(0))
    assert worker_health([old, fresh], NOW) is WorkerHealth.OK
    assert worker_health([old], NOW) is WorkerHealth.STALE


async def test_a_heartbeat_records_how_long_it_waited_in_the_queue(world):
    await world.operations.record_heartbeat("host:1", world.clock.now() - timedelta(milliseconds=250))
    health, beats = await world.operations.worker_status()
    assert health is WorkerHealth.OK
    assert beats[0].queue_lag == timedelta(milliseconds=250)
    world.clock.advance(STALE_AFTER + timedelta(seconds=1))
    assert (await world.operations.worker_status())[0] is WorkerHealth.STALE
