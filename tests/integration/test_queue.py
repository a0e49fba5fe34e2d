"""The heartbeat travels the real queue: Redis broker + a Dramatiq worker, and the embedded stub broker."""

from __future__ import annotations

import asyncio
import contextlib

import dramatiq
import pytest

from adapters import bootstrap
from adapters.settings import Settings
from domain.operations import WorkerHealth


async def wait_for_beat(container: bootstrap.Container) -> WorkerHealth:
    """OK as soon as a beat lands; whatever the status is after 15 s otherwise."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(15):
            while (await container.operations.worker_status())[0] is not WorkerHealth.OK:
                await asyncio.sleep(0.1)
    return (await container.operations.worker_status())[0]


async def run_heartbeat_through(settings: Settings) -> WorkerHealth:
    container = bootstrap.build(settings)
    assert (await container.operations.worker_status())[0] is WorkerHealth.NEVER_SEEN
    broker = bootstrap.install_broker(settings)
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    ticker = asyncio.create_task(bootstrap.send_heartbeats())
    try:
        return await wait_for_beat(container)
    finally:
        ticker.cancel()
        await asyncio.to_thread(worker.stop)
        await container.aclose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_embedded_worker_consumes_heartbeats(settings):
    assert await run_heartbeat_through(settings) is WorkerHealth.OK


async def test_redis_broker_and_worker_consume_heartbeats(settings, redis_namespace):
    url, namespace = redis_namespace
    redis_settings = settings.model_copy(update={"redis_url": url, "redis_namespace": namespace})
    assert await run_heartbeat_through(redis_settings) is WorkerHealth.OK
