"""Resellers in SQL."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import resellers
from domain.money import Money
from domain.orders import Contact, ContactKind
from domain.paging import Page, PageRequest
from domain.resellers import Reseller, ResellerStatus


class SqlResellers:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, reseller: Reseller) -> Reseller:
        new_id = (
            await self._db.execute(
                insert(resellers)
                .values(
                    name=reseller.name,
                    contact_kind=reseller.contact.kind.value,
                    contact=reseller.contact.value,
                    status=reseller.status.value,
                    credit_limit_minor=reseller.credit_limit.minor,
                    currency=reseller.credit_limit.currency,
                    parent_id=reseller.parent_id,
                    depth=reseller.depth,
                    created_at=reseller.created_at,
                )
                .returning(resellers.c.id)
            )
        ).scalar_one()
        return await self.get(new_id) or reseller

    async def page(self, page: PageRequest) -> Page[Reseller]:
        total = (await self._db.execute(select(func.count()).select_from(resellers))).scalar_one()
        rows = await self._db.execute(
            select(resellers).order_by(resellers.c.id.desc()).limit(page.size).offset(page.offset)
        )
        return Page([_reseller(row) for row in rows.mappings()], total, page)

    async def get(self, reseller_id: int) -> Reseller | None:
        row = (await self._db.execute(select(resellers).where(resellers.c.id == reseller_id))).mappings().first()
        return _reseller(row) if row else None


def _reseller(row: RowMapping) -> Reseller:
    return Reseller(
        id=row["id"],
        name=row["name"],
        contact=Contact(ContactKind(row["contact_kind"]), row["contact"]),
        credit_limit=Money(row["credit_limit_minor"], row["currency"]),
        status=ResellerStatus(row["status"]),
        created_at=row["created_at"],
        parent_id=row["parent_id"],
        depth=row["depth"],
    )
