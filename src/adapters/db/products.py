from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import products
from domain.catalog import DeliveryKind, Product, ProductQuery, SkuTaken
from domain.money import Money
from domain.paging import Page, PageRequest


class SqlProducts:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self._db = connection
        self._lock = lock

    async def get(self, product_id: int) -> Product | None:
        return await self._one(_BY_ID, {"b_id": product_id})

    async def by_sku(self, sku: str, *, lock: bool = True) -> Product | None:
        return await self._one(_BY_SKU, {"b_sku": sku}, lock=lock)

    async def by_ids(self, product_ids: Sequence[int]) -> list[Product]:
        rows = await self._db.execute(select(products).where(products.c.id.in_(product_ids)))
        found = {product.id: product for product in map(_product, rows.mappings())}
        return [found[i] for i in product_ids if i in found]

    async def add(self, product: Product) -> Product:
        try:
            async with self._db.begin_nested():
                new_id = (
                    await self._db.execute(insert(products).values(_values(product)).returning(products.c.id))
                ).scalar_one()
        except IntegrityError as duplicate:
            raise SkuTaken(product.sku) from duplicate
        return await self.get(new_id) or product

    async def save(self, product: Product) -> None:
        await self._db.execute(update(products).where(products.c.id == product.id).values(_values(product)))

    async def search(self, query: ProductQuery, page: PageRequest) -> Page[Product]:
        conditions = []
        if text := query.text.strip():
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(
                or_(
                    *(
                        column.ilike(pattern, escape="\\")
                        for column in (products.c.sku, products.c.name, products.c.brand)
                    )
                )
            )
        if query.category:
            conditions.append(products.c.category == query.category)
        if query.delivery_kind is not None:
            conditions.append(products.c.delivery_kind == query.delivery_kind.value)
        if query.on_sale is not None:
            conditions.append(products.c.on_sale == query.on_sale)
        total = (await self._db.execute(select(func.count()).select_from(products).where(*conditions))).scalar_one()
        rows = await self._db.execute(
            select(products).where(*conditions).order_by(products.c.id.desc()).limit(page.size).offset(page.offset)
        )
        return Page([_product(row) for row in rows.mappings()], total, page)

    async def categories(self) -> list[str]:
        rows = await self._db.execute(
            select(products.c.category).where(products.c.category != "").distinct().order_by(products.c.category)
        )
        return list(rows.scalars())

    async def _one(
        self, lookup: tuple[Select[Any], Select[Any]], params: dict[str, Any], *, lock: bool = True
    ) -> Product | None:
        row = (await self._db.execute(lookup[self._lock and lock], params)).mappings().first()
        return _product(row) if row else None


def _lookup(condition: ColumnElement[bool]) -> tuple[Select[Any], Select[Any]]:
    """One product by `condition`, built once: as read (index False) and locked FOR UPDATE (True)."""
    query = select(products).where(condition)
    return query, query.with_for_update()


_BY_ID = _lookup(products.c.id == bindparam("b_id"))
_BY_SKU = _lookup(products.c.sku == bindparam("b_sku"))


def _values(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "name": product.name,
        "brand": product.brand,
        "category": product.category,
        "face_value_minor": product.face_value.minor,
        "retail_price_minor": product.retail_price.minor,
        "currency": product.retail_price.currency,
        "delivery_kind": product.delivery_kind.value,
        "usage_instructions": product.usage_instructions,
        "on_sale": product.on_sale,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def _product(row: RowMapping) -> Product:
    return Product(
        id=row["id"],
        sku=row["sku"],
        name=row["name"],
        brand=row["brand"],
        category=row["category"],
        face_value=Money(row["face_value_minor"], row["currency"]),
        retail_price=Money(row["retail_price_minor"], row["currency"]),
        delivery_kind=DeliveryKind(row["delivery_kind"]),
        usage_instructions=row["usage_instructions"],
        on_sale=row["on_sale"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        floor_price=Money(row["floor_price_minor"], row["currency"]),
    )
