"""Upstream suppliers, their synced catalogs, products' fulfilment sources and orders placed upstream, in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, insert, or_, select, union, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.engine import insert_for
from adapters.db.tables import (
    orders,
    product_sources,
    sourcing_rounds,
    upstream_orders,
    upstream_products,
    upstreams,
)
from domain.codepool import Sealed
from domain.errors import ValidationFailed
from domain.money import Money
from domain.orders import OrderStatus
from domain.suppliers import OPEN, Listing, PlacedUpstream, Source, Upstream, UpstreamStatus

# An upstream in stock that does not count its units (a top-up, say): plenty, as far as a buyer can tell.
UNCOUNTED = 1_000_000


class SqlSuppliers:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, upstream: Upstream) -> Upstream:
        values: dict[str, Any] = {
            "name": upstream.name,
            "base_url": upstream.base_url,
            "key_id": upstream.key_id,
            **_sealed(upstream),
            "created_at": upstream.created_at,
        }
        try:
            async with self._db.begin_nested():
                new_id = (
                    await self._db.execute(insert(upstreams).values(values).returning(upstreams.c.id))
                ).scalar_one()
        except IntegrityError:
            raise ValidationFailed({"name": "name_taken"}) from None
        return await self.get(new_id) or upstream

    async def get(self, upstream_id: int) -> Upstream | None:
        row = (await self._db.execute(select(upstreams).where(upstreams.c.id == upstream_id))).mappings().first()
        return _upstream(row) if row else None

    async def all(self) -> list[Upstream]:
        rows = await self._db.execute(select(upstreams).order_by(upstreams.c.name))
        return [_upstream(row) for row in rows.mappings()]

    async def replace_listings(self, upstream_id: int, listings: Sequence[Listing], synced_at: datetime) -> None:
        await self._db.execute(delete(upstream_products).where(upstream_products.c.upstream_id == upstream_id))
        if listings:
            await self._db.execute(
                insert(upstream_products),
                [
                    {"upstream_id": upstream_id, "sku": item.sku, "name": item.name, "price_minor": item.price.minor,
                     "currency": item.price.currency, "delivery_kind": item.delivery_kind, "in_stock": item.in_stock,
                     "available": item.available, "synced_at": item.synced_at}
                    for item in listings
                ],
            )  # fmt: skip
        await self._db.execute(update(upstreams).where(upstreams.c.id == upstream_id).values(synced_at=synced_at))

    async def listings(self, upstream_id: int | None = None) -> list[Listing]:
        query = select(upstream_products).order_by(upstream_products.c.upstream_id, upstream_products.c.sku)
        if upstream_id is not None:
            query = query.where(upstream_products.c.upstream_id == upstream_id)
        return [
            Listing(r.upstream_id, r.sku, r.name, Money(r.price_minor, r.currency), r.delivery_kind, r.in_stock,
                    r.available, r.synced_at)
            for r in await self._db.execute(query)
        ]  # fmt: skip

    async def sources(self, product_id: int) -> list[Source]:
        rows = await self._db.execute(
            select(product_sources)
            .where(product_sources.c.product_id == product_id)
            .order_by(product_sources.c.position)
        )
        return [
            Source(r.position, r.upstream_id, r.upstream_sku,
                   Money(r.cost_ceiling_minor) if r.cost_ceiling_minor is not None else None)
            for r in rows
        ]  # fmt: skip

    async def set_sources(self, product_id: int, sources: Sequence[Source]) -> None:
        await self._db.execute(delete(product_sources).where(product_sources.c.product_id == product_id))
        if sources:
            await self._db.execute(
                insert(product_sources),
                [
                    {"product_id": product_id, "position": s.position, "upstream_id": s.upstream_id,
                     "upstream_sku": s.upstream_sku,
                     "cost_ceiling_minor": s.cost_ceiling.minor if s.cost_ceiling else None}
                    for s in sources
                ],
            )  # fmt: skip

    async def upstream_orders(self, order_id: int) -> list[PlacedUpstream]:
        rows = await self._db.execute(
            select(upstream_orders).where(upstream_orders.c.order_id == order_id).order_by(upstream_orders.c.id)
        )
        return [_placed(row) for row in rows.mappings()]

    async def record_upstream_order(self, placed: PlacedUpstream) -> PlacedUpstream:
        values = {
            "order_id": placed.order_id,
            "upstream_id": placed.upstream_id,
            "out_trade_no": placed.out_trade_no,
            "upstream_order_no": placed.upstream_order_no or None,
            "units": placed.units,
            "status": placed.status.value,
            "unit_cost_minor": placed.unit_cost.minor if placed.unit_cost else None,
            "error": placed.error[:64],
            "created_at": placed.created_at,
            "updated_at": placed.updated_at,
        }
        # What was received and whether staff abandoned it are written on their own (`count_received`, `abandon`):
        # an answer recorded late never undoes them.
        changing = {
            k: v for k, v in values.items() if k not in ("order_id", "upstream_id", "out_trade_no", "created_at")
        }
        upsert = (
            insert_for(self._db, upstream_orders)
            .values(values)
            .on_conflict_do_update(index_elements=[upstream_orders.c.upstream_id, upstream_orders.c.out_trade_no],
                                   set_=changing)
            .returning(upstream_orders.c.id)
        )  # fmt: skip
        new_id = (await self._db.execute(upsert)).scalar_one()
        return replace(placed, id=new_id)

    async def upstream_stock(self, product_ids: Sequence[int]) -> dict[int, int]:
        listed = and_(
            upstream_products.c.upstream_id == product_sources.c.upstream_id,
            upstream_products.c.sku == product_sources.c.upstream_sku,
        )
        within_ceiling = or_(
            product_sources.c.cost_ceiling_minor.is_(None),
            upstream_products.c.price_minor <= product_sources.c.cost_ceiling_minor,
        )
        rows = await self._db.execute(
            select(product_sources.c.product_id, func.sum(func.coalesce(upstream_products.c.available, UNCOUNTED)))
            .join(upstream_products, listed)
            .where(product_sources.c.product_id.in_(product_ids), upstream_products.c.in_stock, within_ceiling)
            .group_by(product_sources.c.product_id)
        )
        return {product_id: int(units) for product_id, units in rows}

    async def waiting(self, updated_before: datetime, limit: int) -> list[int]:
        upstream_sourced = exists().where(
            product_sources.c.product_id == orders.c.product_id, product_sources.c.upstream_id.is_not(None)
        )
        delivering = select(orders.c.id.label("order_id")).where(
            orders.c.status == OrderStatus.DELIVERING.value,
            orders.c.attention.is_(None),
            orders.c.updated_at < updated_before,
            upstream_sourced,
        )
        held_upstream = select(upstream_orders.c.order_id).where(
            upstream_orders.c.status.in_([status.value for status in OPEN]),
            upstream_orders.c.abandoned_at.is_(None),
            upstream_orders.c.updated_at < updated_before,
        )
        both = union(delivering, held_upstream).subquery()
        rows = await self._db.execute(select(both.c.order_id).order_by(both.c.order_id).limit(limit))
        return list(rows.scalars())

    async def order_id_for(self, upstream_id: int, out_trade_no: str) -> int | None:
        query = select(upstream_orders.c.order_id).where(
            upstream_orders.c.upstream_id == upstream_id, upstream_orders.c.out_trade_no == out_trade_no
        )
        return (await self._db.execute(query)).scalar_one_or_none()

    async def sealed_by_other_keys(self, active: str, after_id: int, limit: int) -> list[Upstream]:
        other = or_(upstreams.c.secret_key_id != active, upstreams.c.webhook_key_id != active)
        rows = await self._db.execute(
            select(upstreams).where(upstreams.c.id > after_id, other).order_by(upstreams.c.id).limit(limit)
        )
        return [_upstream(row) for row in rows.mappings()]

    async def reseal(self, resealed: Sequence[Upstream]) -> None:
        if resealed:  # SET the sealed columns only (named by the parameters), row by row
            statement = update(upstreams).where(upstreams.c.id == bindparam("row_id"))
            await self._db.execute(statement, [{"row_id": u.id, **_sealed(u)} for u in resealed])

    async def upstream_order(self, upstream_id: int, out_trade_no: str) -> PlacedUpstream | None:
        query = select(upstream_orders).where(
            upstream_orders.c.upstream_id == upstream_id, upstream_orders.c.out_trade_no == out_trade_no
        )
        row = (await self._db.execute(query)).mappings().first()
        return _placed(row) if row else None

    async def count_received(self, upstream_order_id: int, received: int) -> None:
        await self._db.execute(
            update(upstream_orders).where(upstream_orders.c.id == upstream_order_id).values(received=received)
        )

    async def abandon(self, upstream_order_id: int, at: datetime) -> None:
        await self._db.execute(
            update(upstream_orders).where(upstream_orders.c.id == upstream_order_id).values(abandoned_at=at)
        )

    async def sourcing_round(self, order_id: int) -> int:
        query = select(sourcing_rounds.c.round).where(sourcing_rounds.c.order_id == order_id)
        return (await self._db.execute(query)).scalar_one_or_none() or 1

    async def next_sourcing_round(self, order_id: int) -> int:
        upsert = (
            insert_for(self._db, sourcing_rounds)
            .values(order_id=order_id, round=2)
            .on_conflict_do_update(index_elements=[sourcing_rounds.c.order_id],
                                   set_={"round": sourcing_rounds.c.round + 1})
            .returning(sourcing_rounds.c.round)
        )  # fmt: skip
        return int((await self._db.execute(upsert)).scalar_one())

    async def pool_unlisted(self, product_ids: Sequence[int]) -> set[int]:
        listed = select(product_sources.c.product_id).where(product_sources.c.upstream_id.is_(None))
        rows = await self._db.execute(
            select(product_sources.c.product_id)
            .where(product_sources.c.product_id.in_(product_ids), product_sources.c.product_id.not_in(listed))
            .distinct()
        )
        return set(rows.scalars())

    async def due_for_sync(self, synced_before: datetime) -> list[int]:
        rows = await self._db.execute(
            select(upstreams.c.id)
            .where(or_(upstreams.c.synced_at.is_(None), upstreams.c.synced_at < synced_before))
            .order_by(upstreams.c.id)
        )
        return list(rows.scalars())


def _sealed(upstream: Upstream) -> dict[str, Any]:
    webhook = upstream.webhook_secret
    return {
        "secret_key_id": upstream.secret.key_id,
        "secret_nonce": upstream.secret.nonce,
        "secret_ciphertext": upstream.secret.ciphertext,
        "webhook_key_id": webhook.key_id if webhook else None,
        "webhook_nonce": webhook.nonce if webhook else None,
        "webhook_ciphertext": webhook.ciphertext if webhook else None,
    }


def _upstream(row: RowMapping) -> Upstream:
    webhook = (
        Sealed(row["webhook_key_id"], row["webhook_nonce"], row["webhook_ciphertext"])
        if row["webhook_key_id"]
        else None
    )
    return Upstream(
        id=row["id"],
        name=row["name"],
        base_url=row["base_url"],
        key_id=row["key_id"],
        secret=Sealed(row["secret_key_id"], row["secret_nonce"], row["secret_ciphertext"]),
        webhook_secret=webhook,
        created_at=row["created_at"],
        synced_at=row["synced_at"],
    )


def _placed(row: RowMapping) -> PlacedUpstream:
    return PlacedUpstream(
        id=row["id"],
        order_id=row["order_id"],
        upstream_id=row["upstream_id"],
        out_trade_no=row["out_trade_no"],
        upstream_order_no=row["upstream_order_no"] or "",
        units=row["units"],
        status=UpstreamStatus(row["status"]),
        unit_cost=Money(row["unit_cost_minor"]) if row["unit_cost_minor"] is not None else None,
        error=row["error"],
        received=row["received"],
        abandoned_at=row["abandoned_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
