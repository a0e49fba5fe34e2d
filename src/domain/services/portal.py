"""A reseller's own view of the business: its orders, its sub-resellers and their prices.

Every method takes the signed-in reseller first and answers NotFound for anything that is not its own —
another reseller's order or sub-reseller looks exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain.audit import Actor, AuditEntry
from domain.catalog import Product
from domain.errors import NotFound, ValidationFailed
from domain.ledger import Account, AccountKind
from domain.money import Money
from domain.orders import Order, OrderEvent, OrderQuery
from domain.paging import Page, PageRequest
from domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.pricing import Quote, check_price_for_child, parse_price
from domain.resellers import Reseller, ResellerDraft, Upstream, check_active
from domain.services.offers import Offer, chain_of, offers, offers_on_sale
from domain.services.resellers import Resellers, find_reseller, save_terms
from domain.shops import Shop


@dataclass(frozen=True, slots=True)
class Overview:
    reseller: Reseller
    balance: Money
    earnings: Money  # the commission account: margins from its shop and its sub-resellers' sales
    shop: Shop
    sub_resellers: int


@dataclass(frozen=True, slots=True)
class ChildPrice:
    """One product as a sub-reseller gets it: what the parent pays, the price it set (if any), and what
    the sub-reseller pays in the end."""

    product: Product
    own_cost: Quote
    set_price: Money | None
    child_cost: Quote


@dataclass(frozen=True, slots=True)
class Portal:
    uow: UnitOfWorkFactory
    resellers: Resellers
    clock: Clock

    async def overview(self, reseller_id: int) -> Overview:
        async with self.uow(read_only=True) as uow:
            reseller = await find_reseller(uow, reseller_id)
            balance = await uow.ledger.balance(reseller.wallet)
            earnings = await uow.ledger.balance(Account(AccountKind.RESELLER_COMMISSION, reseller_id))
            shop = await uow.resellers.shop(reseller_id)
            children = (await uow.resellers.page(PageRequest(1, 1), parent_id=reseller_id)).total
        assert shop is not None
        return Overview(reseller, Money(balance), Money(earnings), shop, children)

    async def orders(self, reseller_id: int, query: OrderQuery, page: PageRequest) -> Page[Order]:
        """Orders sold in the reseller's shop (the query's seller is always the reseller itself)."""
        async with self.uow(read_only=True) as uow:
            return await uow.orders.search(replace(query, seller_id=reseller_id), page)

    async def order(self, reseller_id: int, number: str) -> tuple[Order, list[OrderEvent]]:
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.by_number(number)
            if order is None or order.seller_id != reseller_id:
                raise NotFound(f"no order {number}")
            return order, await uow.orders.events(order.id or 0)

    async def sub_resellers(self, reseller_id: int, page: PageRequest) -> Page[tuple[Reseller, Money]]:
        async with self.uow(read_only=True) as uow:
            found = await uow.resellers.page(page, parent_id=reseller_id)
            items = [(r, Money(await uow.ledger.balance(r.wallet))) for r in found.items]
        return Page(items, found.total, found.request)

    async def invite(self, reseller_id: int, draft: ResellerDraft, login: str, actor: Actor) -> tuple[Reseller, str]:
        """A sub-reseller under this reseller (never elsewhere, whatever the form said), with its login and the
        login's one-time invite token. Its credit is the merchant's to give: it starts at none."""
        own = ResellerDraft(draft.name, draft.contact, "0", reseller_id, markup=draft.markup)
        if not login.strip():
            raise ValidationFailed({"username": "required"})
        async with self.uow(read_only=True) as uow:
            check_active(await chain_of(uow, await find_reseller(uow, reseller_id)))
        child, token = await self.resellers.create_with_login(own, login, actor)
        assert token is not None  # a login was asked for
        return child, token

    async def sub_reseller(self, reseller_id: int, child_id: int) -> Reseller:
        async with self.uow(read_only=True) as uow:
            return await _child(uow, reseller_id, child_id)

    async def set_sub_terms(self, reseller_id: int, child_id: int, status: str, markup: str, actor: Actor) -> Reseller:
        """The parent switches a sub-reseller on or off and sets its default markup; credit stays the merchant's."""
        async with self.uow() as uow:
            child = await _child(uow, reseller_id, child_id)
            changed = child.with_terms(status, child.credit_limit.amount, None, markup, by=Upstream.PARENT)
            await save_terms(uow, changed)
            details = {"reseller": child_id, "status": changed.status.value, "markup_bp": changed.markup_bp}
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "reseller.terms", changed.name, details))
            await uow.commit()
        return changed

    async def sub_prices(self, reseller_id: int, child_id: int, page: PageRequest) -> Page[ChildPrice]:
        async with self.uow(read_only=True) as uow:
            child = await _child(uow, reseller_id, child_id)
            chain = await chain_of(uow, child)
            items = _child_prices(await offers_on_sale(uow, chain, sellable_only=False), await _set_prices(uow, child))
        return Page.of(items, page)

    async def set_sub_price(
        self, reseller_id: int, child_id: int, product_id: int, price: str, actor: Actor
    ) -> ChildPrice:
        """The price a sub-reseller pays for a product: at or above the parent's own cost (empty: the markup).
        Returns the product's row as it now stands."""
        async with self.uow() as uow:
            child = await _child(uow, reseller_id, child_id)
            chain = await chain_of(uow, child)
            products = await uow.products.by_ids([product_id])
            offered = await offers(uow, chain, products, sellable_only=False)  # a price may be what mends it
            if product_id not in offered:
                raise NotFound(f"no product #{product_id} for this reseller")
            amount: Money | None = None
            if price.strip():
                amount = parse_price(price)
                check_price_for_child(offered[product_id].quotes[-2].unit, amount)
            await uow.prices.set_reseller_price(child_id, product_id, amount)
            details = {"reseller": child_id, "product": product_id, "price": amount.minor if amount else None}
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "price.sub_reseller", child.name, details))
            now_offered = await offers(uow, chain, products, sellable_only=False)
            (row,) = _child_prices(list(now_offered.values()), await _set_prices(uow, child))
            await uow.commit()
        return row


def _child_prices(offered: list[Offer], set_prices: dict[int, Money]) -> list[ChildPrice]:
    """Each offer to the sub-reseller (the chain's last level), as its parent prices it."""
    return [ChildPrice(o.product, o.quotes[-2], set_prices.get(o.product.id or 0), o.quotes[-1]) for o in offered]


async def _set_prices(uow: UnitOfWork, child: Reseller) -> dict[int, Money]:
    return await uow.prices.reseller_prices(child.id or 0)


async def _child(uow: UnitOfWork, reseller_id: int, child_id: int) -> Reseller:
    child = await uow.resellers.get(child_id)
    if child is None or child.parent_id != reseller_id:
        raise NotFound(f"no sub-reseller #{child_id}")
    return child
