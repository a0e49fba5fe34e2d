from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import staff
from domain.staff import Role, StaffMember, StaffStatus, UsernameTaken


class SqlStaff:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self._db = connection
        # Row locks on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers.
        self._lock = lock

    async def get(self, staff_id: int) -> StaffMember | None:
        return await self._one(staff.c.id == staff_id)

    async def by_username(self, username: str) -> StaffMember | None:
        return await self._one(staff.c.username == username)

    async def by_invite_token_hash(self, token_hash: str) -> StaffMember | None:
        return await self._one(staff.c.invite_token_hash == token_hash)

    async def add(self, member: StaffMember) -> StaffMember:
        values = _values(member)
        del values["id"]
        # A savepoint keeps the surrounding transaction usable after a duplicate username.
        try:
            async with self._db.begin_nested():
                new_id = (await self._db.execute(insert(staff).values(values).returning(staff.c.id))).scalar_one()
        except IntegrityError as duplicate:
            raise UsernameTaken(member.username) from duplicate
        return await self.get(new_id) or member

    async def save(self, member: StaffMember) -> None:
        values = _values(member)
        await self._db.execute(update(staff).where(staff.c.id == values.pop("id")).values(values))

    async def all(self) -> list[StaffMember]:
        rows = await self._db.execute(select(staff).order_by(staff.c.username))
        return [_member(row) for row in rows.mappings()]

    async def of_reseller(self, reseller_id: int) -> list[StaffMember]:
        rows = await self._db.execute(select(staff).where(staff.c.reseller_id == reseller_id).order_by(staff.c.id))
        return [_member(row) for row in rows.mappings()]

    async def active_owner_count(self) -> int:
        owners = (
            select(staff.c.id)
            .where(staff.c.role == Role.OWNER.value, staff.c.status == StaffStatus.ACTIVE.value)
            .order_by(staff.c.id)
            .with_for_update()
        )
        return len((await self._db.execute(owners)).all())

    async def exists(self) -> bool:
        return bool((await self._db.execute(select(exists(select(staff.c.id))))).scalar())

    async def _one(self, condition: Any) -> StaffMember | None:
        query = select(staff).where(condition)
        row = (await self._db.execute(query.with_for_update() if self._lock else query)).mappings().first()
        return _member(row) if row else None


def _values(member: StaffMember) -> dict[str, Any]:
    values = asdict(member)
    values["role"], values["status"] = member.role.value, member.status.value
    return values


def _member(row: RowMapping) -> StaffMember:
    values = dict(row)
    values["role"], values["status"] = Role(values["role"]), StaffStatus(values["status"])
    return StaffMember(**values)
