from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.operations import STALE_AFTER, Nudges, WorkerBeat, WorkerHealth, worker_health
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


async def test_lost_work_is_sent_again_backing_off_and_forgotten_once_done():
    nudges = Nudges(first=timedelta(seconds=10), most=timedelta(seconds=30))
    sent: list[int] = []

    async def send(order_id: int) -> None:
        sent.append(order_id)

    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    seconds = (0, 5, 10, 25, 30, 60, 90, 91)
    counts = [await nudges.send_due([1, 2] if s < 91 else [2], start + timedelta(seconds=s), send) for s in seconds]
    # found: sent at once; then after 10 s, 20 s, and from then on every 30 s at most
    assert counts == [2, 0, 2, 0, 2, 2, 2, 0]
    assert sent.count(1) == sent.count(2) == 5
    # order 1 was done by the last sweep: forgotten, so it would start over if it ever came back
    assert nudges.due([1], start + timedelta(seconds=92)) == [1]
