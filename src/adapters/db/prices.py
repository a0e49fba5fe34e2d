"""The merchant's price rules and product audiences in SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    delete,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.engine import insert_for
from adapters.db.tables import (
    product_audiences,
    products,
    quantity_breaks,
    reseller_prices,
    reseller_tiers,
    resellers,
    tier_prices,
)
from domain.catalog import Product
from domain.errors import ValidationFailed
from domain.money import Money
from domain.pricing import Audience, PriceList, QuantityBreak, Tier, TierPrice


class SqlPrices:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def tiers(self) -> list[Tier]:
        rows = await self._db.execute(select(reseller_tiers).order_by(reseller_tiers.c.name))
        return [Tier(row.name, row.id) for row in rows]

    async def add_tier(self, tier: Tier) -> Tier:
        try:
            async with self._db.begin_nested():
                new_id = (
                    await self._db.execute(insert(reseller_tiers).values(name=tier.name).returning(reseller_tiers.c.id))
                ).scalar_one()
        except IntegrityError:
            raise ValidationFailed({"name": "name_taken"}) from None
        return Tier(tier.name, new_id)

    async def price_lists(self, products_: Sequence[Product]) -> dict[int, PriceList]:
        return (await self.terms(products_))[1]

    async def terms(self, products_: Sequence[Product]) -> tuple[dict[int, Audience], dict[int, PriceList]]:
        ids = [p.id for p in products_ if p.id is not None]
        tiers: dict[int, dict[str, TierPrice]] = defaultdict(dict)
        overrides: dict[int, dict[int, Money]] = defaultdict(dict)
        breaks: dict[int, list[QuantityBreak]] = defaultdict(list)
        audience_tiers: dict[int, set[int]] = defaultdict(set)
        audience_sellers: dict[int, set[int]] = defaultdict(set)
        for row in await self._db.execute(_TERMS, {"b_ids": ids}):
            if row.term == "tier":
                price = None if row.price_minor is None else Money(row.price_minor)
                tiers[row.product_id][row.name] = TierPrice(price, row.discount_bp)
            elif row.term == "override":
                overrides[row.product_id][row.number] = Money(row.price_minor)
            elif row.term == "break":
                breaks[row.product_id].append(QuantityBreak(row.number, row.discount_bp))
            elif row.term == "audience_tier":
                audience_tiers[row.product_id].add(row.number)
            else:
                audience_sellers[row.product_id].add(row.number)
        audiences = {
            product_id: Audience(frozenset(audience_tiers[product_id]), frozenset(audience_sellers[product_id]))
            for product_id in set(audience_tiers) | set(audience_sellers)
        }
        lists = {
            p.id: PriceList(
                retail=p.retail_price,
                floor=p.floor_price or Money(0, p.retail_price.currency),
                tiers=tiers[p.id],
                overrides=overrides[p.id],
                breaks=tuple(sorted(breaks[p.id], key=lambda b: b.min_quantity)),
            )
            for p in products_
            if p.id is not None
        }
        return audiences, lists

    async def set_floor(self, product_id: int, floor: Money) -> None:
        await self._db.execute(
            update(products).where(products.c.id == product_id).values(floor_price_minor=floor.minor)
        )

    async def set_tier_price(self, tier_id: int, product_id: int, price: TierPrice | None) -> None:
        key = (tier_prices.c.tier_id == tier_id, tier_prices.c.product_id == product_id)
        if price is None:
            await self._db.execute(delete(tier_prices).where(*key))
            return
        values = {"price_minor": None if price.price is None else price.price.minor, "discount_bp": price.discount_bp}
        await self._db.execute(
            insert_for(self._db, tier_prices)
            .values(tier_id=tier_id, product_id=product_id, **values)
            .on_conflict_do_update(index_elements=[tier_prices.c.tier_id, tier_prices.c.product_id], set_=values)
        )

    async def set_breaks(self, product_id: int, breaks: Sequence[QuantityBreak]) -> None:
        await self._db.execute(delete(quantity_breaks).where(quantity_breaks.c.product_id == product_id))
        if breaks:
            await self._db.execute(
                insert(quantity_breaks),
                [
                    {"product_id": product_id, "min_quantity": b.min_quantity, "discount_bp": b.discount_bp}
                    for b in breaks
                ],
            )

    async def reseller_prices(self, reseller_id: int) -> dict[int, Money]:
        rows = await self._db.execute(
            select(reseller_prices.c.product_id, reseller_prices.c.price_minor).where(
                reseller_prices.c.reseller_id == reseller_id
            )
        )
        return {product_id: Money(price) for product_id, price in rows}

    async def set_reseller_price(self, reseller_id: int, product_id: int, price: Money | None) -> None:
        key = (reseller_prices.c.reseller_id == reseller_id, reseller_prices.c.product_id == product_id)
        if price is None:
            await self._db.execute(delete(reseller_prices).where(*key))
            return
        await self._db.execute(
            insert_for(self._db, reseller_prices)
            .values(reseller_id=reseller_id, product_id=product_id, price_minor=price.minor)
            .on_conflict_do_update(
                index_elements=[reseller_prices.c.reseller_id, reseller_prices.c.product_id],
                set_={"price_minor": price.minor},
            )
        )

    async def audiences(self, product_ids: Sequence[int]) -> dict[int, Audience]:
        rows = await self._db.execute(_AUDIENCES, {"b_ids": list(product_ids)})
        tiers: dict[int, set[int]] = defaultdict(set)
        sellers: dict[int, set[int]] = defaultdict(set)
        for row in rows:
            if row.tier_id is not None:
                tiers[row.product_id].add(row.tier_id)
            if row.reseller_id is not None:
                sellers[row.product_id].add(row.reseller_id)
        return {
            product_id: Audience(frozenset(tiers[product_id]), frozenset(sellers[product_id]))
            for product_id in set(tiers) | set(sellers)
        }

    async def set_audience(self, product_id: int, audience: Audience) -> None:
        await self._db.execute(delete(product_audiences).where(product_audiences.c.product_id == product_id))
        rows = [{"product_id": product_id, "tier_id": t, "reseller_id": None} for t in sorted(audience.tier_ids)]
        rows += [{"product_id": product_id, "tier_id": None, "reseller_id": r} for r in sorted(audience.reseller_ids)]
        if rows:
            await self._db.execute(insert(product_audiences), rows)


# Built once, executed with parameters (their compilation cached). What an offer is made of comes in one round trip:
# tier prices (by tier name), the merchant's prices for its own resellers, quantity breaks, and who may sell it.
_IDS = bindparam("b_ids", expanding=True)
_AUDIENCES = select(product_audiences).where(product_audiences.c.product_id.in_(_IDS))


def _terms(term: str, product_id: Any, name: Any, number: Any, price_minor: Any, discount_bp: Any) -> Select[Any]:
    return select(
        literal(term).label("term"),
        product_id.label("product_id"),
        name.label("name"),
        number.label("number"),
        price_minor.label("price_minor"),
        discount_bp.label("discount_bp"),
    )


_NAME, _NUMBER, _PRICE = cast(null(), String), cast(null(), Integer), cast(null(), BigInteger)
_TERMS = union_all(
    _terms(
        "tier", tier_prices.c.product_id, reseller_tiers.c.name, _NUMBER, tier_prices.c.price_minor,
        tier_prices.c.discount_bp,
    )
    .join(reseller_tiers, reseller_tiers.c.id == tier_prices.c.tier_id)
    .where(tier_prices.c.product_id.in_(_IDS)),
    _terms(
        "override", reseller_prices.c.product_id, _NAME, reseller_prices.c.reseller_id, reseller_prices.c.price_minor,
        _NUMBER,
    )
    .join(resellers, resellers.c.id == reseller_prices.c.reseller_id)
    .where(reseller_prices.c.product_id.in_(_IDS), resellers.c.parent_id.is_(None)),
    _terms(
        "break", quantity_breaks.c.product_id, _NAME, quantity_breaks.c.min_quantity, _PRICE,
        quantity_breaks.c.discount_bp,
    ).where(quantity_breaks.c.product_id.in_(_IDS)),
    _terms(
        "audience_tier", product_audiences.c.product_id, _NAME, product_audiences.c.tier_id, _PRICE, _NUMBER
    ).where(product_audiences.c.product_id.in_(_IDS), product_audiences.c.tier_id.is_not(None)),
    _terms(
        "audience_reseller", product_audiences.c.product_id, _NAME, product_audiences.c.reseller_id, _PRICE, _NUMBER
    ).where(product_audiences.c.product_id.in_(_IDS), product_audiences.c.reseller_id.is_not(None)),
)  # fmt: skip
