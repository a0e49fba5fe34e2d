"""Fulfilment from upstream suppliers: the merchant's upstreams (their keys sealed like codes), their catalogs
synced into a mapping, each product's ordered sources, and — for an order the pool could not fill — asking
each upstream source in turn until one delivers.

Every upstream order is named by our order number and the source's position, and recorded before it is
sent: after a timeout, a crash or a lost answer, the same upstream is asked about that name before anything
is ordered again, so a timeout never buys twice. A source falls through to the next one when it is passed over
(not in its catalog, dearer than the ceiling), refuses (out of stock, no balance), or fails outright.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.audit import Actor, AuditEntry
from domain.codepool import CardSecret, OutOfStock
from domain.errors import NotFound, ValidationFailed
from domain.money import Money
from domain.operations import Nudges
from domain.orders import Order, OrderStatus
from domain.ports import BackgroundJobs, Clock, CodeVault, SupplierClient, UnitOfWork, UnitOfWorkFactory
from domain.pricing import parse_price
from domain.suppliers import (
    SKU_MAX,
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
from domain.webhooks import is_secret

MAX_SOURCES = 5
# An upstream order left without an answer (timed out in flight, or still processing there) is asked about
# again after this long, by the sweeper, if no webhook came first.
ASK_AGAIN_AFTER = timedelta(seconds=10)

# Stores units that came from a source on the order: (order id, codes, unit cost, source's name) → the order.
Receive = Callable[[int, Sequence[CardSecret], Money, str], Awaitable[Order]]


async def hold_stock(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """At placement: the order's codes are reserved in the pool, all or none (OutOfStock) — unless the product
    has upstream sources: then what the pool has is held, and the upstreams are asked for the rest."""
    if not order.pooled:
        return
    try:
        await uow.codes.reserve(order.product_id, order.quantity, order.holder, now)
    except OutOfStock:
        if not any(not source.is_pool for source in await uow.suppliers.sources(order.product_id)):
            raise


async def sellable_counts(uow: UnitOfWork, product_ids: Sequence[int]) -> dict[int, int]:
    """Units buyers may order now: the pool's, plus what the product's upstream sources had at their last sync
    (a product with an empty pool is not sold out while an upstream has it)."""
    if not product_ids:
        return {}
    pool = await uow.codes.available_counts(product_ids)
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
    base_url: str = ""  # our own address: upstreams with a webhook secret call back to it (else they are polled)
    _nudges: Nudges = field(
        default_factory=lambda: Nudges(first=ASK_AGAIN_AFTER, most=timedelta(minutes=30)), compare=False, repr=False
    )

    # ---- the merchant's side ----

    async def add_upstream(
        self, name: str, base_url: str, key_id: str, secret: str, webhook_secret: str, actor: Actor
    ) -> Upstream:
        """An upstream where the merchant holds an API key (made in the upstream's reseller portal)."""
        name, url = Upstream.check(name, base_url, key_id, secret)
        if webhook_secret.strip() and not is_secret(webhook_secret.strip()):
            raise ValidationFailed({"webhook_secret": "invalid_webhook_secret"})
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

    async def fulfil(self, order_id: int, receive: Receive) -> None:
        """Ask the order's upstream sources, in order, for what it still owes, until one delivers. Orders placed
        upstream before are settled first, by what they were placed as (whatever the product's sources are now),
        and only asked about, never placed again. Stops (the order stays delivering) while an upstream has it in
        hand, or cannot say whether it has: its webhook, or the sweeper, comes back."""
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.get(order_id)
            if order is None or order.status is not OrderStatus.DELIVERING or not order.undelivered_units:
                return
            sources = [s for s in await uow.suppliers.sources(order.product_id) if not s.is_pool]
            placed = {(p.upstream_id, p.out_trade_no): p for p in await uow.suppliers.upstream_orders(order_id)}
            upstreams = {u.id: u for u in await uow.suppliers.all()}
            listings = {(item.upstream_id, item.sku): item for item in await uow.suppliers.listings()}
        open_ones = [p for p in placed.values() if p.status in (UpstreamStatus.ORDERING, UpstreamStatus.PROCESSING)]
        for earlier in open_ones:
            upstream = upstreams.get(earlier.upstream_id)
            if (
                upstream is not None
                and await self._settle(order, upstream, earlier, receive) is not UpstreamStatus.FAILED
            ):
                return
        for source in sources:
            upstream = upstreams.get(source.upstream_id)
            if upstream is None or (upstream.id, source.out_trade_no(order.number)) in placed:
                continue  # settled above, or failed before
            if reason := passed_over(source, listings.get((upstream.id, source.upstream_sku))):
                await self._note(order_id, "source_skipped", {"source": upstream.name, "reason": reason})
                continue
            if await self._ask(order, source, upstream, receive) is not UpstreamStatus.FAILED:
                return  # delivered, or in the upstream's hands: nothing to ask the next source yet
        await self._give_up(order_id)

    async def sweep(self) -> int:
        """Orders an upstream holds without an answer (webhooks get lost), or that a dying worker left between
        steps, go back to the workers — backing off per order, so a slow upstream is not asked every few seconds."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            waiting = await uow.suppliers.waiting(now - ASK_AGAIN_AFTER, limit=200)
        return await self._nudges.send_due(waiting, now, self.jobs.deliver_order)

    async def upstream_called_back(self, upstream_id: int, out_trade_no: str) -> None:
        """An upstream's webhook (signature checked by the caller) names one of our orders there: deliver it."""
        async with self.uow(read_only=True) as uow:
            order_id = await uow.suppliers.order_id_for(upstream_id, out_trade_no)
        if order_id is None:
            raise NotFound(f"no order placed upstream as {out_trade_no}")
        await self.jobs.deliver_order(order_id)

    async def webhook_secret(self, upstream_id: int) -> str | None:
        upstream = await self.upstream(upstream_id)
        if upstream.webhook_secret is None:
            return None
        return self.vault.open(upstream.webhook_secret, binding=webhook_binding(upstream.name)).decode()

    async def _ask(self, order: Order, source: Source, upstream: Upstream, receive: Receive) -> UpstreamStatus:
        """A new order at this source, recorded before it is sent. A refusal (4xx) made nothing: the next source
        may buy. No answer at all may have made it: it waits to be settled by asking (`_settle`)."""
        out_trade_no = source.out_trade_no(order.number)
        await self._record(order, upstream, out_trade_no, UpstreamStatus.ORDERING)
        await self._note(order.id or 0, "source_ordered", {"source": upstream.name, "out_trade_no": out_trade_no})
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
        return await self._take(order, upstream, out_trade_no, answer, receive)

    async def _settle(
        self, order: Order, upstream: Upstream, earlier: PlacedUpstream, receive: Receive
    ) -> UpstreamStatus:
        """An order placed upstream before, its answer lost or still to come: asked about by its out_trade_no.
        The upstream saying it has none is the only thing that lets the next source buy; any other trouble in
        asking (down, rate limited, refused) keeps it waiting."""
        try:
            answer = await self.client.find(upstream, self._secret(upstream), earlier.out_trade_no)
        except (UpstreamRefused, UpstreamUnavailable):
            await self._record(order, upstream, earlier.out_trade_no, earlier.status, error="no_answer")
            return earlier.status
        if answer is None:
            return await self._failed(order, upstream, earlier.out_trade_no, "not_made")
        return await self._take(order, upstream, earlier.out_trade_no, answer, receive)

    async def _take(
        self, order: Order, upstream: Upstream, out_trade_no: str, answer: UpstreamOrder, receive: Receive
    ) -> UpstreamStatus:
        """The upstream's answer about an order there: codes it delivered are received on our order."""
        if answer.status is UpstreamStatus.DELIVERED and answer.codes:
            await receive(order.id or 0, answer.codes, answer.unit_price, upstream.name)
        await self._record(order, upstream, out_trade_no, answer.status, answer=answer)
        if answer.status is UpstreamStatus.FAILED:
            await self._note(order.id or 0, "source_failed", {"source": upstream.name, "reason": "failed_upstream"})
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
            known = next(
                (p for p in await uow.suppliers.upstream_orders(order.id or 0) if p.out_trade_no == out_trade_no), None
            )
            if known is not None and known.status is UpstreamStatus.DELIVERED and status is not known.status:
                return  # another ask (a webhook's, say) saw it delivered meanwhile: a late timeout does not undo that
            placed = PlacedUpstream(
                order_id=order.id or 0,
                upstream_id=upstream.id or 0,
                out_trade_no=out_trade_no,
                units=order.undelivered_units,
                status=status,
                created_at=known.created_at if known else now,
                updated_at=now,
                upstream_order_no=answer.order_no if answer else (known.upstream_order_no if known else ""),
                unit_cost=answer.unit_price if answer else (known.unit_cost if known else None),
                error=error,
            )
            await uow.suppliers.record_upstream_order(placed)
            await uow.commit()

    async def _note(self, order_id: int, kind: str, details: dict[str, str]) -> None:
        """A line on the order's timeline: which source was asked, skipped or failed, and why."""
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is not None:
                order.record(self.clock.now(), kind, details=details)
                await uow.orders.add_events(order_id, order.new_events)
                await uow.commit()

    async def _give_up(self, order_id: int) -> None:
        """Every source was tried: the order ends partially delivered or failed, for staff to act on."""
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is not None and order.status is OrderStatus.DELIVERING and order.undelivered_units:
                order.units_delivered(0, self.clock.now())
                await uow.orders.save(order)
                await uow.commit()

    def _secret(self, upstream: Upstream) -> str:
        return self.vault.open(upstream.secret, binding=secret_binding(upstream.name)).decode()


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
