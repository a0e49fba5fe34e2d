"""Operational facts staff need to see: is the queue worker alive, what happened lately."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.audit import AuditEntry
from domain.operations import WorkerBeat, WorkerHealth, worker_health
from domain.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Operations:
    uow: UnitOfWorkFactory
    clock: Clock

    async def record_heartbeat(self, worker: str, sent_at: datetime) -> None:
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.worker_beats.record(WorkerBeat(worker, now, max(now - sent_at, timedelta(0))))
            await uow.commit()

    async def worker_status(self) -> tuple[WorkerHealth, list[WorkerBeat]]:
        async with self.uow(read_only=True) as uow:
            beats = await uow.worker_beats.all()
        return worker_health(beats, self.clock.now()), sorted(beats, key=lambda b: b.seen_at, reverse=True)

    async def audit_page(self, before_id: int | None, limit: int = 50) -> list[AuditEntry]:
        async with self.uow(read_only=True) as uow:
            return await uow.audit.page(before_id=before_id, limit=limit)
