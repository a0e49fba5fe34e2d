"""Background work handed to Dramatiq. Sending is blocking I/O for the Redis broker: off the loop."""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType


class DramatiqJobs:
    async def import_codes(self, import_id: int) -> None:
        await asyncio.to_thread(_actors().import_codes.send, import_id)

    async def reseal_codes(self) -> None:
        await asyncio.to_thread(_actors().reseal_codes.send)

    async def deliver_order(self, order_id: int) -> None:
        await asyncio.to_thread(_actors().deliver_order.send, order_id)

    async def notify_buyer(self, order_id: int) -> None:
        await asyncio.to_thread(_actors().notify_buyer.send, order_id)

    async def mail_payment_link(self, order_id: int) -> None:
        await asyncio.to_thread(_actors().mail_payment_link.send, order_id)

    async def call_back(self, order_id: int) -> None:
        await asyncio.to_thread(_actors().call_back.send, order_id)


class RunByCaller:
    """For the CLI: nothing is queued; the command runs the work itself, in its own process, right away."""

    async def import_codes(self, import_id: int) -> None:
        return None

    async def reseal_codes(self) -> None:
        return None

    async def deliver_order(self, order_id: int) -> None:
        return None  # the web process's sweeper delivers it

    async def notify_buyer(self, order_id: int) -> None:
        return None

    async def mail_payment_link(self, order_id: int) -> None:
        return None  # staff approve in the web app, whose worker mails it

    async def call_back(self, order_id: int) -> None:
        return None  # the web process's sweeper sends it


def _actors() -> ModuleType:
    # Imported on use: the broker must be installed before the actor module loads (see bootstrap).
    return importlib.import_module("adapters.queue.actors")
