"""Resellers' one-click shops: the reseller sets one up, buyers browse it and buy at the shop's prices.

An order placed in a shop carries its seller and the unit cost of every level of the seller's chain,
fixed at placement; delivery posts the split from them (each reseller's margin to its commission account).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.audit import Actor, AuditEntry
from domain.catalog import Product, normalize_sku
from domain.errors import NotFound, ValidationFailed
from domain.money import Money
from domain.orders import Order, OrderRequest, SellerTerms, quantity_to_price
from domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.pricing import parse_price
from domain.resellers import Reseller, ResellerDisabled, check_active
from domain.services.offers import Offer, chain_of, offers, offers_on_sale
from domain.services.ordering import NoSuchOrder, Ordering
from domain.services.resellers import find_reseller
from domain.services.sourced_stock import sellable_counts
from domain.shops import Shop, ShopDraft, ShopItem, logo_type

MAX_PRODUCTS = 200


class ShopClosed(NotFound):
    """No open shop at this address (never opened, switched off, or its reseller disabled)."""

    code = "shop_closed"


@dataclass(frozen=True, slots=True)
class ShopChoice:
    """A product the reseller may put in its shop: its cost, its own price if set, and the buyers' price."""

    offer: Offer
    chosen: bool
    own_price: Money | None
    price: Money


@dataclass(frozen=True, slots=True)
class Shops:
    uow: UnitOfWorkFactory
    ordering: Ordering
    clock: Clock

    # ---- the reseller's side (portal) ----

    async def settings(self, reseller_id: int) -> Shop:
        async with self.uow(read_only=True) as uow:
            return await _shop_of(uow, reseller_id)

    async def configure(self, reseller_id: int, draft: ShopDraft, actor: Actor) -> Shop:
        async with self.uow() as uow:
            shop = (await _shop_of(uow, reseller_id)).configured(draft)
            await uow.resellers.save_shop(shop)
            details = {"slug": shop.slug, "enabled": shop.enabled, "markup_bp": shop.markup_bp}
            await self._audit(uow, actor, "shop.settings", shop, details)
            await uow.commit()
        return shop

    async def set_logo(self, reseller_id: int, data: bytes | None, actor: Actor) -> None:
        """A new logo (PNG, JPEG or GIF, size-checked), or none."""
        logo = (logo_type(data), data) if data is not None else None
        async with self.uow() as uow:
            shop = await _shop_of(uow, reseller_id)
            await uow.resellers.save_logo(reseller_id, logo)
            await self._audit(uow, actor, "shop.logo", shop, {"bytes": len(data) if data else 0})
            await uow.commit()

    async def own_logo(self, reseller_id: int) -> tuple[str, bytes]:
        """The reseller's logo as its portal previews it, open shop or not: (media type, bytes)."""
        async with self.uow(read_only=True) as uow:
            logo = await uow.resellers.logo(reseller_id)
        if logo is None:
            raise NotFound(f"reseller #{reseller_id} has no logo")
        return logo

    async def choices(self, reseller_id: int) -> list[ShopChoice]:
        """Every product on sale the reseller may sell, chosen ones first, with cost and buyers' price."""
        async with self.uow(read_only=True) as uow:
            shop = await _shop_of(uow, reseller_id)
            chain = await chain_of(uow, await find_reseller(uow, reseller_id))
            offered = await offers_on_sale(uow, chain)
            chosen = await uow.resellers.shop_products(reseller_id)
        found = [
            ShopChoice(offer, offer.product.id in chosen, own, shop.price(offer.cost.unit, own))
            for offer in offered
            for own in [chosen.get(offer.product.id or 0)]
        ]
        order = list(chosen)
        return sorted(found, key=lambda c: (not c.chosen, order.index(c.offer.product.id) if c.chosen else 0))

    async def choose(self, reseller_id: int, prices: Mapping[int, str], actor: Actor) -> None:
        """The shop offers exactly these products (id → own price, empty for the default markup); a price
        below what the reseller pays is refused."""
        if len(prices) > MAX_PRODUCTS:
            raise ValidationFailed({"products": "too_many"})
        async with self.uow() as uow:
            shop = await _shop_of(uow, reseller_id)
            chain = await chain_of(uow, await find_reseller(uow, reseller_id))
            offered = await offers(uow, chain, await uow.products.by_ids(list(prices)))
            chosen: dict[int, Money | None] = {}
            for product_id, text in prices.items():
                if product_id not in offered:
                    raise ValidationFailed({"products": "invalid_choice"})
                own = parse_price(text, f"price_{product_id}") if text.strip() else None
                if own is not None and own < offered[product_id].cost.unit:
                    raise ValidationFailed({f"price_{product_id}": "below_own_cost"})
                chosen[product_id] = own
            await uow.resellers.set_shop_products(reseller_id, chosen)
            await self._audit(uow, actor, "shop.products", shop, {"products": len(chosen)})
            await uow.commit()

    # ---- the buyers' side (/s/<slug>) ----

    async def storefront(self, slug: str) -> tuple[Shop, list[ShopItem]]:
        """The open shop and what it offers now, with live stock (sold out the moment the pool is empty)."""
        async with self.uow(read_only=True) as uow:
            shop, chain = await _open(uow, slug)
            chosen = await uow.resellers.shop_products(shop.reseller_id)
            items = await _items(uow, shop, chain, await uow.products.by_ids(list(chosen)), chosen)
        return shop, [item for item, _ in items]

    async def open_shop(self, slug: str) -> Shop:
        """The open shop at this address, for its look on pages that show no products; else ShopClosed."""
        async with self.uow(read_only=True) as uow:
            shop, _ = await _open(uow, slug)
        return shop

    async def item(self, slug: str, sku: str) -> tuple[Shop, ShopItem, Product]:
        """One product of the open shop (its page, and the stock line that page polls)."""
        async with self.uow(read_only=True) as uow:
            shop, chain = await _open(uow, slug)
            chosen = await uow.resellers.shop_products(shop.reseller_id)
            product = await uow.products.by_sku(normalize_sku(sku))
            found = await _items(uow, shop, chain, [product] if product else [], chosen)
        if not found:
            raise NotFound(f"{slug} does not sell {sku}")
        item, product = found[0]
        return shop, item, product

    async def place(self, slug: str, request: OrderRequest) -> Order:
        """An order at the shop's price, carrying its chain; the quantity's breaks shape every level's cost."""
        quantity = quantity_to_price(request.quantity, self.ordering.policy)
        async with self.uow(read_only=True) as uow:
            shop, chain = await _open(uow, slug)
            chosen = await uow.resellers.shop_products(shop.reseller_id)
            product = await uow.products.by_sku(normalize_sku(request.sku))
            if product is None or product.id not in chosen:
                raise NotFound(f"{slug} does not sell {request.sku}")
            offer = (await offers(uow, chain, [product], quantity)).get(product.id)
        if offer is None:
            raise NotFound(f"{slug} does not sell {request.sku}")
        price = shop.price(offer.cost.unit, chosen[product.id])
        if not offer.sellable_at(price):
            raise NotFound(f"{slug} cannot sell {request.sku} below cost")
        return await self.ordering.place(request, seller=SellerTerms(shop.reseller_id, price, offer.chain))

    async def logo(self, slug: str) -> tuple[str, bytes]:
        async with self.uow(read_only=True) as uow:
            shop, _ = await _open(uow, slug)
            logo = await uow.resellers.logo(shop.reseller_id)
        if logo is None:
            raise NotFound(f"{slug} has no logo")
        return logo

    async def look_up(
        self,
        slug: str,
        number: str,
        contact: str,
        *,
        ip: str | None = None,
        device: str | None = None,
        solution: str = "",
    ) -> tuple[Order, str]:
        """As the shop's lookup (the same risk rules for lookups first): only this shop's orders are found, with one
        answer for every miss."""
        async with self.uow(read_only=True) as uow:
            shop, _ = await _open(uow, slug)
        order, key = await self.ordering.look_up(number, contact, ip=ip, device=device, solution=solution)
        if order.seller_id != shop.reseller_id:
            raise NoSuchOrder("no such order")
        return order, key

    async def of_order(self, order: Order) -> Shop | None:
        """The shop an order was placed in, for its page's look and its way back, while it is open; else None
        (the merchant's own look)."""
        if order.seller_id is None:
            return None
        async with self.uow(read_only=True) as uow:
            shop = await uow.resellers.shop(order.seller_id)
            if shop is None or shop.slug is None:
                return None
            try:
                opened, _ = await _open(uow, shop.slug)
            except ShopClosed:
                return None
        return opened

    async def _audit(self, uow: UnitOfWork, actor: Actor, action: str, shop: Shop, details: dict[str, object]) -> None:
        details = {"reseller": shop.reseller_id} | details
        await uow.audit.record(AuditEntry(self.clock.now(), actor, action, shop.name, details))


async def _open(uow: UnitOfWork, slug: str) -> tuple[Shop, list[Reseller]]:
    """The shop at this address and its seller's chain, if the shop is open and every reseller of the chain
    is active."""
    shop = await uow.resellers.shop_by_slug(slug.strip().lower())
    if shop is None or not shop.is_open:
        raise ShopClosed(f"no open shop at {slug!r}")
    chain = await chain_of(uow, await find_reseller(uow, shop.reseller_id))
    try:
        check_active(chain)
    except ResellerDisabled:
        raise ShopClosed(f"the shop at {slug!r} is closed") from None
    return shop, chain


async def _items(
    uow: UnitOfWork, shop: Shop, chain: list[Reseller], products: list[Product], chosen: dict[int, Money | None]
) -> list[tuple[ShopItem, Product]]:
    """Of `products`, those the shop offers now — chosen, on sale, its chain may sell them at the shop's price —
    as buyers see them, with live stock."""
    candidates = [p for p in products if p.id in chosen and p.on_sale]
    offered = await offers(uow, chain, candidates)
    priced = {pid: shop.price(offer.cost.unit, chosen[pid]) for pid, offer in offered.items()}
    sellable = [p for p in candidates if p.id in offered and offered[p.id].sellable_at(priced[p.id])]
    stock = await sellable_counts(uow, [p.id or 0 for p in sellable])
    return [(_item(offered[p.id or 0], priced[p.id or 0], stock), p) for p in sellable]


def _item(offer: Offer, price: Money, stock: dict[int, int]) -> ShopItem:
    product = offer.product
    counted = product.delivery_kind.pooled
    return ShopItem(
        product.sku,
        product.name,
        product.brand,
        product.face_value,
        price,
        stock.get(product.id or 0, 0) if counted else None,
    )


async def _shop_of(uow: UnitOfWork, reseller_id: int) -> Shop:
    shop = await uow.resellers.shop(reseller_id)
    if shop is None:
        raise NotFound(f"no reseller #{reseller_id}")
    return shop
