from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.engine import insert_for
from adapters.db.tables import worker_beats
from domain.operations import WorkerBeat

# Workers are named host:pid, so every restart adds a name; forget the ones long gone.
FORGET_AFTER = timedelta(days=1)


class SqlWorkerBeats:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def record(self, beat: WorkerBeat) -> None:
        values = {"seen_at": beat.seen_at, "queue_lag_ms": int(beat.queue_lag.total_seconds() * 1000)}
        upsert = insert_for(self._db, worker_beats).values(worker=beat.worker, **values)
        await self._db.execute(upsert.on_conflict_do_update(index_elements=[worker_beats.c.worker], set_=values))
        await self._db.execute(delete(worker_beats).where(worker_beats.c.seen_at < beat.seen_at - FORGET_AFTER))

    async def all(self) -> list[WorkerBeat]:
        rows = await self._db.execute(select(worker_beats))
        return [WorkerBeat(r.worker, r.seen_at, timedelta(milliseconds=r.queue_lag_ms)) for r in rows]
