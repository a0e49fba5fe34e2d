"""Actors stay thin and idempotent: they call a service, and the database holds the truth."""

from __future__ import annotations

from datetime import datetime

import dramatiq

from adapters.queue.runtime import services, worker_name
from domain.operations import HEARTBEAT_EVERY


@dramatiq.actor(queue_name="ops", max_retries=0, max_age=int(HEARTBEAT_EVERY.total_seconds() * 2000))
async def heartbeat(sent_at: str) -> None:
    """Proves a worker is consuming the queue; the dashboard warns when beats stop arriving."""
    await services().operations.record_heartbeat(worker_name(), datetime.fromisoformat(sent_at))
