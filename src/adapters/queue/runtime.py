"""The services actors run against. Built lazily inside the worker's own event loop, once per process."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

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
