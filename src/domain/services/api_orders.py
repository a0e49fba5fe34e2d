"""What the Open API does for a signed-in key: the caller's catalog at its prices, orders paid from its
balance and — for codes in the local pool — delivered inside the request, orders looked up, the balance.

`out_trade_no` makes ordering idempotent: the caller's id names one order per reseller (a unique key in the
database, so even racing duplicates create one); the same request again returns that order, another request
under the same id is a conflict.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.api import ApiKey, ApiOrderRequest
from domain.audit import Actor, AuditEntry
from domain.catalog import normalize_sku
from domain.codepool import CardSecret, OutOfStock
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.ledger import InsufficientBalance, Wallet
from domain.money import Money
from domain.orders import ApiPlacement, Channel, Order, OrderPolicy, OrderStatus, OutTradeNoTaken
from domain.ports import BackgroundJobs, Clock, CodeVault, UnitOfWork, UnitOfWorkFactory
from domain.redemption import token_binding
from domain.resellers import Reseller
from domain.risk import HeldForReview
from domain.services.balance_payments import BalancePayments
from domain.services.callbacks import Callbacks
from domain.services.delivery import Delivery
from domain.services.offers import Offer, chain_of, offers_on_sale
from domain.services.redemption import open_unit
from domain.services.sourced_stock import sellable_counts


@dataclass(frozen=True, slots=True)
class DeliveredCode:
    code: CardSecret
    expires_at: datetime | None
    token: str  # the unit's redemption link token: /r/<token>


@dataclass(frozen=True, slots=True)
class ApiOrder:
    """An order as the API answers it: the order, its product's SKU and, once delivered, its codes."""

    order: Order
    sku: str
    codes: list[DeliveredCode]


@dataclass(frozen=True, slots=True)
class Listing:
    """A product in the caller's catalog: what it pays, and how many are in stock (None: not counted)."""

    offer: Offer
    available: int | None


@dataclass(frozen=True, slots=True)
class ApiOrders:
    uow: UnitOfWorkFactory
    payments: BalancePayments
    delivery: Delivery
    callbacks: Callbacks
    vault: CodeVault
    jobs: BackgroundJobs
    clock: Clock
    policy: OrderPolicy

    async def catalog(self, reseller: Reseller) -> list[Listing]:
        async with self.uow(read_only=True) as uow:
            chain = await chain_of(uow, reseller)
            offered = await offers_on_sale(uow, chain)
            stock = await sellable_counts(uow, [o.product.id or 0 for o in offered])
        return [
            Listing(o, stock.get(o.product.id or 0, 0) if o.product.delivery_kind.pooled else None) for o in offered
        ]

    async def balance(self, reseller: Reseller) -> Wallet:
        async with self.uow(read_only=True) as uow:
            return Wallet(Money(await uow.ledger.balance(reseller.wallet)), reseller.credit_limit)

    async def place(self, key: ApiKey, reseller: Reseller, body: Any, actor: Actor) -> tuple[ApiOrder, bool]:
        """The order for this request, and whether it was made now (False: the same request came before)."""
        request = ApiOrderRequest.parse(body, self.policy.max_quantity)
        reseller_id = reseller.id or 0
        if request.callback_url:
            # A repeat is answered before its URL is looked up again (a lookup failing now must not hide its order);
            # without a URL, placing finds a repeat itself, in the reads it does anyway.
            if (known := await self._same(reseller_id, request, actor)) is not None:
                return _unless_held(known), False
            await self.callbacks.check_url(request.callback_url)
        placement = ApiPlacement(key.id or 0, request.out_trade_no, request.fingerprint, request.callback_url)
        try:
            order = await self.payments.buy(
                reseller_id,
                request.sku,
                str(request.quantity),
                actor,
                request.recharge_account,
                channel=Channel.API,
                api=placement,
                queue_delivery=False,
                buyer=reseller,
            )
        except (OutTradeNoTaken, InsufficientBalance, OutOfStock):
            # Made before, or a duplicate raced this one and won (perhaps with the balance or stock this one needed):
            # answered as a duplicate is (the order, or the conflict when the bodies differ), not with its refusal.
            if (known := await self._same(reseller_id, request, actor)) is not None:
                return _unless_held(known), False
            raise
        except NotFound:  # no such SKU in the caller's catalog (unknown, off sale, or not offered to it)
            raise ValidationFailed({"sku": "unknown_sku"}) from None
        if order.status is OrderStatus.HELD:
            raise HeldForReview("held for the merchant's review", order_no=order.number)
        sku = normalize_sku(request.sku)
        if not order.pooled:
            await self.jobs.deliver_order(order.id or 0)
            return ApiOrder(order, sku, []), True
        return await self._delivered_now(order, sku, actor), True

    async def get(self, reseller_id: int, number: str, actor: Actor) -> ApiOrder:
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.by_number(number)
            if order is None or order.seller_id != reseller_id or order.api is None:
                raise NotFound(f"no order {number}")
            answer = await self._answer(uow, order)
        return await self._handed_out(answer, actor)

    async def by_out_trade_no(self, reseller_id: int, out_trade_no: str, actor: Actor) -> ApiOrder:
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.by_out_trade_no(reseller_id, out_trade_no)
            if order is None:
                raise NotFound(f"no order with out_trade_no {out_trade_no}")
            answer = await self._answer(uow, order)
        return await self._handed_out(answer, actor)

    async def _same(self, reseller_id: int, request: ApiOrderRequest, actor: Actor) -> ApiOrder | None:
        """The order already made under this out_trade_no, if the request is the same; a conflict if not."""
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.by_out_trade_no(reseller_id, request.out_trade_no)
            if order is None:
                return None
            if order.api is None or order.api.request_hash != request.fingerprint:
                raise OutTradeNoTaken(f"out_trade_no {request.out_trade_no} names another order")
            answer = await self._answer(uow, order)
        return await self._handed_out(answer, actor)

    async def _answer(self, uow: UnitOfWork, order: Order) -> ApiOrder:
        product = await uow.products.get(order.product_id)
        codes: list[DeliveredCode] = []
        if order.delivered_units and order.status is not OrderStatus.REFUNDED:
            for unit in await uow.deliveries.of_order(order.id or 0):
                secret, expires_at = await open_unit(uow, self.vault, order, unit)
                token = self.vault.open(unit.token, binding=token_binding(order.number, unit.unit)).decode()
                codes.append(DeliveredCode(secret, expires_at, token))
        return ApiOrder(order, product.sku if product else "", codes)

    async def _delivered_now(self, order: Order, sku: str, actor: Actor) -> ApiOrder:
        """A pool order is delivered in the request, its codes in the answer without being read back. Whatever stops
        that, the order is made and paid all the same: the queue finishes it — asked here, or by the sweeper should
        this process die first — or staff do; the caller sees it processing."""
        try:
            handed = await self.delivery.hand_over(order.id or 0, actor)
        except DomainError:  # a rule refused it (staff acted on the order meanwhile, say)
            await self.jobs.deliver_order(order.id or 0)
            return await self.get(order.seller_id or 0, order.number, actor)
        except Exception:
            await self.jobs.deliver_order(order.id or 0)
            raise
        if handed is None:  # not the pool's alone (upstream sources): asked within the request, as far as they answer
            await self.jobs.deliver_order(order.id or 0)
            with contextlib.suppress(DomainError):
                await self.delivery.deliver(order.id or 0)
            return await self.get(order.seller_id or 0, order.number, actor)
        delivered = handed.order
        codes = [
            DeliveredCode(
                CardSecret.from_plaintext(self.vault.open(sold.code.sealed, binding=sold.code.binding)),
                sold.expires_at,
                self.vault.open(unit.token, binding=token_binding(delivered.number, unit.unit)).decode(),
            )
            for unit, sold in handed.units
        ]
        return ApiOrder(delivered, sku, codes)

    async def _handed_out(self, answer: ApiOrder, actor: Actor) -> ApiOrder:
        """Codes leaving in an API answer are written down, as every reveal is — once the reading connection is
        back in the pool: requests each holding one while waiting for a second would exhaust it together."""
        if not answer.codes:
            return answer
        order, count, now = answer.order, len(answer.codes), self.clock.now()
        async with self.uow() as uow:
            order.record(now, "codes_sent_by_api", actor.name, {"units": count})
            await uow.orders.add_events(order.id or 0, order.new_events)
            order.new_events.clear()
            details = {"units": count, "key": actor.name}
            await uow.audit.record(AuditEntry(now, actor, "code.api_read", order.number, details))
            await uow.commit()
        return answer


def _unless_held(answer: ApiOrder) -> ApiOrder:
    """A request repeated while its order waits for review gets the same answer as the first time."""
    if answer.order.status is OrderStatus.HELD:
        raise HeldForReview("held for the merchant's review", order_no=answer.order.number)
    return answer
