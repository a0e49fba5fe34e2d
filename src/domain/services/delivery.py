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
from domain.codepool import CardSecret
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.money import Money
from domain.operations import Nudges
from domain.orders import Order, OrderStatus
from domain.ports import BackgroundJobs, Clock, CodeVault, UnitOfWork, UnitOfWorkFactory
from domain.redemption import DeliveredUnit, content_binding, new_token, token_binding, token_hash
from domain.services.sourcing import Sourcing

# A paid order not delivered after this long has lost its message (or its worker): send it again (and
# again, backing off, while it stays undelivered).
REDELIVER_AFTER = timedelta(seconds=5)


class NothingToFulfil(DomainError):
    code = "nothing_to_fulfil"


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

        The pool goes first (codes reserved at placement); what it could not fill goes to the product's upstream
        sources, if it has any — outside any transaction, since they answer over the network."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None or order.attention is not None:
                return  # waiting for staff
            upstream = self.sourcing is not None and any(
                not source.is_pool for source in await uow.suppliers.sources(order.product_id)
            )
            if order.status is OrderStatus.PAID:
                if order.pooled:
                    await self._from_pool(uow, order, now, Actor.system(), more_to_come=upstream)
                elif upstream:
                    order.start_delivery(now)
                else:
                    order.wait_for_fulfilment(now)
                await uow.orders.save(order)
                await uow.commit()
            elif not (upstream and order.status is OrderStatus.DELIVERING):
                return  # delivered, refunded …: nothing for a worker to do
        if upstream and self.sourcing is not None:
            await self.sourcing.fulfil(order_id, self.receive)
            async with self.uow(read_only=True) as uow:
                order = await uow.orders.get(order_id) or order
        await self._announce(order)

    async def receive(self, order_id: int, codes: Sequence[CardSecret], unit_cost: Money, source: str) -> Order:
        """Units an upstream source delivered for the order, stored like typed-in ones (sealed) and booked at the
        source's price; the timeline says which source it was."""
        now = self.clock.now()
        actor = Actor.upstream(source)
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is not None and order.status is OrderStatus.DELIVERED:
                return order  # received already, by a concurrent ask (the upstream's webhook beat its own answer)
            if order is None or order.status is not OrderStatus.DELIVERING:
                raise NothingToFulfil(f"order #{order_id} is not being delivered")
            codes = list(codes)[: order.undelivered_units]
            first = order.delivered_units + 1
            units = [self._unit(order, first + i, now, actor, content=code) for i, code in enumerate(codes)]
            await uow.deliveries.add(units)
            await _book_sale(uow, order, len(units), unit_cost * len(units), now, actor)
            order.record(now, "delivered_by_source", details={"source": source, "units": len(units)})
            order.units_delivered(len(units), now, actor.name)
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
        """After a delivery: the buyer's mail (when one is due), and the API caller's callback (when it gave one)."""
        if order.delivered_units and order.notification == "pending":
            await self.jobs.notify_buyer(order.id or 0)
        if order.calls_back:
            await self.jobs.call_back(order.id or 0)

    async def _from_pool(
        self, uow: UnitOfWork, order: Order, now: datetime, actor: Actor, *, more_to_come: bool = False
    ) -> None:
        """Sell what the order holds in the pool; `more_to_come`: upstream sources are asked for the rest."""
        if order.status is not OrderStatus.DELIVERING:
            order.start_delivery(now, actor.name)
        sold = await uow.codes.sell(order.holder, now)
        first = order.delivered_units + 1
        units = [self._unit(order, first + i, now, actor, code_id=code_id) for i, code_id in enumerate(sold)]
        await uow.deliveries.add(units)
        await _book_sale(uow, order, len(units), Money(await uow.codes.unit_costs(sold)), now, actor)
        if units and more_to_come:
            order.record(now, "delivered_by_source", details={"source": "pool", "units": len(units)})
        order.units_delivered(len(units), now, actor.name, more_to_come=more_to_come)

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
