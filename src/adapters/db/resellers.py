"""Resellers in SQL."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import resellers, shop_products
from domain.errors import ValidationFailed
from domain.money import Money
from domain.orders import Contact, ContactKind
from domain.paging import Page, PageRequest
from domain.resellers import Reseller, ResellerStatus, Upstream
from domain.shops import Shop


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
                    tier_id=reseller.tier_id,
                    markup_bp=reseller.markup_bp,
                    created_at=reseller.created_at,
                )
                .returning(resellers.c.id)
            )
        ).scalar_one()
        return await self.get(new_id) or reseller

    async def save(self, reseller: Reseller) -> None:
        await self._db.execute(
            update(resellers)
            .where(resellers.c.id == reseller.id)
            .values(
                status=reseller.status.value,
                disabled_by=reseller.disabled_by.value if reseller.disabled_by else None,
                credit_limit_minor=reseller.credit_limit.minor,
                tier_id=reseller.tier_id,
                markup_bp=reseller.markup_bp,
            )
        )

    async def page(self, page: PageRequest, parent_id: int | None = None) -> Page[Reseller]:
        where = [resellers.c.parent_id == parent_id] if parent_id is not None else []
        total = (await self._db.execute(select(func.count()).select_from(resellers).where(*where))).scalar_one()
        rows = await self._db.execute(
            select(*_TERMS).where(*where).order_by(resellers.c.id.desc()).limit(page.size).offset(page.offset)
        )
        return Page([_reseller(row) for row in rows.mappings()], total, page)

    async def top_level(self) -> list[Reseller]:
        rows = await self._db.execute(select(*_TERMS).where(resellers.c.parent_id.is_(None)).order_by(resellers.c.name))
        return [_reseller(row) for row in rows.mappings()]

    async def get(self, reseller_id: int) -> Reseller | None:
        row = (await self._db.execute(_BY_ID, {"b_id": reseller_id})).mappings().first()
        return _reseller(row) if row else None

    async def shop(self, reseller_id: int) -> Shop | None:
        row = (await self._db.execute(select(*_SHOP).where(resellers.c.id == reseller_id))).mappings().first()
        return _shop(row) if row else None

    async def shop_by_slug(self, slug: str) -> Shop | None:
        row = (await self._db.execute(select(*_SHOP).where(resellers.c.shop_slug == slug))).mappings().first()
        return _shop(row) if row else None

    async def save_shop(self, shop: Shop) -> None:
        change = (
            update(resellers)
            .where(resellers.c.id == shop.reseller_id)
            .values(
                shop_slug=shop.slug,
                shop_enabled=shop.enabled,
                shop_notice=shop.notice,
                shop_theme=shop.theme,
                shop_markup_bp=shop.markup_bp,
            )
        )
        try:
            async with self._db.begin_nested():  # a taken address must leave the transaction usable
                await self._db.execute(change)
        except IntegrityError:
            raise ValidationFailed({"slug": "slug_taken"}) from None

    async def logo(self, reseller_id: int) -> tuple[str, bytes] | None:
        query = select(resellers.c.shop_logo_type, resellers.c.shop_logo).where(resellers.c.id == reseller_id)
        row = (await self._db.execute(query)).first()
        return (row[0], row[1]) if row and row[0] and row[1] else None

    async def save_logo(self, reseller_id: int, logo: tuple[str, bytes] | None) -> None:
        media_type, data = logo or (None, None)
        await self._db.execute(
            update(resellers).where(resellers.c.id == reseller_id).values(shop_logo_type=media_type, shop_logo=data)
        )

    async def shop_products(self, reseller_id: int) -> dict[int, Money | None]:
        rows = await self._db.execute(
            select(shop_products.c.product_id, shop_products.c.price_minor)
            .where(shop_products.c.reseller_id == reseller_id)
            .order_by(shop_products.c.position, shop_products.c.product_id)
        )
        return {product_id: None if price is None else Money(price) for product_id, price in rows}

    async def set_shop_products(self, reseller_id: int, chosen: dict[int, Money | None]) -> None:
        await self._db.execute(delete(shop_products).where(shop_products.c.reseller_id == reseller_id))
        if chosen:
            await self._db.execute(
                insert(shop_products),
                [
                    {"reseller_id": reseller_id, "product_id": product_id, "position": position,
                     "price_minor": None if price is None else price.minor}
                    for position, (product_id, price) in enumerate(chosen.items())
                ],
            )  # fmt: skip


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
        tier_id=row["tier_id"],
        markup_bp=row["markup_bp"],
        disabled_by=Upstream(row["disabled_by"]) if row["disabled_by"] else None,
    )


# Every column but the logo: the list and the lookups need not carry its bytes.
_TERMS = [column for column in resellers.c if column.name != "shop_logo"]
_BY_ID = select(*_TERMS).where(resellers.c.id == bindparam("b_id"))  # built once: its compilation cached
_SHOP = [
    resellers.c.id,
    resellers.c.name,
    resellers.c.shop_slug,
    resellers.c.shop_enabled,
    resellers.c.shop_notice,
    resellers.c.shop_theme,
    resellers.c.shop_markup_bp,
    resellers.c.shop_logo_type,
]


def _shop(row: RowMapping) -> Shop:
    return Shop(
        reseller_id=row["id"],
        name=row["name"],
        slug=row["shop_slug"],
        enabled=row["shop_enabled"],
        notice=row["shop_notice"],
        theme=row["shop_theme"],
        markup_bp=row["shop_markup_bp"],
        logo_type=row["shop_logo_type"],
    )
