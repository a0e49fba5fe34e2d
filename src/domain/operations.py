"""Is the delivery worker alive? A silent, stopped queue worker is a failure the field suffers from."""

from __future__ import annotations

from dataclasses import dataclass
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
