"""What a reseller may sell and what it pays: the merchant's rules applied down the reseller's chain.

Shared by the portal (its catalog and its sub-resellers' prices), the shops (buyers' prices and the
order's chain) and the admin's price previews: one place computes a reseller's cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from domain.catalog import Product, ProductQuery
from domain.errors import NotFound
from domain.money import Money
from domain.paging import PageRequest
from domain.ports import UnitOfWork
from domain.pricing import Level, Quote, chain_quotes
from domain.resellers import Reseller

PAGE = 200  # products read per query


@dataclass(frozen=True, slots=True)
class Offer:
    """A product a reseller may sell, with what every level of its chain pays per unit (top first)."""

    product: Product
    quotes: tuple[Quote, ...]
    reseller_ids: tuple[int, ...]  # the chain, top first, one per quote

    @property
    def cost(self) -> Quote:
        """What the reseller itself pays (the last level)."""
        return self.quotes[-1]

    @property
    def chain(self) -> tuple[tuple[int, Money], ...]:
        """Each level's id and unit cost, as an order keeps them for its split."""
        return tuple((reseller_id, q.unit) for reseller_id, q in zip(self.reseller_ids, self.quotes, strict=True))

    def sellable_at(self, price: Money) -> bool:
        """Whether selling at `price` leaves no level earning less than nothing: each level pays at least what
        the one above it pays (a parent's cost can rise after it set a price below it)."""
        units = [q.unit for q in self.quotes] + [price]
        return all(above <= below for above, below in pairwise(units))


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
    uow: UnitOfWork,
    chain: Sequence[Reseller],
    products: Sequence[Product],
    quantity: int = 1,
    *,
    sellable_only: bool = True,
) -> dict[int, Offer]:
    """The products of `products` the chain's seller may sell, each with the chain's unit costs for `quantity`
    units: the merchant's reseller at the top must be in the product's audience, and no level may be left
    paying more than the level below it pays (that product is not sold through this chain until prices agree;
    `sellable_only=False` keeps it, for a parent to set the price that mends it)."""
    top = chain[0]
    audiences, lists = await uow.prices.terms([p for p in products if p.id is not None])
    visible = [
        p
        for p in products
        if p.id is not None and (p.id not in audiences or audiences[p.id].admits(top.id or 0, top.tier_id))
    ]
    if not visible:
        return {}
    tiered = any(reseller.tier_id is not None for reseller in chain)
    tier_names = {tier.id: tier.name for tier in await uow.prices.tiers()} if tiered else {}
    set_prices = [await uow.prices.reseller_prices(r.id or 0) if r.parent_id is not None else {} for r in chain]
    ids = tuple(reseller.id or 0 for reseller in chain)
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
        offer = Offer(product, tuple(chain_quotes(lists[product.id], levels, quantity)), ids)
        if offer.sellable_at(offer.cost.unit) or not sellable_only:
            found[product.id] = offer
    return found


async def offers_on_sale(uow: UnitOfWork, chain: Sequence[Reseller], *, sellable_only: bool = True) -> list[Offer]:
    """Every product on sale the chain's seller may sell, at one unit, in the catalog's order. Read whole (a
    few hundred products at most) so that lists and their page counts show only what the reseller may sell."""
    found: list[Offer] = []
    number = 1
    while True:
        page = await uow.products.search(ProductQuery(on_sale=True), PageRequest(number, PAGE))
        offered = await offers(uow, chain, page.items, sellable_only=sellable_only)
        found += [offered[p.id] for p in page.items if p.id in offered]
        if not page.has_next:
            return found
        number += 1
