"""What staff do about orders placed upstream: stop waiting for one (abandon it), and send an order that failed at
every source to its sources again."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

from domain.audit import Actor, AuditEntry, staff_reason
from domain.errors import NotFound
from domain.orders import Order, OrderStatus
from domain.ports import BackgroundJobs, Clock, UnitOfWorkFactory
from domain.services.sourced_stock import check_nothing_open_upstream
from domain.services.sourcing import Outlet, Sourcing
from domain.suppliers import NotSourcedAgain, UpstreamOrderClosed, UpstreamRefused, UpstreamUnavailable

# Orders staff can send to their sources again: every source failed (they own the order meanwhile).
ENDED_SHORT = frozenset({OrderStatus.FAILED, OrderStatus.PARTIALLY_DELIVERED})


@dataclass(frozen=True, slots=True)
class UpstreamDesk:
    uow: UnitOfWorkFactory
    sourcing: Sourcing
    outlet: Outlet  # the order's delivery, where codes an abandoned order sends after all are pooled
    jobs: BackgroundJobs
    clock: Clock

    async def abandon(self, order_id: int, upstream_order_id: int, reason: str, actor: Actor) -> Order:
        """Staff stop waiting for an open upstream order: it is not asked about any more, and the order waits for
        them (refund, deliver by hand, or send it to its sources again). Codes it sends after all — asked once more
        right now, or named by its webhook later — go into the product's pool: they were paid for."""
        reason = staff_reason(reason)
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)  # locked: a delivery of its codes waits, then sees it abandoned
            placed = next((p for p in await uow.suppliers.upstream_orders(order_id) if p.id == upstream_order_id), None)
            if order is None or placed is None:
                raise NotFound(f"no upstream order #{upstream_order_id} of order #{order_id}")
            if not placed.is_open:
                raise UpstreamOrderClosed(f"{placed.out_trade_no} is not open", out_trade_no=placed.out_trade_no)
            upstream = await uow.suppliers.get(placed.upstream_id)
            name = upstream.name if upstream else str(placed.upstream_id)
            await uow.suppliers.abandon(upstream_order_id, now)
            details = {"source": name, "out_trade_no": placed.out_trade_no, "reason": reason}
            order.record(now, "source_abandoned", actor.name, details)
            if order.status is OrderStatus.DELIVERING and order.undelivered_units:
                order.units_delivered(0, now, actor.name)  # failed or partially delivered: staff's now
            await uow.orders.save(order)
            await uow.audit.record(AuditEntry(now, actor, "order.abandon_upstream", order.number, details))
            await uow.commit()
        if order.calls_back:
            await self.jobs.call_back(order_id)
        with contextlib.suppress(UpstreamRefused, UpstreamUnavailable):  # else its webhook brings them later
            await self.sourcing.settle_abandoned(replace(placed, abandoned_at=now), self.outlet)
        return order

    async def source_again(self, order_id: int, actor: Actor) -> Order:
        """Staff: an order that failed at every source goes to its sources again — a new round, so each is asked
        anew under a new name (one that refused or refunded before may have stock now). Refused while an upstream
        order of it is still open: that one is settled first, never bought again."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"no order #{order_id}")
            sources = await uow.suppliers.sources(order.product_id)
            if order.status not in ENDED_SHORT or not order.undelivered_units or all(s.is_pool for s in sources):
                raise NotSourcedAgain(f"order {order.number} is not one to send to its sources again")
            await check_nothing_open_upstream(uow, order_id)
            round_ = await uow.suppliers.next_sourcing_round(order_id)
            order.start_delivery(now, actor.name)
            order.attention = None
            order.record(now, "sent_to_sources_again", actor.name, {"round": round_})
            await uow.orders.save(order)
            await uow.audit.record(AuditEntry(now, actor, "order.source_again", order.number, {"round": round_}))
            await uow.commit()
        await self.jobs.deliver_order(order_id)
        return order
