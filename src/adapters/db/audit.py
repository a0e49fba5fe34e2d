from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import audit_log
from domain.audit import Actor, ActorKind, AuditEntry


class SqlAuditLog:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def record(self, entry: AuditEntry) -> None:
        await self._db.execute(
            _RECORD,
            {
                "at": entry.at,
                "actor_kind": entry.actor.kind.value,
                "actor_id": entry.actor.id,
                "actor_name": entry.actor.name,
                "ip": entry.actor.ip,
                "action": entry.action,
                "target": entry.target[:255],
                "details": entry.details,
            },
        )

    async def page(self, *, before_id: int | None, limit: int) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        return [
            AuditEntry(
                at=row.at,
                actor=Actor(ActorKind(row.actor_kind), row.actor_name, row.actor_id, row.ip),
                action=row.action,
                target=row.target,
                details=row.details,
                id=row.id,
            )
            for row in await self._db.execute(query)
        ]


_RECORD = insert(audit_log)  # built once: its compilation is cached
