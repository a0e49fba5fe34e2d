"""What a reseller may sell and what it pays: the merchant's rules applied down the reseller's chain.

Shared by the portal (its catalog and its sub-resellers' prices), the shops (buyers' prices and the
order's chain) and the admin's price previews: one place computes a reseller's cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.catalog import Product
from domain.errors import NotFound
from domain.money import Money
from domain.ports import UnitOfWork
from domain.pricing import Level, Quote, chain_quotes
from domain.resellers import Reseller


@dataclass(frozen=True, slots=True)
class Offer:
    """A product a reseller may sell, with what every level of its chain pays per unit (top first)."""

    product: Product
    quotes: tuple[Quote, ...]

    @property
    def cost(self) -> Quote:
        """What the reseller itself pays (the last level)."""
        return self.quotes[-1]

    def chain(self, chain: Sequence[Reseller]) -> tuple[tuple[int, Money], ...]:
        return tuple((reseller.id or 0, q.unit) for reseller, q in zip(chain, self.quotes, strict=True))


async def chain_of(uow: UnitOfWork, reseller: Reseller) -> list[Reseller]:
    """The reseller and its parents, the merchant's own reseller first."""
    chain = [reseller]
    while chain[0].parent_id is not None:
        parent = await uow.resellers.get(chain[0].parent_id)
        if parent is None:
            raise NotFound(f"no reseller #{chain[0].parent_id}")
        chain.insert(0, parent)
    return chain


async def offers(
    uow: UnitOfWork, chain: Sequence[Reseller], products: Sequence[Product], quantity: int = 1
) -> dict[int, Offer]:
    """The products of `products` the chain's seller may sell (the merchant's reseller at the top must be in
    each product's audience), each with the chain's unit costs for `quantity` units."""
    top = chain[0]
    audiences = await uow.prices.audiences([p.id for p in products if p.id is not None])
    visible = [
        p
        for p in products
        if p.id is not None and (p.id not in audiences or audiences[p.id].admits(top.id or 0, top.tier_id))
    ]
    if not visible:
        return {}
    lists = await uow.prices.price_lists(visible)
    tier_names = {tier.id: tier.name for tier in await uow.prices.tiers()}
    set_prices = [await uow.prices.reseller_prices(r.id or 0) if r.parent_id is not None else {} for r in chain]
    found: dict[int, Offer] = {}
    for product in visible:
        assert product.id is not None
        levels = [
            Level(
                reseller.id or 0,
                tier=tier_names.get(reseller.tier_id) if reseller.tier_id is not None else None,
                price_set_by_parent=prices.get(product.id),
                markup_bp=reseller.markup_bp,
            )
            for reseller, prices in zip(chain, set_prices, strict=True)
        ]
        found[product.id] = Offer(product, tuple(chain_quotes(lists[product.id], levels, quantity)))
    return found
