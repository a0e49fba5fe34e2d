"""The heartbeat travels the real queue: Redis broker + a Dramatiq worker, and the embedded stub broker; a stopping
worker closes what its actors used; the delivery actor's time limit follows the supplier timeout."""

from __future__ import annotations

import asyncio
import contextlib

import dramatiq
import pytest

from adapters import bootstrap
from adapters.queue import runtime
from adapters.settings import Settings
from domain.operations import WorkerHealth
from domain.suppliers import MAX_SOURCES


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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_stopping_worker_closes_the_services_its_actors_used(settings):
    """Database engine, HTTP clients and Redis of the worker's own container, closed on its event loop."""
    broker = bootstrap.install_broker(settings)
    built: list[bootstrap.Container] = []
    runtime.bind(lambda: built.append(bootstrap.build(settings)) or built[-1])
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    container = bootstrap.build(settings)
    ticker = asyncio.create_task(bootstrap.send_heartbeats())
    try:
        assert await wait_for_beat(container) is WorkerHealth.OK, "an actor ran, on services of its own"
    finally:
        ticker.cancel()
        await asyncio.to_thread(worker.stop)
        await container.aclose()
    [used] = built
    assert used.closed


@pytest.mark.parametrize("timeout", [10, 25])
def test_a_delivery_may_outlast_every_upstream_source_taking_the_whole_timeout(timeout):
    """Each source may be asked about an earlier order and for a new one, each request up to the timeout."""
    broker = bootstrap.install_broker(Settings(supplier_timeout_seconds=timeout, _env_file=None))
    limit_ms = broker.get_actor("deliver_order").options["time_limit"]
    assert limit_ms > MAX_SOURCES * 2 * timeout * 1000
