"""Is the delivery worker alive? A silent, stopped queue worker is a failure the field suffers from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

HEARTBEAT_EVERY = timedelta(seconds=30)
# Two missed beats plus slack before we call the worker stale.
STALE_AFTER = HEARTBEAT_EVERY * 2 + timedelta(seconds=15)


class WorkerHealth(StrEnum):
    OK = "ok"
    STALE = "stale"
    NEVER_SEEN = "never_seen"


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    """A worker processed a heartbeat message: when, and how long the message waited in the queue."""

    worker: str
    seen_at: datetime
    queue_lag: timedelta


def worker_health(beats: list[WorkerBeat], now: datetime) -> WorkerHealth:
    """OK when any worker processed a heartbeat recently enough."""
    if not beats:
        return WorkerHealth.NEVER_SEEN
    latest = max(beat.seen_at for beat in beats)
    return WorkerHealth.OK if now - latest <= STALE_AFTER else WorkerHealth.STALE


@dataclass
class Nudges:
    """When a sweeper sends lost work (a delivery, a mail) to the workers again.

    First as soon as it is found, then after `first`, twice as long each time, at most every `most`:
    a lagging queue is not flooded with copies of work it has not reached yet. Per process.
    """

    first: timedelta
    most: timedelta
    _next: dict[int, tuple[datetime, int]] = field(default_factory=dict)

    async def send_due(self, waiting: list[int], now: datetime, send: Callable[[int], Awaitable[None]]) -> int:
        """Send those of the waiting ids that are due; returns how many were sent."""
        due = self.due(waiting, now)
        for item in due:
            await send(item)
        return len(due)

    def due(self, waiting: list[int], now: datetime) -> list[int]:
        """Of the ids still waiting, those to send now (and they are counted as sent)."""
        for gone in self._next.keys() - set(waiting):
            del self._next[gone]
        due = [item for item in waiting if self._next.get(item, (now, 0))[0] <= now]
        for item in due:
            sent = self._next.get(item, (now, 0))[1] + 1
            self._next[item] = (now + min(self.first * 2 ** (sent - 1), self.most), sent)
        return due
