"""Delivery: a paid order's units go out exactly once — from the code pool, from upstream suppliers, or typed
in by an operator.

The database decides: delivery locks the order, and a unit is stored once (unique per order unit, and a
code in at most one unit). A lost queue message only delays delivery; the sweeper sends it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain import bookkeeping
from domain.audit import Actor, AuditEntry
from domain.codepool import CardSecret, SoldCode
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.money import Money
from domain.operations import Nudges
from domain.orders import CALLBACK_STATUSES, Order, OrderStatus
from domain.ports import BackgroundJobs, Clock, CodeVault, UnitOfWork, UnitOfWorkFactory
from domain.redemption import DeliveredUnit, content_binding, new_token, token_binding, token_hash
from domain.services.sourced_stock import check_nothing_open_upstream, pool_codes
from domain.services.sourcing import Sourcing

# A paid order not delivered after this long has lost its message (or its worker): send it again (and
# again, backing off, while it stays undelivered).
REDELIVER_AFTER = timedelta(seconds=5)


class NothingToFulfil(DomainError):
    code = "nothing_to_fulfil"


@dataclass(frozen=True, slots=True)
class HandedOver:
    """What `hand_over` delivered: the order as it left it, and each unit delivered with its (sealed) code."""

    order: Order
    units: list[tuple[DeliveredUnit, SoldCode]]


@dataclass(frozen=True, slots=True)
class Delivery:
    uow: UnitOfWorkFactory
    vault: CodeVault
    jobs: BackgroundJobs
    clock: Clock
    sourcing: Sourcing | None = None  # upstream suppliers, for products that have them as sources
    _nudges: Nudges = field(
        default_factory=lambda: Nudges(first=REDELIVER_AFTER * 2, most=timedelta(minutes=1)), compare=False, repr=False
    )

    async def deliver(self, order_id: int) -> None:
        """Deliver a paid order. Safe to run any number of times, also at once: only the first does anything.

        From the pool (codes reserved at placement) — or, for a product with upstream sources, from its sources in
        their order, the pool where it stands among them — outside any transaction, since upstreams answer over
        the network. For such a product, what upstreams still hold for the order is settled whatever its status
        (even while it waits for staff): codes they send are never lost."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                return
            upstream = self.sourcing is not None and any(
                not source.is_pool for source in await uow.suppliers.sources(order.product_id)
            )
            if order.attention is not None and not upstream:
                return  # waiting for staff
            if order.status is OrderStatus.PAID and order.attention is None:
                if upstream:
                    order.start_delivery(now)
                elif order.pooled:
                    await self._from_pool(uow, order, now, Actor.system())
                else:
                    order.wait_for_fulfilment(now)
                await uow.orders.save(order)
                await uow.commit()
            elif not upstream:
                return  # delivered, refunded …: nothing for a worker to do
        if upstream and self.sourcing is not None:
            before = (order.status, order.delivered_units)
            await self.sourcing.fulfil(order_id, self)
            async with self.uow(read_only=True) as uow:
                order = await uow.orders.get(order_id) or order
            if (order.status, order.delivered_units) == before and order.status is not OrderStatus.DELIVERING:
                return  # asked about what upstreams hold, and nothing came of it: nobody to tell
        await self._announce(order)

    async def upstream_called_back(self, upstream_id: int, out_trade_no: str) -> None:
        """An upstream's webhook (signature checked by the caller) names one of our orders there: that order is
        delivered (see Sourcing.upstream_called_back); what it sends comes here."""
        if self.sourcing is None:
            raise NotFound(f"no order placed upstream as {out_trade_no}")
        await self.sourcing.upstream_called_back(upstream_id, out_trade_no, self)

    async def hand_over(self, order_id: int, reader: Actor) -> HandedOver | None:
        """Deliver a paid order from the pool now, for a caller that hands its codes on at once (the Open API's
        answer): the order as delivered and each unit with its code come back, and the codes leaving are written
        to the timeline and the audit log in the delivery's own transaction. None — nothing done — for an order the
        pool alone does not deliver (upstream sources) or that is not paid and waiting: `deliver` settles those."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None or order.status is not OrderStatus.PAID or order.attention is not None or not order.pooled:
                return None
            if self.sourcing is not None and any(
                not source.is_pool for source in await uow.suppliers.sources(order.product_id)
            ):
                return None
            units = await self._from_pool(uow, order, now, Actor.system())
            if units:
                order.record(now, "codes_sent_by_api", reader.name, {"units": len(units)})
                details = {"units": len(units), "key": reader.name}
                await uow.audit.record(AuditEntry(now, reader, "code.api_read", order.number, details))
            await uow.orders.save(order)
            await uow.commit()
        await self._announce(order)
        return HandedOver(order, units)

    async def receive(
        self,
        order_id: int,
        upstream_id: int,
        out_trade_no: str,
        codes: Sequence[CardSecret],
        unit_cost: Money,
        source: str,
    ) -> Order | None:
        """Codes an upstream order sent (all it has sent so far): those not taken before are delivered as far as
        the order owes them — stored like typed-in ones (sealed), booked at the source's price, the timeline naming
        the source — and the order stays delivering if it still owes more. Codes no one waits for (staff abandoned
        that upstream order, or the order owes nothing more) go into the product's pool: they were paid for.
        The order is locked first, so a concurrent ask (a webhook beating its own answer) takes nothing twice."""
        now = self.clock.now()
        actor = Actor.upstream(source)
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            placed = await uow.suppliers.upstream_order(upstream_id, out_trade_no)
            if order is None or placed is None:
                return order
            fresh = list(codes)[placed.received :]
            if not fresh:
                return order  # taken already
            await uow.suppliers.count_received(placed.id or 0, placed.received + len(fresh))
            owing = placed.abandoned_at is None and order.status in (
                OrderStatus.DELIVERING, OrderStatus.FAILED, OrderStatus.PARTIALLY_DELIVERED
            )  # fmt: skip
            taken = fresh[: order.undelivered_units] if owing else []
            if taken:
                if order.status is not OrderStatus.DELIVERING:  # waiting for staff while this upstream stalled
                    order.start_delivery(now, actor.name)
                    order.attention = None
                first = order.delivered_units + 1
                units = [self._unit(order, first + i, now, actor, content=code) for i, code in enumerate(taken)]
                await uow.deliveries.add(units)
                await _book_sale(uow, order, len(units), unit_cost * len(units), now, actor)
                order.record(now, "delivered_by_source", details={"source": source, "units": len(units)})
                order.units_delivered(len(units), now, actor.name, more_to_come=True)
                if order.status is OrderStatus.DELIVERED:
                    await uow.codes.release(order.holder, now)  # what the pool held for it, had it come later
            if spare := fresh[len(taken) :]:
                await pool_codes(uow, self.vault, order, out_trade_no, spare, unit_cost, source, now)
            await uow.orders.save(order)
            await uow.commit()
        return order

    async def from_pool(self, order_id: int) -> Order | None:
        """The pool's turn among the product's sources: what it holds for the order or has now, up to what the
        order still owes, is delivered; the order stays delivering if that was not all (the next source's turn)."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None or order.status is not OrderStatus.DELIVERING or not order.undelivered_units:
                return order
            await uow.codes.release(order.holder, now)  # what placement held, then all it owes again
            await uow.codes.reserve_up_to(order.product_id, order.undelivered_units, order.holder, now)
            await self._from_pool(uow, order, now, Actor.system(), more_to_come=True)
            await uow.orders.save(order)
            await uow.commit()
        return order

    async def sweep(self) -> int:
        """Send paid orders that should have been delivered by now to the workers again; returns how many."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            waiting = await uow.orders.waiting_for_delivery(now - REDELIVER_AFTER, limit=500)
        return await self._nudges.send_due(waiting, now, self.jobs.deliver_order)

    async def retry_from_stock(self, order_id: int, actor: Actor) -> Order:
        """Staff: deliver what is still owed from the pool (stock arrived after a late payment, say)."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await _owing(uow, order_id)
            if not order.pooled:
                raise NothingToFulfil("this product is not delivered from the code pool")
            await check_nothing_open_upstream(uow, order_id)  # its codes may still come: abandon it first
            await uow.codes.release(order.holder, now)  # whatever an earlier attempt still holds, then all again
            await uow.codes.reserve(order.product_id, order.undelivered_units, order.holder, now)
            await self._from_pool(uow, order, now, actor)
            await uow.orders.save(order)
            await uow.audit.record(AuditEntry(now, actor, "order.retry_from_stock", order.number))
            await uow.commit()
        await self._announce(order)
        return order

    async def fulfil(self, order_id: int, lines: Sequence[str], actor: Actor) -> Order:
        """Staff: deliver owed units by hand, one line each ("code" or "code,PIN"); sealed like pool codes."""
        secrets_ = _typed_secrets(lines)
        now = self.clock.now()
        async with self.uow() as uow:
            order = await _owing(uow, order_id)
            if len(secrets_) > order.undelivered_units:
                raise ValidationFailed({"lines": "too_many_lines"})
            await check_nothing_open_upstream(uow, order_id)  # its codes may still come: abandon it first
            if order.status is not OrderStatus.DELIVERING:
                order.start_delivery(now, actor.name)
            await uow.codes.release(order.holder, now)  # a pooled order filled by hand gives its reservation back
            first = order.delivered_units + 1
            units = [self._unit(order, first + i, now, actor, content=secret) for i, secret in enumerate(secrets_)]
            await uow.deliveries.add(units)
            # Typed in by hand: the merchant knows no supplier cost for it here.
            await _book_sale(uow, order, len(units), Money(0, order.unit_price.currency), now, actor)
            order.units_delivered(len(units), now, actor.name)
            await uow.orders.save(order)
            await uow.audit.record(AuditEntry(now, actor, "order.fulfil", order.number, {"units": len(units)}))
            await uow.commit()
        await self._announce(order)
        return order

    async def _announce(self, order: Order) -> None:
        """After a delivery: the buyer's mail (when one is due), and the API caller's callback (when it gave one and
        the order reached an outcome it is called back about — not while it is still being delivered)."""
        if order.delivered_units and order.notification == "pending":
            await self.jobs.notify_buyer(order.id or 0)
        if order.calls_back and order.status in CALLBACK_STATUSES:
            await self.jobs.call_back(order.id or 0)

    async def _from_pool(
        self, uow: UnitOfWork, order: Order, now: datetime, actor: Actor, *, more_to_come: bool = False
    ) -> list[tuple[DeliveredUnit, SoldCode]]:
        """Sell what the order holds in the pool; `more_to_come`: upstream sources are asked for the rest. Returns
        each unit delivered with its code."""
        if order.status is not OrderStatus.DELIVERING:
            order.start_delivery(now, actor.name)
        sold = await uow.codes.sell(order.holder, now)
        first = order.delivered_units + 1
        units = [self._unit(order, first + i, now, actor, code_id=code.code.id) for i, code in enumerate(sold)]
        await uow.deliveries.add(units)
        await _book_sale(uow, order, len(units), Money(sum(code.unit_cost.minor for code in sold)), now, actor)
        if units and more_to_come:
            order.record(now, "delivered_by_source", details={"source": "pool", "units": len(units)})
        order.units_delivered(len(units), now, actor.name, more_to_come=more_to_come)
        return list(zip(units, sold, strict=True))

    def _unit(
        self,
        order: Order,
        unit: int,
        now: datetime,
        actor: Actor,
        *,
        code_id: int | None = None,
        content: CardSecret | None = None,
    ) -> DeliveredUnit:
        token = new_token()
        return DeliveredUnit(
            order_id=order.id or 0,
            unit=unit,
            token_hash=token_hash(token),
            token=self.vault.seal(token.encode(), binding=token_binding(order.number, unit)),
            delivered_at=now,
            delivered_by=actor.name,
            code_id=code_id,
            content=(
                self.vault.seal(content.plaintext(), binding=content_binding(order.number, unit)) if content else None
            ),
        )


async def _book_sale(uow: UnitOfWork, order: Order, units: int, cost: Money, now: datetime, actor: Actor) -> None:
    """The delivered units' price is shared out: supplier, platform and, for a reseller's sale, each level."""
    if units and order.paid is not None:  # only money that came in is shared out
        sale = bookkeeping.sale(order.number, order.unit_price * units, cost, now, actor.name, order.chain_costs(units))
        await uow.ledger.post(sale)


async def _owing(uow: UnitOfWork, order_id: int) -> Order:
    order = await uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"no order #{order_id}")
    if not order.can_be_fulfilled_by_hand():
        raise NothingToFulfil(f"order {order.number} owes nothing", status=order.status)
    return order


def _typed_secrets(lines: Sequence[str]) -> list[CardSecret]:
    found: list[CardSecret] = []
    for line in lines:
        if not line.strip():
            continue
        number, _, pin = line.replace("\t", ",").partition(",")
        try:
            found.append(CardSecret.of(number, pin))
        except ValidationFailed:
            raise ValidationFailed({"lines": "invalid_line"}) from None
    if not found:
        raise ValidationFailed({"lines": "required"})
    return found
