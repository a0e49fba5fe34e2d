"""The review queue: orders the merchant's risk rules held, waiting for staff. Approved, an order goes on as if
it had never been held — its stock reserved and its payment window started, or a reseller's wallet charged and
delivery begun; rejected, it is cancelled (OrderDesk.reject). Every decision goes to the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from domain.audit import Actor, AuditEntry
from domain.errors import NotFound
from domain.orders import WALLET_CHANNELS, Order, OrderPolicy, OrderQuery, OrderStatus
from domain.paging import Page, PageRequest
from domain.ports import BackgroundJobs, Clock, UnitOfWorkFactory
from domain.services.balance_payments import BalancePayments
from domain.services.sourcing import hold_stock


@dataclass(frozen=True, slots=True)
class Reviews:
    uow: UnitOfWorkFactory
    payments: BalancePayments
    jobs: BackgroundJobs
    clock: Clock
    policy: OrderPolicy

    async def queue(self, page: PageRequest) -> Page[Order]:
        """The held orders, the highest risk score first (the scores the merchant gave its rules), then oldest."""
        async with self.uow(read_only=True) as uow:
            return await uow.orders.search(OrderQuery(status=OrderStatus.HELD, riskiest_first=True), page)

    async def approve(self, order_id: int, actor: Actor) -> Order:
        """On to payment; raises (and the order stays held) when its stock or the reseller's balance is short."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"no order #{order_id}")
            order.approve(now, actor.name, self.policy.payment_window)
            if order.channel in WALLET_CHANNELS:
                await self.payments.approve(uow, order, actor)
            else:
                await hold_stock(uow, order, now)
                order.await_payment(now)
                await uow.orders.save(order)
            details = {"score": order.risk_score, "status": order.status.value}
            await uow.audit.record(AuditEntry(now, actor, "order.approve", order.number, details))
            await uow.commit()
        if order.status is OrderStatus.PAID:
            await self.jobs.deliver_order(order.id or 0)
        return order
