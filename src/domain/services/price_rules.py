"""The merchant's price rules for resellers: tiers, each product's floor, tier prices, quantity breaks,
prices for single resellers, and who may sell the product — each change audited, each rule previewed
with the quote it produces and how that quote was reached."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.audit import Actor, AuditEntry
from domain.catalog import Product
from domain.errors import NotFound, ValidationFailed
from domain.money import InvalidAmount, Money
from domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.pricing import (
    WHOLE,
    Audience,
    PriceList,
    QuantityBreak,
    Quote,
    Tier,
    TierPrice,
    parse_percent,
    parse_price,
    quote,
)
from domain.resellers import Reseller

TIER_NAME_MAX = 32
MAX_BREAKS = 10
MAX_BREAK_QUANTITY = 1_000_000  # far past any order, and well inside the database's integer


@dataclass(frozen=True, slots=True)
class Preview:
    """What a kind of buyer pays for a quantity under the current rules."""

    kind: str  # retail | tier | reseller: a tier may well be named "retail"
    who: str  # empty for retail, else the tier's or the reseller's name
    quantity: int
    quote: Quote


@dataclass(frozen=True, slots=True)
class ProductRules:
    product: Product
    prices: PriceList
    tiers: list[Tier]
    audience: Audience
    resellers: list[Reseller]  # the merchant's own resellers: who may get a price of their own
    previews: list[Preview]


@dataclass(frozen=True, slots=True)
class PriceRules:
    uow: UnitOfWorkFactory
    clock: Clock

    async def tiers(self) -> list[Tier]:
        async with self.uow(read_only=True) as uow:
            return await uow.prices.tiers()

    async def add_tier(self, name: str, actor: Actor) -> Tier:
        name = name.strip()
        if not name:
            raise ValidationFailed({"name": "required"})
        if len(name) > TIER_NAME_MAX:
            raise ValidationFailed({"name": "too_long"})
        async with self.uow() as uow:
            tier = await uow.prices.add_tier(Tier(name))
            await self._audit(uow, actor, "tier.create", name, tier=tier.id)
            await uow.commit()
        return tier

    async def of_product(self, product_id: int) -> ProductRules:
        async with self.uow(read_only=True) as uow:
            product = await _product(uow, product_id)
            prices = (await uow.prices.price_lists([product]))[product_id]
            tiers = await uow.prices.tiers()
            audience = (await uow.prices.audiences([product_id])).get(product_id, Audience())
            top = await uow.resellers.top_level()
        return ProductRules(product, prices, tiers, audience, top, _previews(prices, tiers, top))

    async def set_floor(self, product_id: int, floor: str, actor: Actor) -> None:
        async with self.uow() as uow:
            product = await _product(uow, product_id)
            amount = _amount(floor or "0", "floor", product.retail_price.currency)
            if amount > product.retail_price:
                raise ValidationFailed({"floor": "above_retail"})
            await uow.prices.set_floor(product_id, amount)
            await self._audit(uow, actor, "price.floor", product.sku, floor=amount.minor)
            await uow.commit()

    async def set_tier_price(self, product_id: int, tier_id: int, price: str, discount: str, actor: Actor) -> None:
        """A fixed price, or a discount off retail, for the tier; both empty removes the tier's rule."""
        async with self.uow() as uow:
            product = await _product(uow, product_id)
            if tier_id not in {t.id for t in await uow.prices.tiers()}:
                raise NotFound(f"no tier #{tier_id}")
            rule: TierPrice | None = None
            if price.strip() and discount.strip():
                raise ValidationFailed({"price": "price_or_discount"})
            if price.strip():
                rule = TierPrice(price=parse_price(price, "price", product.retail_price.currency))
            elif discount.strip():
                rule = TierPrice(discount_bp=parse_percent(discount, "discount", most=WHOLE))
            await uow.prices.set_tier_price(tier_id, product_id, rule)
            details: dict[str, Any] = {"tier": tier_id}
            if rule is not None:
                details |= {"price": rule.price.minor if rule.price else None, "discount_bp": rule.discount_bp}
            await self._audit(uow, actor, "price.tier", product.sku, **details)
            await uow.commit()

    async def set_breaks(self, product_id: int, lines: Sequence[tuple[str, str]], actor: Actor) -> None:
        """Quantity breaks as (minimum quantity, discount %) pairs; empty pairs are skipped."""
        breaks: dict[int, int] = {}
        for minimum, discount in lines:
            if not minimum.strip() and not discount.strip():
                continue
            try:
                quantity = int(minimum.strip())
            except ValueError:
                raise ValidationFailed({"min_quantity": "invalid_quantity"}) from None
            if not 2 <= quantity <= MAX_BREAK_QUANTITY:
                raise ValidationFailed({"min_quantity": "invalid_quantity"})
            if quantity in breaks:
                raise ValidationFailed({"min_quantity": "duplicate_quantity"})
            breaks[quantity] = parse_percent(discount, "discount", most=WHOLE)
        if len(breaks) > MAX_BREAKS:
            raise ValidationFailed({"min_quantity": "too_many_breaks"})
        async with self.uow() as uow:
            product = await _product(uow, product_id)
            await uow.prices.set_breaks(product_id, [QuantityBreak(q, d) for q, d in sorted(breaks.items())])
            await self._audit(uow, actor, "price.breaks", product.sku, breaks=sorted(breaks.items()))
            await uow.commit()

    async def set_reseller_price(self, product_id: int, reseller_id: int, price: str, actor: Actor) -> None:
        """The merchant's price for one of its own resellers (empty: back to its tier)."""
        async with self.uow() as uow:
            product = await _product(uow, product_id)
            reseller = await uow.resellers.get(reseller_id)
            if reseller is None or reseller.parent_id is not None:
                raise ValidationFailed({"reseller_id": "invalid_choice"})  # sub-resellers are priced by parents
            amount = parse_price(price, "price", product.retail_price.currency) if price.strip() else None
            await uow.prices.set_reseller_price(reseller_id, product_id, amount)
            details = {"reseller": reseller_id, "price": amount.minor if amount else None}
            await self._audit(uow, actor, "price.reseller", product.sku, **details)
            await uow.commit()

    async def set_audience(
        self, product_id: int, tier_ids: Sequence[int], reseller_ids: Sequence[int], actor: Actor
    ) -> None:
        """Who among the merchant's own resellers may sell the product; nobody chosen: all of them."""
        async with self.uow() as uow:
            product = await _product(uow, product_id)
            known_tiers = {t.id for t in await uow.prices.tiers()}
            if not set(tier_ids) <= known_tiers:
                raise ValidationFailed({"tier_ids": "invalid_choice"})
            for reseller_id in reseller_ids:
                found = await uow.resellers.get(reseller_id)
                if found is None or found.parent_id is not None:
                    raise ValidationFailed({"reseller_ids": "invalid_choice"})
            audience = Audience(frozenset(tier_ids), frozenset(reseller_ids))
            await uow.prices.set_audience(product_id, audience)
            details = {"tiers": sorted(tier_ids), "resellers": sorted(reseller_ids)}
            await self._audit(uow, actor, "price.audience", product.sku, **details)
            await uow.commit()

    async def _audit(self, uow: UnitOfWork, actor: Actor, action: str, target: str, **details: Any) -> None:
        await uow.audit.record(AuditEntry(self.clock.now(), actor, action, target, details))


def _previews(prices: PriceList, tiers: list[Tier], resellers: list[Reseller]) -> list[Preview]:
    """Retail, every tier and every reseller with a price of its own, at one unit and at each break."""
    quantities = [1, *(b.min_quantity for b in prices.breaks)]
    found = [Preview("retail", "", 1, quote(prices, 1))]
    for tier in tiers:
        found += [Preview("tier", tier.name, q, quote(prices, q, tier=tier.name)) for q in quantities]
    for reseller in resellers:
        if reseller.id in prices.overrides:
            found += [
                Preview("reseller", reseller.name, q, quote(prices, q, reseller_id=reseller.id)) for q in quantities
            ]
    return found


async def _product(uow: UnitOfWork, product_id: int) -> Product:
    product = await uow.products.get(product_id)
    if product is None:
        raise NotFound(f"no product #{product_id}")
    return product


def _amount(text: str, field: str, currency: str) -> Money:
    try:
        return Money.parse(text.strip(), currency)
    except InvalidAmount:
        raise ValidationFailed({field: "invalid_amount"}) from None
