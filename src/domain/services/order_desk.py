"""The merchant's order desk: find orders, read their timeline, and act — cancel, refund, resend the mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain import bookkeeping
from domain.audit import Actor, AuditEntry, staff_reason
from domain.errors import NotFound, ValidationFailed
from domain.ledger import AccountKind
from domain.money import Money
from domain.orders import UNPAID, IllegalOrderTransition, Order, OrderEvent, OrderQuery, OrderStatus
from domain.paging import Page, PageRequest
from domain.ports import BackgroundJobs, Clock, UnitOfWork, UnitOfWorkFactory
from domain.redemption import DeliveredUnit
from domain.services.sourced_stock import check_nothing_open_upstream
from domain.suppliers import PlacedUpstream


@dataclass(frozen=True, slots=True)
class OrderFile:
    """Everything the order detail page shows. Units carry no code and no link: staff never see them here."""

    order: Order
    events: list[OrderEvent]
    units: list[DeliveredUnit]
    seller: str = ""  # the reseller whose shop sold it, or who bought it for itself
    # Each reseller level above the buyer (id, name, unit cost), the merchant's own reseller first.
    chain: list[tuple[int, str, Money]] = field(default_factory=list)
    # Orders placed upstream for it, oldest first, each with its upstream's name; whether its product has any.
    upstream_orders: list[tuple[PlacedUpstream, str]] = field(default_factory=list)
    upstream_sourced: bool = False


@dataclass(frozen=True, slots=True)
class OrderDesk:
    uow: UnitOfWorkFactory
    jobs: BackgroundJobs
    clock: Clock

    async def search(self, query: OrderQuery, page: PageRequest) -> Page[Order]:
        async with self.uow(read_only=True) as uow:
            return await uow.orders.search(query, page)

    async def file(self, order_id: int) -> OrderFile:
        async with self.uow(read_only=True) as uow:
            order = await _order(uow, order_id)
            names: dict[int, str] = {}
            for reseller_id in {order.seller_id, *(i for i, _ in order.chain)} - {None}:
                reseller = await uow.resellers.get(reseller_id or 0)
                names[reseller_id or 0] = reseller.name if reseller else f"#{reseller_id}"
            chain = [(reseller_id, names[reseller_id], cost) for reseller_id, cost in order.chain]
            seller = names.get(order.seller_id or 0, "")
            events, units = await uow.orders.events(order_id), await uow.deliveries.of_order(order_id)
            upstream_names = {u.id: u.name for u in await uow.suppliers.all()}
            placed = [
                (p, upstream_names.get(p.upstream_id, f"#{p.upstream_id}"))
                for p in await uow.suppliers.upstream_orders(order_id)
            ]
            sourced = any(not s.is_pool for s in await uow.suppliers.sources(order.product_id))
            return OrderFile(order, events, units, seller, chain, placed, sourced)

    async def cancel(self, order_id: int, reason: str, actor: Actor) -> Order:
        """An unpaid order is called off and its stock goes back to the pool."""
        return await self._end(order_id, OrderStatus.CANCELLED, reason, actor)

    async def refund(self, order_id: int, reason: str, actor: Actor) -> Order:
        """Record that the buyer's money was returned; reserved codes go back, and the order's links stop working.

        EPay gateways refund in their own merchant console; balance refunds post to the ledger (resellers).
        """
        return await self._end(order_id, OrderStatus.REFUNDED, reason, actor)

    async def reject(self, order_id: int, reason: str, actor: Actor) -> Order:
        """A held order (review queue) is turned down: cancelled, nothing was charged or reserved for it."""
        return await self._end(order_id, OrderStatus.CANCELLED, reason, actor, held=True)

    async def _end(self, order_id: int, status: OrderStatus, reason: str, actor: Actor, *, held: bool = False) -> Order:
        reason = staff_reason(reason)
        now = self.clock.now()
        async with self.uow() as uow:
            order = await _order(uow, order_id)
            if held and order.status is not OrderStatus.HELD:
                raise IllegalOrderTransition(f"a {order.status} order is not held for review", status=order.status)
            if status is OrderStatus.REFUNDED:
                await check_nothing_open_upstream(uow, order_id)  # its codes may still come: abandon it first
            order.end(status, now, reason, actor.name)
            await uow.codes.release(order.holder, now)
            if status is OrderStatus.REFUNDED:
                await _reverse_charges(uow, order, now, actor)
            action = "order.reject" if held else "order.cancel" if status is OrderStatus.CANCELLED else "order.refund"
            await self._keep(uow, order, actor, action, reason)
        if order.calls_back:
            await self.jobs.call_back(order_id)
        return order

    async def return_extra_payment(self, order_id: int, reason: str, actor: Actor) -> Order:
        """Record that a second payment for the order was given back (in the gateway's console)."""
        reason = staff_reason(reason)
        async with self.uow() as uow:
            order = await _order(uow, order_id)
            returned = order.extra_payment_returned(self.clock.now(), reason, actor.name)
            postings = await uow.ledger.postings(order.number)
            for undo in bookkeeping.extra_payments_returned(postings, self.clock.now(), actor.name, reason):
                await uow.ledger.post(undo)
            await self._keep(uow, order, actor, "order.return_extra_payment", f"{reason} ({returned})")
        return order

    async def resend_notification(self, order_id: int, actor: Actor) -> Order:
        now = self.clock.now()
        async with self.uow() as uow:
            order = await _order(uow, order_id)
            if not order.delivered_units or order.status in UNPAID:
                raise ValidationFailed({"notification": "nothing_delivered"})
            order.notification = "pending"
            order.record(now, "notification_requested", actor.name)
            await self._keep(uow, order, actor, "order.resend_notification", "")
        await self.jobs.notify_buyer(order_id)
        return order

    async def _keep(self, uow: UnitOfWork, order: Order, actor: Actor, action: str, reason: str) -> None:
        await uow.orders.save(order)
        details = {"reason": reason} if reason else {}
        await uow.audit.record(AuditEntry(self.clock.now(), actor, action, order.number, details))
        await uow.commit()


async def _reverse_charges(uow: UnitOfWork, order: Order, now: datetime, actor: Actor) -> None:
    """A refund undoes the order's money on the ledger: what a gateway or wallet paid, and any sale split.
    A wallet gets its money back by the same reversal."""
    for undo in bookkeeping.refund(await uow.ledger.postings(order.number), now, actor.name):
        await uow.ledger.post(undo)
        to_wallet = sum(e.amount.minor for e in undo.entries if e.account.kind is AccountKind.RESELLER_WALLET)
        if to_wallet:
            order.record(now, "balance_refunded", actor.name, {"amount": to_wallet})


async def _order(uow: UnitOfWork, order_id: int) -> Order:
    order = await uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"no order #{order_id}")
    return order
