"""Fulfilment from upstream suppliers: for an order the pool could not fill, asking each of the product's sources
in turn (see domain.services.upstreams for the upstreams themselves) until one delivers.

Every upstream order is named by our order number and the source's position, and recorded before it is
sent: after a timeout, a crash or a lost answer, the same upstream is asked about that name before anything
is ordered again, so a timeout never buys twice. A source falls through to the next one when it is passed over
(not in its catalog, dearer than the ceiling), refuses (out of stock, no balance), fails outright, or answers in
another currency than ours. While an upstream order is open (placed, not settled) nothing else buys those units,
no refund and no delivery by hand happens — until staff abandon it (domain.services.upstream_desk); codes it sends
after that go into the product's own pool, never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

from domain.codepool import CardSecret
from domain.errors import NotFound
from domain.money import Money
from domain.operations import Nudges
from domain.orders import Order, OrderStatus
from domain.ports import BackgroundJobs, Clock, UnitOfWorkFactory
from domain.services.upstreams import Upstreams
from domain.suppliers import (
    NOT_MADE,
    OPEN,
    OTHER_CURRENCY,
    Listing,
    PlacedUpstream,
    Source,
    Upstream,
    UpstreamOrder,
    UpstreamRefused,
    UpstreamStatus,
    UpstreamUnavailable,
    passed_over,
)

# An upstream order left without an answer (timed out in flight, or still processing there) is asked about
# again after this long, by the sweeper, if no webhook came first.
ASK_AGAIN_AFTER = timedelta(seconds=10)
# An upstream saying it has no order by our name is believed (nothing was made: the next source may buy) only
# this many supplier timeouts after the order was asked for: sooner, the request may still be running there — ours
# gave up, or a proxy between answered 502/504, while the upstream goes on to make it.
MADE_WITHIN_TIMEOUTS = 3
MADE_WITHIN = timedelta(seconds=MADE_WITHIN_TIMEOUTS * 10)  # for the default supplier timeout (10 s)
# Still waiting for these: no other source is asked meanwhile.
IN_HAND = frozenset({UpstreamStatus.ORDERING, UpstreamStatus.PROCESSING})


class Outlet(Protocol):
    """Where what a source delivers goes: the order's delivery (domain.services.delivery.Delivery)."""

    async def receive(
        self, order_id: int, upstream_id: int, out_trade_no: str, codes: Sequence[CardSecret], unit_cost: Money,
        source: str,
    ) -> Order | None:  # fmt: skip
        """Codes an upstream order sent: the ones not taken before go on the order as far as it owes them, the rest
        into the product's pool (see sourced_stock.pool_codes)."""
        ...

    async def from_pool(self, order_id: int) -> Order | None:
        """The pool's turn: what it has (up to what the order still owes) is delivered; the order stays delivering
        if that was not all."""
        ...


@dataclass(frozen=True, slots=True)
class Sourcing:
    uow: UnitOfWorkFactory
    upstreams: Upstreams
    jobs: BackgroundJobs
    clock: Clock
    made_within: timedelta = MADE_WITHIN  # see MADE_WITHIN
    _nudges: Nudges = field(
        default_factory=lambda: Nudges(first=ASK_AGAIN_AFTER, most=timedelta(minutes=30)), compare=False, repr=False
    )

    async def fulfil(self, order_id: int, outlet: Outlet) -> None:
        """First settle what upstreams still hold for the order (whatever its status: late codes are never lost),
        by what it was placed as and only by asking; then, while it is being delivered and owes units, ask its
        sources in order (the own pool where it stands among them) until one delivers. Stops (the order stays
        delivering) while an upstream has it in hand or cannot say whether it has: its webhook, or the sweeper,
        comes back. An upstream that ended short and keeps our money for the rest leaves the order to staff."""
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                return
            sources = await uow.suppliers.sources(order.product_id)
            placed = await uow.suppliers.upstream_orders(order_id)
            upstreams = {u.id: u for u in await uow.suppliers.all()}
            listings = {(item.upstream_id, item.sku): item for item in await uow.suppliers.listings()}
            round_ = await uow.suppliers.sourcing_round(order_id)
        settled = [
            await self._settle(order, upstream, earlier, outlet)
            for earlier in placed
            if earlier.is_open and (upstream := upstreams.get(earlier.upstream_id)) is not None
        ]
        if any(status in IN_HAND for status in settled):
            return
        if UpstreamStatus.STALLED in settled:
            return await self._give_up(order_id)
        tried = {(p.upstream_id, p.out_trade_no) for p in placed}
        for source in sources:
            order = await self._owing(order_id)
            if order is None:
                return
            if source.is_pool:
                if order.pooled:
                    await outlet.from_pool(order_id)
                continue
            upstream = upstreams.get(source.upstream_id)
            if upstream is None or (upstream.id, source.out_trade_no(order.number, round_)) in tried:
                continue  # settled above, or failed before in this round
            if reason := await self._passed_over(source, upstream, listings.get((upstream.id, source.upstream_sku))):
                await self._note(order_id, "source_skipped", {"source": upstream.name, "reason": reason})
                continue
            status = await self._ask(order, source, upstream, round_, outlet)
            if status in IN_HAND:
                return  # in the upstream's hands: nothing to ask the next source yet
            if status is UpstreamStatus.STALLED:
                break  # it keeps our money for the rest: staff decide
        await self._give_up(order_id)

    async def sweep(self) -> int:
        """Orders an upstream holds without an answer (webhooks get lost), or that a dying worker left between
        steps, go back to the workers — backing off per order, so a slow upstream is not asked every few seconds."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            waiting = await uow.suppliers.waiting(now - ASK_AGAIN_AFTER, limit=200)
        return await self._nudges.send_due(waiting, now, self.jobs.deliver_order)

    async def upstream_called_back(self, upstream_id: int, out_trade_no: str, outlet: Outlet) -> None:
        """An upstream's webhook (signature checked by the caller) names one of our orders there: deliver it. One
        believed never made is asked about again by that delivery (the upstream made it very late). One staff
        abandoned is asked about here and now, its codes going to the pool (an upstream that cannot be asked gets
        an error and calls back again)."""
        async with self.uow(read_only=True) as uow:
            placed = await uow.suppliers.upstream_order(upstream_id, out_trade_no)
        if placed is None:
            raise NotFound(f"no order placed upstream as {out_trade_no}")
        if placed.abandoned_at is not None:
            if placed.status in OPEN:
                await self.settle_abandoned(placed, outlet)
            return
        if placed.believed_unmade:
            await self._ask_again(placed)
        await self.jobs.deliver_order(placed.order_id)

    async def settle_abandoned(self, placed: PlacedUpstream, outlet: Outlet) -> None:
        """An upstream order staff abandoned, asked about once more: codes it sent that were not taken yet go to
        the product's pool (the outlet pools what an abandoned order sends). Raises UpstreamUnavailable or
        UpstreamRefused when it cannot be asked."""
        async with self.uow(read_only=True) as uow:
            upstream = await uow.suppliers.get(placed.upstream_id)
            order = await uow.orders.get(placed.order_id)
            current = await uow.suppliers.upstream_order(placed.upstream_id, placed.out_trade_no)
        if upstream is None or order is None or current is None:
            return
        answer = await self.upstreams.find(upstream, placed.out_trade_no)
        if answer is not None:
            await self._take(order, upstream, placed.out_trade_no, answer, outlet, before=None)
        elif self._made_nothing(current):
            await self._record(order, upstream, placed.out_trade_no, UpstreamStatus.FAILED, error=NOT_MADE)
        # else it may be making it still: its webhook asks again

    async def _ask_again(self, placed: PlacedUpstream) -> None:
        """An upstream order believed never made, named by its upstream's webhook after all: waited for again, as one
        without an answer, so the delivery the webhook nudges asks about it — its codes are taken, or pooled when
        the order no longer needs them; an upstream that still has none leaves it failed, as before."""
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.orders.get(placed.order_id)  # locked, as a claim locks it: no source is sent an order meanwhile
            current = await uow.suppliers.upstream_order(placed.upstream_id, placed.out_trade_no)
            if current is None or not current.believed_unmade:
                return
            await uow.suppliers.record_upstream_order(
                replace(current, status=UpstreamStatus.ORDERING, updated_at=now, error="")
            )
            await uow.commit()

    async def _passed_over(self, source: Source, upstream: Upstream, listing: Listing | None) -> str | None:
        """Why not to ask this source (None: ask it). A source with a cost ceiling is held to the upstream's price
        now, read from its catalog just before buying (the last sync may be minutes old); a catalog that cannot be
        read makes the price unknown, and nothing is bought there."""
        if source.cost_ceiling is not None:
            try:
                fresh = await self.upstreams.catalog(upstream)
            except (UpstreamRefused, UpstreamUnavailable):
                return "price_unknown"
            listing = next((item for item in fresh if item.sku == source.upstream_sku), None)
        return passed_over(source, listing)

    async def _ask(
        self, order: Order, source: Source, upstream: Upstream, round_: int, outlet: Outlet
    ) -> UpstreamStatus:
        """A new order at this source, recorded before it is sent. A refusal (4xx) made nothing: the next source
        may buy. No answer at all may have made it: it waits to be settled by asking (`_settle`)."""
        out_trade_no = source.out_trade_no(order.number, round_)
        claimed = await self._claim(order.id or 0, upstream, out_trade_no, round_)
        if not isinstance(claimed, Order):
            return claimed
        order = claimed
        try:
            answer = await self.upstreams.order(
                upstream, out_trade_no, source.upstream_sku, order.undelivered_units, order.recharge_account
            )
        except UpstreamRefused as refused:
            return await self._failed(order, upstream, out_trade_no, refused.reason)
        except UpstreamUnavailable as failed:
            if not failed.in_flight:  # never reached it: nothing was made
                return await self._failed(order, upstream, out_trade_no, "unavailable")
            await self._record(order, upstream, out_trade_no, UpstreamStatus.ORDERING, error="no_answer")
            return UpstreamStatus.ORDERING
        if not _foreign(order, answer) and source.above_ceiling(answer.unit_price):  # it rose since the catalog
            details = {"source": upstream.name, "out_trade_no": out_trade_no, "amount": answer.unit_price.minor}
            await self._note(order.id or 0, "charged_above_ceiling", details)
        return await self._take(order, upstream, out_trade_no, answer, outlet, before=UpstreamStatus.ORDERING)

    async def _claim(self, order_id: int, upstream: Upstream, out_trade_no: str, round_: int) -> Order | UpstreamStatus:
        """The order about to be placed at this source is recorded before it is sent — with the order locked, as
        staff actions lock it, so no refund or delivery by hand slips in between, and two runs (the sweeper's and a
        worker's, say) never both buy. Returns the order as it is now (what it owes now is what is ordered); or,
        when nothing is to be sent, the status to go on with: another run asked under this name first (its outcome
        stands) or has an order open at another source (waited for, as after a settle), or the order moved on
        meanwhile (settled, or sent to its sources again): someone else has it."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)  # locked
            if order is None or order.status is not OrderStatus.DELIVERING or not order.undelivered_units:
                return UpstreamStatus.ORDERING
            if await uow.suppliers.sourcing_round(order_id) != round_:
                return UpstreamStatus.ORDERING
            placed = await uow.suppliers.upstream_orders(order_id)
            if known := next(
                (p for p in placed if (p.upstream_id, p.out_trade_no) == (upstream.id, out_trade_no)), None
            ):
                return known.status
            if still_open := next((p for p in placed if p.is_open), None):
                return still_open.status
            claim = PlacedUpstream(order_id, upstream.id or 0, out_trade_no, order.undelivered_units,
                                   UpstreamStatus.ORDERING, now, now)  # fmt: skip
            await uow.suppliers.record_upstream_order(claim)
            order.record(now, "source_ordered", details={"source": upstream.name, "out_trade_no": out_trade_no})
            await uow.orders.add_events(order_id, order.new_events)
            await uow.commit()
        return order

    async def _settle(
        self, order: Order, upstream: Upstream, earlier: PlacedUpstream, outlet: Outlet
    ) -> UpstreamStatus:
        """An order placed upstream before, its answer lost or still to come: asked about by its out_trade_no.
        The upstream saying it has none — once it had time to make it (`_made_nothing`) — is the only thing that
        lets the next source buy; any other trouble in asking (down, rate limited, refused) keeps it waiting."""
        try:
            answer = await self.upstreams.find(upstream, earlier.out_trade_no)
        except (UpstreamRefused, UpstreamUnavailable):
            await self._record(order, upstream, earlier.out_trade_no, earlier.status, error="no_answer")
            return earlier.status
        if answer is None:
            if not self._made_nothing(earlier):
                await self._record(order, upstream, earlier.out_trade_no, earlier.status, error="not_found")
                return earlier.status
            return await self._failed(order, upstream, earlier.out_trade_no, NOT_MADE)
        return await self._take(order, upstream, earlier.out_trade_no, answer, outlet, before=earlier.status)

    def _made_nothing(self, placed: PlacedUpstream) -> bool:
        """Whether the upstream having no order under this name means none was made: only for one it never
        acknowledged (one it did answer about is not unmade by a later "none": staff look into it), and only once
        the request that may have made it had time to end there (`made_within`)."""
        return placed.status is UpstreamStatus.ORDERING and self.clock.now() - placed.created_at >= self.made_within

    async def _take(
        self,
        order: Order,
        upstream: Upstream,
        out_trade_no: str,
        answer: UpstreamOrder,
        outlet: Outlet,
        *,
        before: UpstreamStatus | None,
    ) -> UpstreamStatus:
        """The upstream's answer about an order there: codes it sent (all, or some of a partial delivery) are
        received on our order (those taken before are not taken again). `before`: its status as last known, for
        the timeline (None: staff abandoned it, nobody waits for it). One priced in another currency than the
        order is unusable: its cost could never be booked against the sale, so nothing of it is taken."""
        if _foreign(order, answer):
            return await self._failed(order, upstream, out_trade_no, OTHER_CURRENCY)
        if answer.codes:
            await outlet.receive(
                order.id or 0, upstream.id or 0, out_trade_no, answer.codes, answer.unit_price, upstream.name
            )
        await self._record(order, upstream, out_trade_no, answer.status, answer=answer)
        if before is None:
            return answer.status
        if answer.status is UpstreamStatus.FAILED:
            await self._note(order.id or 0, "source_failed", {"source": upstream.name, "reason": "failed_upstream"})
        elif answer.status is UpstreamStatus.STALLED and before is not UpstreamStatus.STALLED:
            details = {"source": upstream.name, "out_trade_no": out_trade_no, "units": len(answer.codes)}
            await self._note(order.id or 0, "source_stalled", details)
        return answer.status

    async def _failed(self, order: Order, upstream: Upstream, out_trade_no: str, reason: str) -> UpstreamStatus:
        await self._record(order, upstream, out_trade_no, UpstreamStatus.FAILED, error=reason)
        await self._note(order.id or 0, "source_failed", {"source": upstream.name, "reason": reason})
        return UpstreamStatus.FAILED

    async def _record(
        self,
        order: Order,
        upstream: Upstream,
        out_trade_no: str,
        status: UpstreamStatus,
        *,
        answer: UpstreamOrder | None = None,
        error: str = "",
    ) -> None:
        now = self.clock.now()
        async with self.uow() as uow:
            known = await uow.suppliers.upstream_order(upstream.id or 0, out_trade_no)
            if known is not None and status is not known.status and (
                known.status is UpstreamStatus.DELIVERED or (known.status is UpstreamStatus.FAILED and answer is None)
            ):  # fmt: skip
                return  # another ask (a webhook's, say) saw it settled meanwhile: a late no-answer does not undo that
            placed = PlacedUpstream(
                order_id=order.id or 0,
                upstream_id=upstream.id or 0,
                out_trade_no=out_trade_no,
                units=known.units if known else order.undelivered_units,
                status=status,
                created_at=known.created_at if known else now,
                updated_at=now,
                upstream_order_no=answer.order_no if answer else (known.upstream_order_no if known else ""),
                unit_cost=answer.unit_price if answer else (known.unit_cost if known else None),
                error=error,
            )
            await uow.suppliers.record_upstream_order(placed)
            await uow.commit()

    async def _note(self, order_id: int, kind: str, details: dict[str, str | int]) -> None:
        """A line on the order's timeline: which source was asked, skipped or failed, and why."""
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is not None:
                order.record(self.clock.now(), kind, details=details)
                await uow.orders.add_events(order_id, order.new_events)
                await uow.commit()

    async def _owing(self, order_id: int) -> Order | None:
        """The order, if it is being delivered and still owes units (else None: nothing more to ask for)."""
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.get(order_id)
        if order is None or order.status is not OrderStatus.DELIVERING or not order.undelivered_units:
            return None
        return order

    async def _give_up(self, order_id: int) -> None:
        """Every source was tried (or one keeps our money for the rest): the order ends partially delivered or
        failed, for staff to act on — unless an upstream has it in hand after all (another run of this delivery
        just ordered there): that one's answer, webhook or the sweeper come back to it."""
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            placed = await uow.suppliers.upstream_orders(order_id)
            if any(p.status in IN_HAND and p.abandoned_at is None for p in placed):
                return
            if order is not None and order.status is OrderStatus.DELIVERING and order.undelivered_units:
                order.units_delivered(0, self.clock.now())
                await uow.orders.save(order)
                await uow.commit()


def _foreign(order: Order, answer: UpstreamOrder) -> bool:
    """Priced in another currency than the order's (an upstream that changed its currency since the last sync)."""
    return answer.unit_price.currency != order.unit_price.currency
