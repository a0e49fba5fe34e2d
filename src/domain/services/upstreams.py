"""The merchant's upstream suppliers: other kaquan instances where it holds a reseller's API key (sealed like
codes), their catalogs synced into a mapping (what a product costs us there, whether it has stock), each
product's ordered sources — and the calls made to them, signed with that key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from domain.audit import Actor, AuditEntry
from domain.errors import NotFound, ValidationFailed
from domain.ports import AddressResolver, Clock, CodeVault, SupplierClient, UnitOfWorkFactory
from domain.services.outbound import checked_address
from domain.suppliers import (
    Listing,
    Source,
    Upstream,
    UpstreamOrder,
    UpstreamRefused,
    UpstreamUnavailable,
    buyable,
    parse_sources,
)
from domain.webhooks import is_secret

SYNC_EVERY = timedelta(minutes=10)


def secret_binding(upstream_name: str) -> str:
    return f"upstream:{upstream_name}:secret"


def webhook_binding(upstream_name: str) -> str:
    return f"upstream:{upstream_name}:webhook"


@dataclass(frozen=True, slots=True)
class Upstreams:
    uow: UnitOfWorkFactory
    vault: CodeVault
    client: SupplierClient
    clock: Clock
    resolver: AddressResolver
    allow_private: bool  # upstreams may be at loopback or private addresses (closed networks, tests)
    base_url: str = ""  # our own address: upstreams with a webhook secret call back to it (else they are polled)
    sync_every: timedelta = SYNC_EVERY  # upstreams' catalogs (prices, stock) are synced at least this often

    async def add(
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

    async def all(self) -> list[Upstream]:
        async with self.uow(read_only=True) as uow:
            return await uow.suppliers.all()

    async def get(self, upstream_id: int) -> Upstream:
        async with self.uow(read_only=True) as uow:
            upstream = await uow.suppliers.get(upstream_id)
        if upstream is None:
            raise NotFound(f"no upstream #{upstream_id}")
        return upstream

    async def sync(self, upstream_id: int, actor: Actor) -> list[Listing]:
        """The upstream's catalog at our prices there, replacing the last sync; raises UpstreamUnavailable."""
        upstream = await self.get(upstream_id)
        listings = await self._read(upstream)
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
        async with self.uow(read_only=True) as uow:
            due_ids = set(await uow.suppliers.due_for_sync(self.clock.now() - self.sync_every))
            due = [upstream for upstream in await uow.suppliers.all() if upstream.id in due_ids]
        failed = []
        for upstream in due:
            try:
                await self.catalog(upstream)
            except (UpstreamRefused, UpstreamUnavailable):
                failed.append(upstream.name)
        return failed

    async def catalog(self, upstream: Upstream) -> list[Listing]:
        """The upstream's catalog now (kept as its latest sync); raises UpstreamUnavailable or UpstreamRefused."""
        listings = await self._read(upstream)
        async with self.uow() as uow:
            await uow.suppliers.replace_listings(upstream.id or 0, listings, self.clock.now())
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
            sources = parse_sources(rows, {u.id for u in await uow.suppliers.all()})
            await uow.suppliers.set_sources(product_id, sources)
            details = {"sources": [f"{s.upstream_id or 'pool'}:{s.upstream_sku}" for s in sources]}
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "product.sources", product.sku, details))
            await uow.commit()
        return sources

    async def webhook_secret(self, upstream_id: int) -> str | None:
        """The secret the upstream signs its webhooks with (None: we hold none, and it does not call back)."""
        upstream = await self.get(upstream_id)
        if upstream.webhook_secret is None:
            return None
        return self.vault.open(upstream.webhook_secret, binding=webhook_binding(upstream.name)).decode()

    async def order(
        self, upstream: Upstream, out_trade_no: str, sku: str, quantity: int, recharge_account: str
    ) -> UpstreamOrder:
        """An order placed there under our name for it (see SupplierClient.order); it calls back to us when it
        can."""
        return await self.client.order(
            upstream, self._secret(upstream), out_trade_no, sku, quantity, recharge_account,
            upstream.callback_url(self.base_url),
        )  # fmt: skip

    async def find(self, upstream: Upstream, out_trade_no: str) -> UpstreamOrder | None:
        """Our order there by the name it was placed under (None: it has none)."""
        return await self.client.find(upstream, self._secret(upstream), out_trade_no)

    async def _read(self, upstream: Upstream) -> list[Listing]:
        return buyable(await self.client.catalog(upstream, self._secret(upstream)))

    def _secret(self, upstream: Upstream) -> str:
        return self.vault.open(upstream.secret, binding=secret_binding(upstream.name)).decode()
