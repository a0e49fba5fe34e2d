"""Paying an order from a reseller's prepaid wallet: the charge on the ledger and the order's payment are one
transaction, so a wallet is never charged for an order that is not paid, nor an order paid twice from it.

Gateways (EPay) confirm payments that happened elsewhere; this is the other kind of payment method the
order knows: money already inside the ledger. Refunds of such orders reverse the charge (OrderDesk).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.audit import Actor
from domain.bookkeeping import CLEARING
from domain.errors import NotFound
from domain.orders import UNPAID, IllegalOrderTransition, Order, OrderStatus
from domain.payments import PaymentNotice
from domain.ports import BackgroundJobs, Clock, UnitOfWorkFactory
from domain.services.resellers import charge_wallet

BALANCE = "balance"  # the payment method's name on orders and payment rows


@dataclass(frozen=True, slots=True)
class BalancePayments:
    uow: UnitOfWorkFactory
    jobs: BackgroundJobs
    clock: Clock

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
            charge = await charge_wallet(
                uow,
                reseller,
                order.total,
                CLEARING,
                now=now,
                actor=actor.name,
                reference=order.number,
                memo=order.product_name,
            )
            notice = PaymentNotice(BALANCE, order.number, f"posting:{charge.id}", order.total)
            await uow.orders.record_payment(order_id, notice, now)
            order.record(now, "payment_received", actor.name, {"gateway": BALANCE, "amount": order.total.minor})
            order.confirm_payment(order.total, BALANCE, now, reserved=True)
            await uow.orders.save(order)
            await uow.commit()
        if order.status is OrderStatus.PAID:
            await self.jobs.deliver_order(order_id)
        return order
