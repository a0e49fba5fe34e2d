"""Stocking the code pool and taking codes out of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from domain.audit import Actor, AuditEntry
from domain.catalog import POOLED_KINDS, Product
from domain.codepool import Batch, BatchDetails, CardSecret, CodeState, Sealed, StockCounts, binding
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.ports import Clock, CodeVault, UnitOfWork, UnitOfWorkFactory
from domain.services.sourced_stock import sellable_counts

LOW_STOCK = 10  # the dashboard warns when an on-sale product has fewer codes than this


class NoCodePool(DomainError):
    """Top-up and manual products are fulfilled without codes; they have no pool to stock."""

    code = "no_code_pool"


def seal_secret(vault: CodeVault, product_id: int, secret: CardSecret) -> tuple[bytes, Sealed]:
    """A code as the pool stores it: its fingerprint, and its plaintext sealed to that product's row."""
    fingerprint = vault.fingerprint(secret.number)
    return fingerprint, vault.seal(secret.plaintext(), binding=binding(product_id, fingerprint))


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    duplicates_in_file: int
    duplicates_in_pool: int
    # (line number, problem code) for every line that could not be read as a code.
    rejected: list[tuple[int, str]] = field(default_factory=list)
    batch: Batch | None = None


@dataclass(frozen=True, slots=True)
class ProductStock:
    product: Product
    batches: list[tuple[Batch, StockCounts]]

    @property
    def counts(self) -> StockCounts:
        return StockCounts(*(sum(counts.of(state) for _, counts in self.batches) for state in CodeState))


@dataclass(frozen=True, slots=True)
class Stock:
    uow: UnitOfWorkFactory
    vault: CodeVault
    clock: Clock

    async def add_codes(
        self, product_id: int, lines: Iterable[tuple[int, str, str]], details: BatchDetails, actor: Actor
    ) -> ImportResult:
        """Seal and add (line number, card number, PIN) rows as one new batch, or nothing if none are new."""
        product = await self.pooled_product(product_id)
        seen: set[bytes] = set()
        sealed, rejected, in_file = [], [], 0
        for line, number, pin in lines:
            try:
                secret = CardSecret.of(number, pin)
            except ValidationFailed as problem:
                rejected.append((line, next(iter(problem.errors.values()))))
                continue
            fingerprint, item = seal_secret(self.vault, product_id, secret)
            if fingerprint in seen:
                in_file += 1
                continue
            seen.add(fingerprint)
            sealed.append((fingerprint, item))
        now = self.clock.now()
        async with self.uow() as uow:
            batch = await uow.codes.add_batch(
                Batch(product_id, details.source, details.unit_cost, actor.name, now, details.expires_at, len(sealed))
            )
            imported = await uow.codes.add_codes(batch, sealed, now)
            if imported:
                await uow.codes.set_batch_total(batch.id or 0, imported)
                await uow.audit.record(
                    AuditEntry(now, actor, "codes.import", product.sku, {"batch": batch.id, "imported": imported})
                )
                await uow.commit()
        kept = replace(batch, total=imported) if imported else None
        return ImportResult(imported, in_file, len(sealed) - imported, rejected, kept)

    async def reserve(self, product_id: int, quantity: int, holder: str) -> list[int]:
        """Hold `quantity` codes for `holder` (an order unit), all or none; raises OutOfStock."""
        if quantity < 1:
            raise ValidationFailed({"quantity": "must_be_positive"})
        async with self.uow() as uow:
            reserved = await uow.codes.reserve(product_id, quantity, holder, self.clock.now())
            await uow.commit()
        return reserved

    async def release(self, holder: str) -> int:
        async with self.uow() as uow:
            released = await uow.codes.release(holder, self.clock.now())
            await uow.commit()
        return released

    async def sell(self, holder: str) -> int:
        async with self.uow() as uow:
            sold = await uow.codes.sell(holder, self.clock.now())
            await uow.commit()
        return len(sold)

    async def freeze_expired(self) -> int:
        """Take codes past their batch's expiry out of sale (they are frozen, not lost: still counted)."""
        now = self.clock.now()
        async with self.uow() as uow:
            frozen = await uow.codes.freeze_expired(now)
            if frozen:
                await uow.audit.record(AuditEntry(now, Actor.system(), "codes.expired", "", {"frozen": frozen}))
            await uow.commit()
        return frozen

    async def running_low(self, below: int = LOW_STOCK, limit: int = 20) -> list[tuple[Product, int]]:
        """On-sale products delivered from the pool with fewer than `below` codes left, emptiest first."""
        async with self.uow(read_only=True) as uow:
            low = await uow.codes.running_low([kind.value for kind in POOLED_KINDS], below, limit)
            found = [(await uow.products.get(product_id), left) for product_id, left in low]
        return [(product, left) for product, left in found if product is not None]

    async def available(self, product_ids: list[int]) -> dict[int, int]:
        """Units in the code pool, per product (what staff manage here)."""
        async with self.uow(read_only=True) as uow:
            return await uow.codes.available_counts(product_ids) if product_ids else {}

    async def sellable(self, product_ids: list[int]) -> dict[int, int]:
        """Units buyers may order now: the pool's and the upstream sources' (see sourced_stock.sellable_counts)."""
        async with self.uow(read_only=True) as uow:
            return await sellable_counts(uow, product_ids)

    async def of_product(self, product_id: int) -> ProductStock:
        async with self.uow(read_only=True) as uow:
            product = await _product(uow, product_id)
            counts = await uow.codes.counts(product_id)
            batches = await uow.codes.batches(product_id)
        return ProductStock(product, [(batch, counts.get(batch.id or 0, StockCounts())) for batch in batches])

    async def pooled_product(self, product_id: int) -> Product:
        async with self.uow(read_only=True) as uow:
            product = await _product(uow, product_id)
        if not product.delivery_kind.pooled:
            raise NoCodePool(f"{product.sku} is delivered by {product.delivery_kind}, not from a code pool")
        return product


async def _product(uow: UnitOfWork, product_id: int) -> Product:
    product = await uow.products.get(product_id)
    if product is None:
        raise NotFound(f"no product #{product_id}")
    return product
