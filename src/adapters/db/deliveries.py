"""Delivered units in SQL. Uniqueness (order, unit), (code) and (token hash) is the database's promise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import deliveries, orders
from domain.codepool import Sealed
from domain.redemption import DeliveredUnit


class SqlDeliveries:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, units: Sequence[DeliveredUnit]) -> None:
        if units:
            await self._db.execute(insert(deliveries), [_values(unit) for unit in units])

    async def of_order(self, order_id: int) -> list[DeliveredUnit]:
        rows = await self._db.execute(
            select(deliveries).where(deliveries.c.order_id == order_id).order_by(deliveries.c.unit)
        )
        return [_unit(row) for row in rows.mappings()]

    async def by_token_hash(self, token_hash: bytes) -> DeliveredUnit | None:
        row = (await self._db.execute(select(deliveries).where(deliveries.c.token_hash == token_hash))).mappings()
        found = row.first()
        return _unit(found) if found else None

    async def count_reveal(self, unit_id: int) -> None:
        await self._db.execute(
            update(deliveries).where(deliveries.c.id == unit_id).values(reveals=deliveries.c.reveals + 1)
        )

    async def sealed_by_other_keys(self, active: str, after_id: int, limit: int) -> list[tuple[str, DeliveredUnit]]:
        other = or_(deliveries.c.token_key_id != active, deliveries.c.content_key_id != active)
        rows = await self._db.execute(
            select(orders.c.number, deliveries)
            .join(orders, orders.c.id == deliveries.c.order_id)
            .where(deliveries.c.id > after_id, other)
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        return [(row["number"], _unit(row)) for row in rows.mappings()]

    async def reseal(self, units: Sequence[DeliveredUnit]) -> None:
        if units:  # SET the sealed columns only (named by the parameters), row by row
            statement = update(deliveries).where(deliveries.c.id == bindparam("row_id"))
            await self._db.execute(statement, [{"row_id": unit.id, **_sealed(unit)} for unit in units])


def _values(unit: DeliveredUnit) -> dict[str, Any]:
    return {
        "order_id": unit.order_id,
        "unit": unit.unit,
        "code_id": unit.code_id,
        "token_hash": unit.token_hash,
        **_sealed(unit),
        "delivered_at": unit.delivered_at,
        "delivered_by": unit.delivered_by,
    }


def _sealed(unit: DeliveredUnit) -> dict[str, Any]:
    content = unit.content
    return {
        "token_key_id": unit.token.key_id,
        "token_nonce": unit.token.nonce,
        "token_ciphertext": unit.token.ciphertext,
        "content_key_id": content.key_id if content else None,
        "content_nonce": content.nonce if content else None,
        "content_ciphertext": content.ciphertext if content else None,
    }


def _unit(row: RowMapping) -> DeliveredUnit:
    content = None
    if row["content_key_id"] is not None:
        content = Sealed(row["content_key_id"], bytes(row["content_nonce"]), bytes(row["content_ciphertext"]))
    return DeliveredUnit(
        id=row["id"],
        order_id=row["order_id"],
        unit=row["unit"],
        token_hash=bytes(row["token_hash"]),
        token=Sealed(row["token_key_id"], bytes(row["token_nonce"]), bytes(row["token_ciphertext"])),
        delivered_at=row["delivered_at"],
        delivered_by=row["delivered_by"],
        code_id=row["code_id"],
        content=content,
        reveals=row["reveals"],
    )
