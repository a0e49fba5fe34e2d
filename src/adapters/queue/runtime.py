"""The services actors run against. Built lazily inside the worker's own event loop, once per process, and closed
there when the worker stops."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import dramatiq
from dramatiq.asyncio import get_event_loop_thread

if TYPE_CHECKING:
    from adapters.bootstrap import Container

_factory: Callable[[], Container] | None = None
_container: Container | None = None


def worker_name() -> str:
    """host:pid, read at call time: worker processes are forked after this module is imported."""
    return f"{socket.gethostname()}:{os.getpid()}"


def bind(factory: Callable[[], Container]) -> None:
    global _factory, _container
    _factory, _container = factory, None


def services() -> Container:
    global _container
    if _container is None:
        if _factory is None:
            raise RuntimeError("no services bound: start workers through adapters.bootstrap")
        _container = _factory()
    return _container


async def close() -> None:
    """Close the services built for this process, if any (a later actor would build them again)."""
    global _container
    container, _container = _container, None
    if container is not None:
        await container.aclose()


class CloseServices(dramatiq.Middleware):
    """When a worker (a `kaquan worker` process, or the web process's own) stops, the services its actors used —
    database engine, HTTP clients, Redis — are closed on the event loop they were made on. Added after the AsyncIO
    middleware: Dramatiq runs "after" hooks last-added first, so this runs once every actor has finished and
    before that loop stops."""

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop = get_event_loop_thread()
        if loop is not None:
            loop.run_coroutine(close())
