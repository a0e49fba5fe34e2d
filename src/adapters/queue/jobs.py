"""Background work handed to Dramatiq. Sending is blocking I/O for the Redis broker: off the loop."""

from __future__ import annotations

import asyncio
import importlib


class DramatiqJobs:
    async def import_codes(self, import_id: int) -> None:
        # Imported on use: the broker must be installed before the actor module loads (see bootstrap).
        actors = importlib.import_module("adapters.queue.actors")
        await asyncio.to_thread(actors.import_codes.send, import_id)


class RunByCaller:
    """For the CLI: nothing is queued; the command runs the work itself, in its own process, right away."""

    async def import_codes(self, import_id: int) -> None:
        return None
