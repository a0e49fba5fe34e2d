"""Paying an order from a reseller's prepaid wallet: the charge on the ledger and the order's payment are one
transaction, so a wallet is never charged for an order that is not paid, nor an order paid twice from it.

Gateways (EPay) confirm payments that happened elsewhere; this is the other kind of payment method the
order knows: money already inside the ledger. Refunds of such orders reverse the charge (OrderDesk).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.audit import Actor
from domain.bookkeeping import CLEARING
from domain.catalog import normalize_sku
from domain.errors import NotFound
from domain.orders import (
    UNPAID,
    ApiPlacement,
    Channel,
    IllegalOrderTransition,
    Order,
    OrderPolicy,
    OrderRequest,
    OrderStatus,
    OutTradeNoTaken,
    SellerTerms,
    quantity_to_price,
)
from domain.payments import PaymentNotice
from domain.ports import BackgroundJobs, Clock, UnitOfWork, UnitOfWorkFactory
from domain.resellers import Reseller, check_active
from domain.risk import Action, Attempt
from domain.services.offers import Offer, chain_of, offers
from domain.services.resellers import charge_wallet, find_reseller
from domain.services.risk_gate import RiskGate
from domain.services.sourced_stock import hold_stock

BALANCE = "balance"  # the payment method's name on orders and payment rows


@dataclass(frozen=True, slots=True)
class BalancePayments:
    uow: UnitOfWorkFactory
    jobs: BackgroundJobs
    clock: Clock
    policy: OrderPolicy
    risk: RiskGate

    async def pay(self, order_id: int, reseller_id: int, actor: Actor) -> Order:
        """Charge the wallet (within its credit limit, else InsufficientBalance) and mark the order paid.

        Paying an order that this wallet already paid returns it unchanged.
        """
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            reseller = await uow.resellers.get(reseller_id)
            if order is None or reseller is None:
                raise NotFound(f"no order #{order_id} or reseller #{reseller_id}")
            if order.payment_method == BALANCE and order.status not in UNPAID:
                return order
            if order.status not in UNPAID:
                raise IllegalOrderTransition(f"a {order.status} order is not paid from a wallet", status=order.status)
            await _charge(uow, order, reseller, now, actor)
            await uow.commit()
        if order.status is OrderStatus.PAID:
            await self.jobs.deliver_order(order_id)
        return order

    async def offer(self, reseller_id: int, sku: str) -> Offer:
        """What the reseller pays for one unit of `sku` (and how that price came about)."""
        async with self.uow(read_only=True) as uow:
            return await _offer(uow, await find_reseller(uow, reseller_id), sku, 1)

    async def buy(
        self,
        reseller_id: int,
        sku: str,
        quantity: str,
        actor: Actor,
        recharge_account: str = "",
        *,
        channel: Channel = Channel.PORTAL,
        api: ApiPlacement | None = None,
        queue_delivery: bool = True,
        buyer: Reseller | None = None,
    ) -> Order:
        """A reseller buys for itself at its own cost, paid from its wallet: placed, stock reserved, charged and
        paid in one transaction — not enough balance (InsufficientBalance) or stock (OutOfStock), or an
        out_trade_no taken already or meanwhile (OutTradeNoTaken), leaves nothing behind. Its upstream levels earn
        their margins when the order is delivered. `queue_delivery=False`: the caller delivers the paid order itself
        (or queues it, should it not). `buyer`: the reseller as the caller read it just now (the Open API, checking
        the request's signature), not read again."""
        now = self.clock.now()
        async with self.uow() as uow:
            if api is not None and await uow.orders.by_out_trade_no(reseller_id, api.out_trade_no) is not None:
                raise OutTradeNoTaken(f"out_trade_no {api.out_trade_no} is taken")
            reseller = buyer if buyer is not None and buyer.id == reseller_id else await find_reseller(uow, reseller_id)
            chain = await chain_of(uow, reseller)
            check_active(chain)
            offer = await _offer(uow, reseller, sku, quantity_to_price(quantity, self.policy), chain)
            product = offer.product
            request = OrderRequest(product.sku, quantity, reseller.contact.value, recharge_account, channel, actor.ip)
            # The reseller pays its own cost; the levels above it share the margin (it earns nothing from itself).
            terms = SellerTerms(reseller_id, offer.cost.unit, offer.chain[:-1])
            order = Order.place(request, product, self.policy, now, seller=terms, api=api)
            attempt = Attempt.of_order(order, product.face_value.minor, account_age=now - reseller.created_at)
            decision = await self.risk.weigh(uow, attempt)
            if not decision.refused:
                await self.risk.keep(uow, decision, order)
                if decision.outcome is Action.REVIEW:
                    order.hold_for_review(now)  # nothing charged, no stock held until staff approve
                    order = await uow.orders.add(order)
                else:
                    order = await _place_paid(uow, order, reseller, now, actor)
                await uow.commit()
        if decision.refused:
            await self.risk.refuse(decision)
        if order.status is OrderStatus.PAID and queue_delivery:
            await self.jobs.deliver_order(order.id or 0)
        return order

    async def approve(self, uow: UnitOfWork, order: Order, actor: Actor) -> None:
        """A held wallet order staff approved: reserved, charged and paid inside the caller's unit of work (not
        enough balance or stock raises and leaves it held)."""
        reseller = await find_reseller(uow, order.seller_id or 0)
        check_active(await chain_of(uow, reseller))
        await _place_paid(uow, order, reseller, self.clock.now(), actor)


async def _place_paid(uow: UnitOfWork, order: Order, reseller: Reseller, now: datetime, actor: Actor) -> Order:
    """Store the order paid, charge the wallet for it and hold its stock, all in the caller's transaction (nothing
    of it stays should one step refuse)."""
    order.await_payment(now)
    _paid(order, now, actor)
    if order.id is None:
        order = await uow.orders.add(order)  # stored once, paid; a duplicate out_trade_no waits here for this one
    else:
        await uow.orders.save(order)
    # The wallet before the stock: an order it cannot pay for never holds codes meanwhile. Its row is locked from
    # the charge on, so charges of one reseller queue for the few statements left before commit.
    charge = await charge_wallet(
        uow, reseller, order.total, CLEARING, now=now, actor=actor.name, reference=order.number, memo=order.product_name
    )
    await hold_stock(uow, order, now)
    notice = PaymentNotice(BALANCE, order.number, f"posting:{charge.id}", order.total)
    await uow.orders.record_payment(order.id or 0, notice, now)
    return order


async def _offer(
    uow: UnitOfWork, reseller: Reseller, sku: str, quantity: int, chain: list[Reseller] | None = None
) -> Offer:
    """The product on sale by `sku` with the chain's costs for `quantity` units, if the reseller may sell it."""
    product = await uow.products.by_sku(normalize_sku(sku), lock=False)  # buyers of one product queue for nothing
    chain = chain or await chain_of(uow, reseller)
    offer = (
        (await offers(uow, chain, [product], quantity)).get(product.id or 0) if product and product.on_sale else None
    )
    if offer is None:
        raise NotFound(f"no product {sku} for this reseller")
    return offer


async def _charge(uow: UnitOfWork, order: Order, reseller: Reseller, now: datetime, actor: Actor) -> None:
    """Take the order's total from the wallet and mark the order paid, inside the caller's transaction."""
    charge = await charge_wallet(
        uow, reseller, order.total, CLEARING, now=now, actor=actor.name, reference=order.number, memo=order.product_name
    )
    notice = PaymentNotice(BALANCE, order.number, f"posting:{charge.id}", order.total)
    await uow.orders.record_payment(order.id or 0, notice, now)
    _paid(order, now, actor)
    await uow.orders.save(order)


def _paid(order: Order, now: datetime, actor: Actor) -> None:
    order.record(now, "payment_received", actor.name, {"gateway": BALANCE, "amount": order.total.minor})
    order.confirm_payment(order.total, BALANCE, now, reserved=True)
