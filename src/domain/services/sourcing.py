"""Fulfilment from upstream suppliers: the merchant's upstreams (their keys sealed like codes), their catalogs
synced into a mapping, each product's ordered sources, and — for an order the pool could not fill — asking
each source in turn until one delivers.

Every upstream order is named by our order number and the source's position, and recorded before it is
sent: after a timeout, a crash or a lost answer, the same upstream is asked about that name before anything
is ordered again, so a timeout never buys twice. A source falls through to the next one when it is passed over
(not in its catalog, dearer than the ceiling), refuses (out of stock, no balance), or fails outright. While an
upstream order is open (placed, not settled) nothing else buys those units, no refund and no delivery by hand
happens — until staff abandon it; codes it sends after that go into the product's own pool, never lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from domain.audit import Actor, AuditEntry
from domain.codepool import Batch, CardSecret, OutOfStock, binding
from domain.errors import NotFound, ValidationFailed
from domain.money import Money
from domain.operations import Nudges
from domain.orders import Order, OrderStatus
from domain.ports import (
    AddressResolver,
    BackgroundJobs,
    Clock,
    CodeVault,
    SupplierClient,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.pricing import parse_price
from domain.services.outbound import checked_address
from domain.suppliers import (
    OPEN,
    SKU_MAX,
    Listing,
    NotSourcedAgain,
    PlacedUpstream,
    Source,
    Upstream,
    UpstreamOrder,
    UpstreamOrderClosed,
    UpstreamOrderOpen,
    UpstreamRefused,
    UpstreamStatus,
    UpstreamUnavailable,
    passed_over,
)
from domain.webhooks import is_secret

MAX_SOURCES = 5
REASON_MAX = 200
# An upstream order left without an answer (timed out in flight, or still processing there) is asked about
# again after this long, by the sweeper, if no webhook came first.
ASK_AGAIN_AFTER = timedelta(seconds=10)
# An upstream saying it has no order by our name is believed (nothing was made: the next source may buy) only
# this many supplier timeouts after the order was asked for: sooner, the request may still be running there — ours
# gave up, or a proxy between answered 502/504, while the upstream goes on to make it.
MADE_WITHIN_TIMEOUTS = 3
MADE_WITHIN = timedelta(seconds=MADE_WITHIN_TIMEOUTS * 10)  # for the default supplier timeout (10 s)
SYNC_EVERY = timedelta(minutes=10)
# Still waiting for these: no other source is asked meanwhile.
IN_HAND = frozenset({UpstreamStatus.ORDERING, UpstreamStatus.PROCESSING})
# Orders staff can send to their sources again: every source failed (they own the order meanwhile).
ENDED_SHORT = frozenset({OrderStatus.FAILED, OrderStatus.PARTIALLY_DELIVERED})


class Outlet(Protocol):
    """Where what a source delivers goes: the order's delivery (domain.services.delivery.Delivery)."""

    async def receive(
        self, order_id: int, upstream_id: int, out_trade_no: str, codes: Sequence[CardSecret], unit_cost: Money,
        source: str,
    ) -> Order | None:  # fmt: skip
        """Codes an upstream order sent: the ones not taken before go on the order as far as it owes them, the rest
        into the product's pool (see `pool_codes`)."""
        ...

    async def from_pool(self, order_id: int) -> Order | None:
        """The pool's turn: what it has (up to what the order still owes) is delivered; the order stays delivering
        if that was not all."""
        ...


async def hold_stock(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """At placement: the order's codes are reserved in the pool, all or none (OutOfStock) — unless the product
    has upstream sources: then what the pool has is held if the pool is the first source (else its codes are
    taken when its turn comes, and not at all when it is not one of the sources), and the others are asked for
    the rest."""
    if not order.pooled:
        return
    sources = await uow.suppliers.sources(order.product_id)
    if not any(not source.is_pool for source in sources):
        await uow.codes.reserve(order.product_id, order.quantity, order.holder, now)
    elif sources[0].is_pool:
        await uow.codes.reserve_up_to(order.product_id, order.quantity, order.holder, now)


async def hold_stock_again(uow: UnitOfWork, order: Order, now: datetime) -> bool:
    """补单 (paid after it expired or was cancelled): whether the order can be delivered. From the pool alone: all
    units reserved again, or none. With upstream sources: it can — they are asked for what the pool (held as at
    placement) does not have."""
    sources = await uow.suppliers.sources(order.product_id)
    if any(not source.is_pool for source in sources):
        held = await uow.codes.reserve_up_to(order.product_id, order.quantity, order.holder, now) if (
            order.pooled and sources[0].is_pool
        ) else []  # fmt: skip
        order.record(now, "sources_asked_again", details={"units": len(held)} if held else {})
        return True
    try:
        await uow.codes.reserve(order.product_id, order.quantity, order.holder, now)
    except OutOfStock:
        await uow.codes.release(order.holder, now)
        return False
    order.record(now, "stock_reserved_again")
    return True


async def check_nothing_open_upstream(uow: UnitOfWork, order_id: int) -> None:
    """Raises UpstreamOrderOpen while an order placed upstream for it may still deliver (staff abandon it first)."""
    still_open = [placed for placed in await uow.suppliers.upstream_orders(order_id) if placed.is_open]
    if still_open:
        raise UpstreamOrderOpen(
            f"{still_open[0].out_trade_no} is still open upstream", out_trade_no=still_open[0].out_trade_no
        )


async def pool_codes(
    uow: UnitOfWork,
    vault: CodeVault,
    order: Order,
    out_trade_no: str,
    codes: Sequence[CardSecret],
    unit_cost: Money,
    source: str,
    now: datetime,
) -> int:
    """Codes an upstream sent that no order waits for (its order there was abandoned, or ours owes nothing more):
    bought all the same, so they go into the product's pool as available stock, a batch at the price paid; the
    order's timeline says so. Returns how many went in (one the pool has already is not added twice)."""
    by = f"upstream:{source}"
    batch = await uow.codes.add_batch(Batch(order.product_id, by[:60], unit_cost, by[:64], now, None, len(codes)))
    sealed = []
    for code in codes:
        fingerprint = vault.fingerprint(code.number)
        sealed.append((fingerprint, vault.seal(code.plaintext(), binding=binding(order.product_id, fingerprint))))
    added = await uow.codes.add_codes(batch, sealed, now)
    await uow.codes.set_batch_total(batch.id or 0, added)
    details = {"source": source, "units": added, "out_trade_no": out_trade_no}
    order.record(now, "upstream_codes_pooled", by[:64], details)
    return added


async def sellable_counts(uow: UnitOfWork, product_ids: Sequence[int]) -> dict[int, int]:
    """Units buyers may order now: the pool's (when the pool is one of the product's sources), plus what its
    upstream sources had at their last sync within their cost ceilings (a product with an empty pool is not sold
    out while an upstream has it)."""
    if not product_ids:
        return {}
    pool = await uow.codes.available_counts(product_ids)
    for product_id in await uow.suppliers.pool_unlisted(product_ids):
        pool.pop(product_id, None)
    upstream = await uow.suppliers.upstream_stock(product_ids)
    return {pid: pool.get(pid, 0) + upstream.get(pid, 0) for pid in set(pool) | set(upstream)}


def secret_binding(upstream_name: str) -> str:
    return f"upstream:{upstream_name}:secret"


def webhook_binding(upstream_name: str) -> str:
    return f"upstream:{upstream_name}:webhook"


@dataclass(frozen=True, slots=True)
class Sourcing:
    uow: UnitOfWorkFactory
    vault: CodeVault
    client: SupplierClient
    jobs: BackgroundJobs
    clock: Clock
    resolver: AddressResolver
    allow_private: bool  # upstreams may be at loopback or private addresses (closed networks, tests)
    base_url: str = ""  # our own address: upstreams with a webhook secret call back to it (else they are polled)
    sync_every: timedelta = SYNC_EVERY  # upstreams' catalogs (prices, stock) are synced at least this often
    made_within: timedelta = MADE_WITHIN  # see MADE_WITHIN
    _nudges: Nudges = field(
        default_factory=lambda: Nudges(first=ASK_AGAIN_AFTER, most=timedelta(minutes=30)), compare=False, repr=False
    )

    # ---- the merchant's side ----

    async def add_upstream(
        self, name: str, base_url: str, key_id: str, secret: str, webhook_secret: str, actor: Actor
    ) -> Upstream:
        """An upstream where the merchant holds an API key (made in the upstream's reseller portal). Its host must
        resolve, and only to public addresses unless the merchant allows private ones (as for callbacks)."""
        name, url = Upstream.check(name, base_url, key_id, secret)
        if webhook_secret.strip() and not is_secret(webhook_secret.strip()):
            raise ValidationFailed({"webhook_secret": "invalid_webhook_secret"})
        await checked_address(self.resolver, url, allow_private=self.allow_private, field="base_url")
        now = self.clock.now()
        upstream = Upstream(
            name=name,
            base_url=url,
            key_id=key_id.strip(),
            secret=self.vault.seal(secret.strip().encode(), binding=secret_binding(name)),
            webhook_secret=(
                self.vault.seal(webhook_secret.strip().encode(), binding=webhook_binding(name))
                if webhook_secret.strip()
                else None
            ),
            created_at=now,
        )
        async with self.uow() as uow:
            upstream = await uow.suppliers.add(upstream)
            details = {"upstream": upstream.id, "base_url": url, "key_id": upstream.key_id}
            await uow.audit.record(AuditEntry(now, actor, "upstream.create", name, details))
            await uow.commit()
        return upstream

    async def upstreams(self) -> list[Upstream]:
        async with self.uow(read_only=True) as uow:
            return await uow.suppliers.all()

    async def upstream(self, upstream_id: int) -> Upstream:
        async with self.uow(read_only=True) as uow:
            upstream = await uow.suppliers.get(upstream_id)
        if upstream is None:
            raise NotFound(f"no upstream #{upstream_id}")
        return upstream

    async def sync(self, upstream_id: int, actor: Actor) -> list[Listing]:
        """The upstream's catalog at our prices there, replacing the last sync; raises UpstreamUnavailable."""
        upstream = await self.upstream(upstream_id)
        listings = await self.client.catalog(upstream, self._secret(upstream))
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.suppliers.replace_listings(upstream_id, listings, now)
            details = {"upstream": upstream_id, "products": len(listings)}
            await uow.audit.record(AuditEntry(now, actor, "upstream.sync", upstream.name, details))
            await uow.commit()
        return listings

    async def sync_due(self) -> list[str]:
        """The scheduled sync: every upstream not synced for `sync_every` (never, say) is synced now, so prices
        held to a ceiling and the stock buyers see follow the upstream. Returns the names of those that could not
        be reached (tried again next time)."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            due_ids = set(await uow.suppliers.due_for_sync(now - self.sync_every))
            due = [upstream for upstream in await uow.suppliers.all() if upstream.id in due_ids]
        failed = []
        for upstream in due:
            try:
                await self._store_listings(upstream, await self.client.catalog(upstream, self._secret(upstream)), now)
            except (UpstreamRefused, UpstreamUnavailable):
                failed.append(upstream.name)
        return failed

    async def listings(self, upstream_id: int | None = None) -> list[Listing]:
        async with self.uow(read_only=True) as uow:
            return await uow.suppliers.listings(upstream_id)

    async def sources(self, product_id: int) -> list[Source]:
        async with self.uow(read_only=True) as uow:
            return await uow.suppliers.sources(product_id)

    async def set_sources(self, product_id: int, rows: Sequence[tuple[str, str, str]], actor: Actor) -> list[Source]:
        """The product's sources in order, each ("pool" | an upstream's id, its SKU there, a cost ceiling or "").
        Empty rows are dropped; no rows at all: the product's own pool only, as before any upstream existed."""
        async with self.uow() as uow:
            product = await uow.products.get(product_id)
            if product is None:
                raise NotFound(f"no product #{product_id}")
            known = {u.id for u in await uow.suppliers.all()}
            sources = _sources(rows, known)
            await uow.suppliers.set_sources(product_id, sources)
            details = {"sources": [f"{s.upstream_id or 'pool'}:{s.upstream_sku}" for s in sources]}
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "product.sources", product.sku, details))
            await uow.commit()
        return sources

    # ---- delivery ----

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

    async def upstream_called_back(self, upstream_id: int, out_trade_no: str) -> None:
        """An upstream's webhook (signature checked by the caller) names one of our orders there: deliver it. One
        staff abandoned is asked about here and now, its codes going to the pool (an upstream that cannot be
        asked gets an error and calls back again)."""
        async with self.uow(read_only=True) as uow:
            placed = await uow.suppliers.upstream_order(upstream_id, out_trade_no)
        if placed is None:
            raise NotFound(f"no order placed upstream as {out_trade_no}")
        if placed.abandoned_at is None:
            await self.jobs.deliver_order(placed.order_id)
        elif placed.status in OPEN:
            await self._settle_abandoned(placed)

    async def abandon(self, order_id: int, upstream_order_id: int, reason: str, actor: Actor) -> Order:
        """Staff stop waiting for an open upstream order: it is not asked about any more, and the order waits for
        them (refund, deliver by hand, or send it to its sources again). Codes it sends after all — asked once more
        right now, or named by its webhook later — go into the product's pool: they were paid for."""
        reason = _reason(reason)
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
            await self._settle_abandoned(replace(placed, abandoned_at=now))
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

    async def webhook_secret(self, upstream_id: int) -> str | None:
        upstream = await self.upstream(upstream_id)
        if upstream.webhook_secret is None:
            return None
        return self.vault.open(upstream.webhook_secret, binding=webhook_binding(upstream.name)).decode()

    async def _passed_over(self, source: Source, upstream: Upstream, listing: Listing | None) -> str | None:
        """Why not to ask this source (None: ask it). A source with a cost ceiling is held to the upstream's price
        now, read from its catalog just before buying (the last sync may be minutes old); a catalog that cannot be
        read makes the price unknown, and nothing is bought there."""
        if source.cost_ceiling is not None:
            try:
                fresh = await self.client.catalog(upstream, self._secret(upstream))
            except (UpstreamRefused, UpstreamUnavailable):
                return "price_unknown"
            await self._store_listings(upstream, fresh, self.clock.now())
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
            answer = await self.client.order(
                upstream, self._secret(upstream), out_trade_no, source.upstream_sku, order.undelivered_units,
                order.recharge_account, upstream.callback_url(self.base_url),
            )  # fmt: skip
        except UpstreamRefused as refused:
            return await self._failed(order, upstream, out_trade_no, refused.reason)
        except UpstreamUnavailable as failed:
            if not failed.in_flight:  # never reached it: nothing was made
                return await self._failed(order, upstream, out_trade_no, "unavailable")
            await self._record(order, upstream, out_trade_no, UpstreamStatus.ORDERING, error="no_answer")
            return UpstreamStatus.ORDERING
        if source.above_ceiling(answer.unit_price):  # its price rose between the catalog and the order
            details = {"source": upstream.name, "out_trade_no": out_trade_no, "amount": answer.unit_price.minor}
            await self._note(order.id or 0, "charged_above_ceiling", details)
        return await self._take(order, upstream, out_trade_no, answer, outlet, UpstreamStatus.ORDERING)

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
            answer = await self.client.find(upstream, self._secret(upstream), earlier.out_trade_no)
        except (UpstreamRefused, UpstreamUnavailable):
            await self._record(order, upstream, earlier.out_trade_no, earlier.status, error="no_answer")
            return earlier.status
        if answer is None:
            if not self._made_nothing(earlier):
                await self._record(order, upstream, earlier.out_trade_no, earlier.status, error="not_found")
                return earlier.status
            return await self._failed(order, upstream, earlier.out_trade_no, "not_made")
        return await self._take(order, upstream, earlier.out_trade_no, answer, outlet, earlier.status)

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
        before: UpstreamStatus,
    ) -> UpstreamStatus:
        """The upstream's answer about an order there: codes it sent (all, or some of a partial delivery) are
        received on our order (those taken before are not taken again)."""
        if answer.codes:
            await outlet.receive(
                order.id or 0, upstream.id or 0, out_trade_no, answer.codes, answer.unit_price, upstream.name
            )
        await self._record(order, upstream, out_trade_no, answer.status, answer=answer)
        if answer.status is UpstreamStatus.FAILED:
            await self._note(order.id or 0, "source_failed", {"source": upstream.name, "reason": "failed_upstream"})
        elif answer.status is UpstreamStatus.STALLED and before is not UpstreamStatus.STALLED:
            details = {"source": upstream.name, "out_trade_no": out_trade_no, "units": len(answer.codes)}
            await self._note(order.id or 0, "source_stalled", details)
        return answer.status

    async def _settle_abandoned(self, placed: PlacedUpstream) -> None:
        """An abandoned upstream order asked about once more: codes it sent that were not taken yet go to the
        product's pool. Raises UpstreamUnavailable or UpstreamRefused when it cannot be asked."""
        async with self.uow(read_only=True) as uow:
            upstream = await uow.suppliers.get(placed.upstream_id)
        if upstream is None:
            return
        answer = await self.client.find(upstream, self._secret(upstream), placed.out_trade_no)
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(placed.order_id)  # locked, as a delivery locks it
            current = await uow.suppliers.upstream_order(placed.upstream_id, placed.out_trade_no)
            if order is None or current is None:
                return
            if answer is None:
                if not self._made_nothing(current):
                    return  # it may be making it still: its webhook asks again
                settled = replace(current, status=UpstreamStatus.FAILED, updated_at=now, error="not_made")
            else:
                if fresh := list(answer.codes)[current.received :]:
                    await uow.suppliers.count_received(current.id or 0, current.received + len(fresh))
                    await pool_codes(
                        uow, self.vault, order, placed.out_trade_no, fresh, answer.unit_price, upstream.name, now
                    )  # fmt: skip
                    await uow.orders.save(order)
                settled = replace(
                    current, status=answer.status, updated_at=now, upstream_order_no=answer.order_no,
                    unit_cost=answer.unit_price, error="",
                )  # fmt: skip
            await uow.suppliers.record_upstream_order(settled)
            await uow.commit()

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
            if known is not None and known.status is UpstreamStatus.DELIVERED and status is not known.status:
                return  # another ask (a webhook's, say) saw it delivered meanwhile: a late timeout does not undo that
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

    async def _store_listings(self, upstream: Upstream, listings: Sequence[Listing], now: datetime) -> None:
        async with self.uow() as uow:
            await uow.suppliers.replace_listings(upstream.id or 0, listings, now)
            await uow.commit()

    def _secret(self, upstream: Upstream) -> str:
        return self.vault.open(upstream.secret, binding=secret_binding(upstream.name)).decode()


def _reason(text: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "required"})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": "too_long"})
    return reason


def _sources(rows: Sequence[tuple[str, str, str]], known: set[int | None]) -> list[Source]:
    sources: list[Source] = []
    for which, sku, ceiling in rows:
        if not which.strip():
            continue
        if which.strip() == "pool":
            sources.append(Source(len(sources) + 1))
            continue
        if not which.strip().isdecimal() or int(which) not in known:
            raise ValidationFailed({"upstream_id": "invalid_choice"})
        if not sku.strip():
            raise ValidationFailed({"upstream_sku": "required"})
        if len(sku.strip()) > SKU_MAX:
            raise ValidationFailed({"upstream_sku": "too_long"})
        limit = parse_price(ceiling, "cost_ceiling") if ceiling.strip() else None
        sources.append(Source(len(sources) + 1, int(which), sku.strip().upper(), limit))
    if len(sources) > MAX_SOURCES:
        raise ValidationFailed({"upstream_id": "too_many"})
    if len({(s.upstream_id, s.upstream_sku) for s in sources}) < len(sources):
        raise ValidationFailed({"upstream_id": "duplicate_source"})
    return sources
